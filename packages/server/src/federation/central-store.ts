/**
 * The centre's copy of every site's records (issue 12): the newest version of each (site, kind,
 * key), removals kept as tombstones so a late older copy cannot bring a removed thing back.
 * Async, so PostgreSQL can hold it; implemented by sql-central-store.ts.
 */
import type { FleetKind, FleetRecord } from './fleet-record.ts';

export interface CentralRecord {
  site: string;
  kind: FleetKind;
  key: string;
  version: number;
  body: Record<string, unknown>;
  receivedAt: number;
}

export interface CentralSiteSummary {
  site: string;
  /** When the centre last received anything from the site (null: never). */
  lastReceivedAt: number | null;
  /** Records per kind (removed ones not counted). */
  counts: Partial<Record<FleetKind, number>>;
}

export interface CentralStore {
  /** Keeps `record` unless a version at least as new is stored; true when it was applied. */
  apply(record: FleetRecord, receivedAt: number): Promise<boolean>;
  /** The current records of `kind`, of one site or all, by site then key. */
  records(kind: FleetKind, site?: string): Promise<CentralRecord[]>;
  /** Per site that sent anything: when it last did, and how many records of each kind it has. */
  sites(): Promise<CentralSiteSummary[]>;
}
