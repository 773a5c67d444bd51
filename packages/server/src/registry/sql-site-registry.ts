/**
 * {@link SiteRegistry} in SQL (kysely; the same code on SQLite and PostgreSQL). Cheap to construct,
 * so a unit of work builds one on its transaction (see asset-moves.ts).
 *
 * Asset ownership has no cache here: every decision reads or writes the `assets` row, so two
 * replicas sharing one PostgreSQL see the same owner. Binding is one INSERT ... ON CONFLICT DO
 * NOTHING: of two transactions inserting the same key, PostgreSQL makes the second wait for the
 * first and then do nothing, and SQLite has one writer — either way one guardian gets the asset.
 * Only last-seen times are kept in memory (recorded on every message, written in batches).
 */
import { sql, type Expression, type Kysely } from 'kysely';
import { systemClock, type AssetBirth, type Clock, type PointKind, type TimerHandle } from '@shellguard/protocol';
import { inTransaction, type SqlEngine, type SqlExecutor } from '../db/sql-database.ts';
import { RegistryError } from './registry-error.ts';
import type {
  AreaRecord, AssetBinding, AssetFilter, AssetKey, AssetMove, AssetOwnership, AssetRecord, DeviceRecord, PointRecord, SiteRecord,
  SiteRegistry,
} from './site-registry.ts';

interface RegistryTables {
  sites: { id: string; first_seen: number };
  areas: { site: string; id: string };
  assets: {
    site: string; id: string; name: string; type: string; profile: string; area: string; device_id: string; updated_at: number;
  };
  points: { site: string; asset: string; name: string; unit: string; kind: PointKind; description: string };
  devices: {
    id: string; site: string; first_seen: number; last_seen: number; online: number; version: string; clock_offset_ms: number | null;
  };
}
type RegistryDb = Kysely<RegistryTables>;
type AssetRow = RegistryTables['assets'];

/** Rows per multi-row statement: well inside both engines' bound-parameter limits. */
const ROWS_PER_STATEMENT = 500;
/** Assets per ownership read; lists are padded to a power of two so few statement shapes exist. */
const KEYS_PER_READ = 256;
const UNASSIGNED_AREA = 'unassigned';

const toAsset = (r: AssetRow): AssetRecord => ({
  site: r.site, id: r.id, name: r.name, type: r.type, profile: r.profile, area: r.area, deviceId: r.device_id,
  updatedAt: r.updated_at,
});

/**
 * Text order the same on both engines: SQLite compares TEXT by code units, PostgreSQL by its
 * collation (which may skip the hyphens asset ids are full of). ORDER BY only makes reads
 * deterministic; what users see is sorted here.
 */
function byCodeUnits(...pairs: [string, string][]): number {
  for (const [a, b] of pairs) if (a !== b) return a < b ? -1 : 1;
  return 0;
}

/** The later of a column and the incoming value, on both engines (SQLite's MAX(a, b) is PostgreSQL's GREATEST). */
function later(current: Expression<number>, incoming: Expression<number>): Expression<number> {
  return sql<number>`CASE WHEN ${incoming} > ${current} THEN ${incoming} ELSE ${current} END`;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export interface SqlSiteRegistryOptions {
  /** Default time of the record* methods, and the flush timer (default systemClock). */
  clock?: Clock;
  /** A periodic flush of last-seen times failed (the times are kept and written next time). */
  onFlushError?: (err: unknown) => void;
}

export class SqlSiteRegistry implements SiteRegistry {
  private readonly db: RegistryDb;
  private readonly clock: Clock;
  private readonly onFlushError: (err: unknown) => void;
  /** deviceId -> latest time seen, not yet written. */
  private seen = new Map<string, number>();
  private flushTimer: TimerHandle | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(exec: SqlExecutor, private readonly engine: SqlEngine, options: SqlSiteRegistryOptions = {}) {
    this.db = exec as RegistryDb;
    this.clock = options.clock ?? systemClock;
    this.onFlushError = options.onFlushError ?? (() => {});
  }

  async assetOwner(site: string, asset: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('assets').select('device_id').where('site', '=', site).where('id', '=', asset).executeTakeFirst();
    return row?.device_id;
  }

  async ownersOf(assets: readonly AssetKey[]): Promise<AssetOwnership[]> {
    const unique = new Map<string, AssetKey>();
    for (const a of assets) unique.set(`${a.site}\0${a.asset}`, a);
    const out: AssetOwnership[] = [];
    for (const part of chunks([...unique.values()], KEYS_PER_READ)) {
      // Padded with repeats of the last key: the statement text (and its prepared statement) is
      // shared by every read of up to that many keys.
      let size = 1;
      while (size < part.length) size *= 2;
      const keys = part.concat(Array.from({ length: size - part.length }, () => part[part.length - 1]!));
      const rows = await this.db.selectFrom('assets').select(['site', 'id', 'device_id'])
        .where(({ eb, refTuple, tuple }) => eb(refTuple('site', 'id'), 'in', keys.map((k) => tuple(k.site, k.asset))))
        .execute();
      for (const r of rows) out.push({ site: r.site, asset: r.id, deviceId: r.device_id });
    }
    return out;
  }

  async assetsOf(deviceId: string): Promise<AssetKey[]> {
    const rows = await this.db.selectFrom('assets').select(['site', 'id']).where('device_id', '=', deviceId)
      .orderBy('site').orderBy('id').execute();
    return rows.map((r) => ({ site: r.site, asset: r.id })).sort((a, b) => byCodeUnits([a.site, b.site], [a.asset, b.asset]));
  }

  async bindAsset(site: string, asset: string, deviceId: string, now = this.clock.now()): Promise<AssetBinding> {
    return inTransaction(this.db, async (tx) => {
      const db = tx as RegistryDb;
      // A placeholder until the asset's birth describes it; the binding is what matters.
      const inserted = await db.insertInto('assets')
        .values({ site, id: asset, name: asset, type: 'unknown', profile: 'unknown', area: UNASSIGNED_AREA, device_id: deviceId, updated_at: now })
        .onConflict((oc) => oc.columns(['site', 'id']).doNothing())
        .returning('device_id')
        .executeTakeFirst();
      if (inserted) {
        await this.upsertSite(db, site, now);
        await db.insertInto('areas').values({ site, id: UNASSIGNED_AREA }).onConflict((oc) => oc.columns(['site', 'id']).doNothing()).execute();
        return { owner: deviceId, bound: true };
      }
      // Someone holds it (perhaps a transaction that committed while this insert waited for it).
      const owner = await db.selectFrom('assets').select('device_id').where('site', '=', site).where('id', '=', asset).executeTakeFirstOrThrow();
      return { owner: owner.device_id, bound: false };
    });
  }

  async moveAsset(site: string, asset: string, toDeviceId: string, now = this.clock.now()): Promise<AssetMove> {
    return inTransaction(this.db, async (tx) => {
      const db = tx as RegistryDb;
      let query = db.selectFrom('assets').select('device_id').where('site', '=', site).where('id', '=', asset);
      // The row stays locked to the end of the caller's transaction: a concurrent move waits, then sees this one.
      if (this.engine === 'postgres') query = query.forUpdate();
      const row = await query.executeTakeFirst();
      if (!row) throw new RegistryError('asset_not_found', `no asset ${asset} in site ${site}`, { site, asset });
      if (row.device_id === toDeviceId) {
        throw new RegistryError('asset_already_bound', `asset ${site}/${asset} is already bound to ${toDeviceId}`, { site, asset });
      }
      await db.updateTable('assets').set({ device_id: toDeviceId, updated_at: now }).where('site', '=', site).where('id', '=', asset).execute();
      return { site, asset, from: row.device_id, to: toDeviceId };
    });
  }

  async recordClockOffset(deviceId: string, offsetMs: number, _now = this.clock.now()): Promise<void> {
    await this.db.updateTable('devices').set({ clock_offset_ms: Math.round(offsetMs) }).where('id', '=', deviceId).execute();
  }

  private async upsertSite(db: RegistryDb, site: string, now: number): Promise<void> {
    await db.insertInto('sites').values({ id: site, first_seen: now }).onConflict((oc) => oc.column('id').doNothing()).execute();
  }

  async recordAssetBirth(deviceId: string, site: string, birth: AssetBirth, now = this.clock.now()): Promise<boolean> {
    return inTransaction(this.db, async (tx) => {
      const db = tx as RegistryDb;
      // The asset first: it says whether the birth is this guardian's to record. The conditional
      // update leaves another guardian's asset untouched (and returns no row).
      const mine = await db.insertInto('assets')
        .values({
          site, id: birth.asset, name: birth.name, type: birth.type, profile: birth.profile, area: birth.area, device_id: deviceId,
          updated_at: now,
        })
        .onConflict((oc) => oc.columns(['site', 'id'])
          .doUpdateSet((eb) => ({
            name: eb.ref('excluded.name'), type: eb.ref('excluded.type'), profile: eb.ref('excluded.profile'),
            area: eb.ref('excluded.area'), updated_at: eb.ref('excluded.updated_at'),
          }))
          .where('assets.device_id', '=', deviceId))
        .returning('device_id')
        .executeTakeFirst();
      if (!mine) return false;
      await this.upsertSite(db, site, now);
      await db.insertInto('areas').values({ site, id: birth.area }).onConflict((oc) => oc.columns(['site', 'id']).doNothing()).execute();
      // A birth declares the asset's complete point set (Sparkplug B DBIRTH): replace the old one.
      await db.deleteFrom('points').where('site', '=', site).where('asset', '=', birth.asset).execute();
      // A point named twice keeps its last definition.
      const points = new Map(birth.points.map((p) => [p.name, p]));
      for (const part of chunks([...points.values()], ROWS_PER_STATEMENT)) {
        await db.insertInto('points')
          .values(part.map((p) => ({ site, asset: birth.asset, name: p.name, unit: p.unit, kind: p.kind, description: p.description })))
          .execute();
      }
      // A guardian first known from a birth is online; a known one only gets its last-seen time.
      await db.insertInto('devices')
        .values({ id: deviceId, site, first_seen: now, last_seen: now, online: 1, version: '' })
        .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({ last_seen: later(eb.ref('devices.last_seen'), eb.ref('excluded.last_seen')) })))
        .execute();
      return true;
    });
  }

  async recordDeviceOnline(deviceId: string, site: string, version: string, now = this.clock.now()): Promise<void> {
    await inTransaction(this.db, async (tx) => {
      const db = tx as RegistryDb;
      await this.upsertSite(db, site, now);
      await db.insertInto('devices')
        .values({ id: deviceId, site, first_seen: now, last_seen: now, online: 1, version })
        .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({
          site: eb.ref('excluded.site'), last_seen: later(eb.ref('devices.last_seen'), eb.ref('excluded.last_seen')),
          online: eb.ref('excluded.online'), version: eb.ref('excluded.version'),
        })))
        .execute();
    });
  }

  async recordDeviceOffline(deviceId: string, now = this.clock.now()): Promise<void> {
    // The times seen before it go first; if they cannot be written now, they are kept for later.
    await this.flushSeen().catch(this.onFlushError);
    await this.db.updateTable('devices')
      .set((eb) => ({ online: 0, last_seen: later(eb.ref('last_seen'), sql.val(now)) }))
      .where('id', '=', deviceId)
      .execute();
  }

  recordDeviceSeen(deviceId: string, now = this.clock.now()): void {
    const prev = this.seen.get(deviceId);
    if (prev === undefined || now > prev) this.seen.set(deviceId, now);
  }

  /** Writes the last-seen times in memory; one flush at a time, so close() also waits for the timer's. */
  flushSeen(): Promise<void> {
    const flush = this.flushing.then(() => this.writeSeen());
    this.flushing = flush.catch(() => undefined);
    return flush;
  }

  private async writeSeen(): Promise<void> {
    if (this.seen.size === 0) return;
    const entries = [...this.seen];
    this.seen = new Map();
    try {
      await inTransaction(this.db, async (tx) => {
        const db = tx as RegistryDb;
        for (const part of chunks(entries, ROWS_PER_STATEMENT)) {
          // A device seen before its birth (e.g. right after a server restart) is recorded without a site.
          await db.insertInto('devices')
            .values(part.map(([id, at]) => ({ id, site: '', first_seen: at, last_seen: at, online: 1, version: '' })))
            .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({ last_seen: later(eb.ref('devices.last_seen'), eb.ref('excluded.last_seen')) })))
            .execute();
        }
      });
    } catch (err) {
      // Kept for the next flush: a time seen meanwhile may be later.
      for (const [id, at] of entries) this.recordDeviceSeen(id, at);
      throw err;
    }
  }

  /** Flushes last-seen times every `intervalMs` on an unref'd timer. */
  startFlushing(intervalMs = 5_000): void {
    this.flushTimer ??= this.clock.setInterval(() => { this.flushSeen().catch(this.onFlushError); }, intervalMs);
    this.flushTimer.unref();
  }

  async listSites(): Promise<SiteRecord[]> {
    const rows = await this.db.selectFrom('sites as s')
      .select((eb) => [
        's.id', 's.first_seen',
        eb.selectFrom('areas as a').select((e) => e.fn.countAll<number>().as('n')).whereRef('a.site', '=', 's.id').as('area_count'),
        eb.selectFrom('assets as x').select((e) => e.fn.countAll<number>().as('n')).whereRef('x.site', '=', 's.id').as('asset_count'),
      ])
      .orderBy('s.id')
      .execute();
    return rows.map((r) => ({ id: r.id, firstSeen: r.first_seen, areaCount: Number(r.area_count ?? 0), assetCount: Number(r.asset_count ?? 0) }))
      .sort((a, b) => byCodeUnits([a.id, b.id]));
  }

  async listAreas(site: string): Promise<AreaRecord[]> {
    const rows = await this.db.selectFrom('areas as a')
      .select((eb) => [
        'a.site', 'a.id',
        eb.selectFrom('assets as x').select((e) => e.fn.countAll<number>().as('n'))
          .whereRef('x.site', '=', 'a.site').whereRef('x.area', '=', 'a.id').as('asset_count'),
      ])
      .where('a.site', '=', site)
      .orderBy('a.id')
      .execute();
    return rows.map((r) => ({ site: r.site, id: r.id, assetCount: Number(r.asset_count ?? 0) })).sort((a, b) => byCodeUnits([a.id, b.id]));
  }

  async listAssets(filter: AssetFilter = {}): Promise<AssetRecord[]> {
    let query = this.db.selectFrom('assets').selectAll();
    if (filter.site !== undefined) query = query.where('site', '=', filter.site);
    if (filter.type !== undefined) query = query.where('type', '=', filter.type);
    const rows = await query.orderBy('site').orderBy('id').execute();
    return rows.map(toAsset).sort((a, b) => byCodeUnits([a.site, b.site], [a.id, b.id]));
  }

  async findAssets(assetId: string, site?: string): Promise<AssetRecord[]> {
    let query = this.db.selectFrom('assets').selectAll().where('id', '=', assetId);
    if (site !== undefined) query = query.where('site', '=', site);
    const rows = await query.orderBy('site').execute();
    return rows.map(toAsset).sort((a, b) => byCodeUnits([a.site, b.site]));
  }

  async listPoints(site: string, asset: string): Promise<PointRecord[]> {
    const rows = await this.db.selectFrom('points').selectAll().where('site', '=', site).where('asset', '=', asset).orderBy('name').execute();
    return rows.map((r) => ({ site: r.site, asset: r.asset, name: r.name, unit: r.unit, kind: r.kind, description: r.description }))
      .sort((a, b) => byCodeUnits([a.name, b.name]));
  }

  async listDevices(): Promise<DeviceRecord[]> {
    const rows = await this.db.selectFrom('devices as d')
      .selectAll('d')
      .select((eb) => eb.selectFrom('assets as a').select((e) => e.fn.countAll<number>().as('n')).whereRef('a.device_id', '=', 'd.id').as('asset_count'))
      .orderBy('d.id')
      .execute();
    const seen = this.seen;
    const known = new Set(rows.map((r) => r.id));
    const devices: DeviceRecord[] = rows.map((r) => ({
      id: r.id, site: r.site, firstSeen: r.first_seen, lastSeen: Math.max(r.last_seen, seen.get(r.id) ?? 0),
      online: r.online === 1, version: r.version, assetCount: Number(r.asset_count ?? 0), clockOffsetMs: r.clock_offset_ms,
    }));
    // Seen but not yet flushed nor born: still worth listing.
    for (const [id, at] of seen) {
      if (!known.has(id)) devices.push({ id, site: '', firstSeen: at, lastSeen: at, online: true, version: '', assetCount: 0, clockOffsetMs: null });
    }
    return devices.sort((a, b) => byCodeUnits([a.id, b.id]));
  }

  async close(): Promise<void> {
    this.clock.clearInterval(this.flushTimer);
    this.flushTimer = undefined;
    await this.flushSeen();
  }
}
