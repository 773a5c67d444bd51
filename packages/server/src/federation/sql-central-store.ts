/** The centre's records on either engine, through kysely (see central-store.ts). */
import type { Kysely } from 'kysely';
import type { SqlExecutor } from '../db/sql-database.ts';
import type { CentralRecord, CentralSiteSummary, CentralStore } from './central-store.ts';
import { isFleetKind, type FleetKind, type FleetRecord } from './fleet-record.ts';

interface CentralTables {
  central_records: { site: string; kind: string; key: string; version: number; removed: number; body: string | null; received_at: number };
}

export class SqlCentralStore implements CentralStore {
  private readonly db: Kysely<CentralTables>;

  constructor(exec: SqlExecutor) {
    this.db = exec as Kysely<CentralTables>;
  }

  async apply(record: FleetRecord, receivedAt: number): Promise<boolean> {
    const row = {
      site: record.site, kind: record.kind, key: record.key, version: record.version,
      removed: record.removed ? 1 : 0, body: record.removed ? null : JSON.stringify(record.body ?? {}), received_at: receivedAt,
    };
    const r = await this.db.insertInto('central_records').values(row)
      .onConflict((oc) => oc.columns(['site', 'kind', 'key']).doUpdateSet((eb) => ({
        version: eb.ref('excluded.version'), removed: eb.ref('excluded.removed'), body: eb.ref('excluded.body'), received_at: eb.ref('excluded.received_at'),
      })).where('central_records.version', '<', record.version))
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async records(kind: FleetKind, site?: string): Promise<CentralRecord[]> {
    let q = this.db.selectFrom('central_records').selectAll().where('kind', '=', kind).where('removed', '=', 0);
    if (site !== undefined) q = q.where('site', '=', site);
    const rows = await q.orderBy('site').orderBy('key').execute();
    return rows.map((r) => ({
      site: r.site, kind, key: r.key, version: r.version, body: JSON.parse(r.body ?? '{}') as Record<string, unknown>, receivedAt: r.received_at,
    }));
  }

  async sites(): Promise<CentralSiteSummary[]> {
    const last = await this.db.selectFrom('central_records').select((eb) => ['site', eb.fn.max('received_at').as('last')]).groupBy('site').execute();
    const counts = await this.db.selectFrom('central_records').select((eb) => ['site', 'kind', eb.fn.countAll<number>().as('n')])
      .where('removed', '=', 0).groupBy(['site', 'kind']).execute();
    const out = new Map<string, CentralSiteSummary>();
    for (const r of last) out.set(r.site, { site: r.site, lastReceivedAt: r.last === null ? null : Number(r.last), counts: {} });
    for (const c of counts) if (isFleetKind(c.kind)) out.get(c.site)!.counts[c.kind] = Number(c.n);
    return [...out.values()].sort((a, b) => a.site.localeCompare(b.site));
  }
}
