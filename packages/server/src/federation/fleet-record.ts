/**
 * What a site sends its centre (issue 12, "many sites, one fleet"): the current state of one thing
 * — an asset, an alarm, a device, an incident, a point's recent level — keyed within its kind, and
 * versioned by when the site saw it so, so the centre keeps the newest whatever order copies arrive
 * in. A record with `removed` says the thing is gone at the site.
 *
 * Subjects: `fleet.<site>.<kind>`; the centre sources each site's `fleet.<site>.>` (bus/federation.ts).
 */
import { createHash } from 'node:crypto';

export const FLEET_KINDS = ['assets', 'alarms', 'devices', 'incidents', 'points'] as const;
export type FleetKind = (typeof FLEET_KINDS)[number];

export interface FleetRecord {
  readonly site: string;
  readonly kind: FleetKind;
  readonly key: string;
  /** When the site saw this state (ms since the epoch): the newest version wins. */
  readonly version: number;
  readonly removed?: true;
  readonly body?: Record<string, unknown>;
}

export function isFleetKind(v: unknown): v is FleetKind {
  return typeof v === 'string' && (FLEET_KINDS as readonly string[]).includes(v);
}

export function fleetSubject(site: string, kind: FleetKind): string {
  return `fleet.${site}.${kind}`;
}

/** Filters for everything a site lets flow. */
export function fleetFlowSubject(site: string): string {
  return `fleet.${site}.>`;
}

/**
 * One id per state sent: the same record sent twice (a retried publish) is the same message and
 * the bus drops the copy, while a state that comes back (A, B, then A again; removed, then back)
 * is a new version with a new id, so it is never taken for a copy.
 */
export function fleetRecordId(record: FleetRecord): string {
  const digest = createHash('sha256').update(JSON.stringify([record.kind, record.key, record.version, record.removed ?? false, record.body ?? null])).digest('hex').slice(0, 32);
  return `${record.kind}:${digest}`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeFleetRecord(record: FleetRecord): Uint8Array {
  return encoder.encode(JSON.stringify({ v: 1, ...record }));
}

const SITE = /^[a-z0-9][a-z0-9-]{0,30}$/;

/** Reads a record back; throws on anything else (the centre dead-letters it after its tries). */
export function decodeFleetRecord(payload: Uint8Array): FleetRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(decoder.decode(payload));
  } catch {
    throw new Error('a fleet record that is not JSON');
  }
  const o = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  if (o.v !== 1) throw new Error(`a fleet record of version ${String(o.v)}; this server reads version 1`);
  if (typeof o.site !== 'string' || !SITE.test(o.site)) throw new Error('a fleet record without a valid site id');
  if (!isFleetKind(o.kind)) throw new Error(`a fleet record of unknown kind ${String(o.kind)}`);
  if (typeof o.key !== 'string' || o.key.length === 0 || o.key.length > 1000) throw new Error('a fleet record without a key of 1 to 1000 characters');
  if (typeof o.version !== 'number' || !Number.isFinite(o.version)) throw new Error('a fleet record without a version');
  if (o.removed === true) return { site: o.site, kind: o.kind, key: o.key, version: o.version, removed: true };
  if (typeof o.body !== 'object' || o.body === null || Array.isArray(o.body)) throw new Error('a fleet record without a body');
  return { site: o.site, kind: o.kind, key: o.key, version: o.version, body: o.body as Record<string, unknown> };
}
