/** The embedded {@link SiteRegistry}, in the server's SQLite file. */
import type { AssetBirth, PointKind } from '@shellguard/protocol';
import type { SqliteDatabase } from '../db/database.ts';
import { runMigrations, type Migration } from '../db/migrations.ts';
import { RegistryError } from './registry-error.ts';
import type {
  AreaRecord, AssetFilter, AssetMove, AssetRecord, DeviceRecord, PointRecord, SiteRecord, SiteRegistry,
} from './site-registry.ts';

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'sites, areas, assets, points, devices',
    up(db) {
      db.exec(`
        CREATE TABLE sites (id TEXT PRIMARY KEY, first_seen INTEGER NOT NULL);
        CREATE TABLE areas (site TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (site, id));
        CREATE TABLE assets (
          site TEXT NOT NULL,
          id TEXT NOT NULL,
          name TEXT NOT NULL,
          type TEXT NOT NULL,
          profile TEXT NOT NULL,
          area TEXT NOT NULL,
          device_id TEXT NOT NULL,
          updated_at INTEGER NOT NULL,
          PRIMARY KEY (site, id)
        );
        CREATE INDEX assets_by_device ON assets (device_id);
        CREATE TABLE points (
          site TEXT NOT NULL,
          asset TEXT NOT NULL,
          name TEXT NOT NULL,
          unit TEXT NOT NULL,
          kind TEXT NOT NULL,
          description TEXT NOT NULL,
          PRIMARY KEY (site, asset, name)
        );
        CREATE TABLE devices (
          id TEXT PRIMARY KEY,
          site TEXT NOT NULL,
          first_seen INTEGER NOT NULL,
          last_seen INTEGER NOT NULL,
          online INTEGER NOT NULL,
          version TEXT NOT NULL
        );
      `);
    },
  },
  {
    version: 2,
    description: 'guardian clock offsets',
    up(db) {
      db.exec('ALTER TABLE devices ADD COLUMN clock_offset_ms INTEGER');
    },
  },
];

export interface SqliteSiteRegistryOptions {
  now?: () => number;
}

interface AssetRow {
  site: string; id: string; name: string; type: string; profile: string; area: string; device_id: string; updated_at: number;
}
interface DeviceRow {
  id: string; site: string; first_seen: number; last_seen: number; online: number; version: string; asset_count: number;
  clock_offset_ms: number | null;
}

const toAsset = (r: AssetRow): AssetRecord => ({
  site: r.site, id: r.id, name: r.name, type: r.type, profile: r.profile, area: r.area, deviceId: r.device_id,
  updatedAt: r.updated_at,
});

export class SqliteSiteRegistry implements SiteRegistry {
  private readonly db: SqliteDatabase;
  private readonly now: () => number;
  private readonly seen = new Map<string, number>();
  private flushTimer: NodeJS.Timeout | undefined;
  /** site \0 asset -> guardian: every message is checked against it. */
  private readonly owners = new Map<string, string>();
  private readonly assetsByDevice = new Map<string, { site: string; asset: string }[]>();

  constructor(db: SqliteDatabase, options: SqliteSiteRegistryOptions = {}) {
    this.db = db;
    this.now = options.now ?? Date.now;
    runMigrations(db, 'registry', MIGRATIONS);
    for (const r of db.prepare('SELECT site, id, device_id FROM assets').all() as { site: string; id: string; device_id: string }[]) {
      this.remember(r.site, r.id, r.device_id);
    }
  }

  private remember(site: string, asset: string, deviceId: string): void {
    const key = `${site}\0${asset}`;
    const previous = this.owners.get(key);
    if (previous === deviceId) return;
    if (previous !== undefined) {
      const list = this.assetsByDevice.get(previous) ?? [];
      const i = list.findIndex((a) => a.site === site && a.asset === asset);
      if (i >= 0) list.splice(i, 1);
    }
    this.owners.set(key, deviceId);
    const list = this.assetsByDevice.get(deviceId) ?? [];
    list.push({ site, asset });
    this.assetsByDevice.set(deviceId, list);
  }

  assetOwner(site: string, asset: string): string | undefined {
    return this.owners.get(`${site}\0${asset}`);
  }

  assetsOf(deviceId: string): readonly { site: string; asset: string }[] {
    return this.assetsByDevice.get(deviceId) ?? [];
  }

  bindAsset(site: string, asset: string, deviceId: string, now = this.now()): boolean {
    const owner = this.assetOwner(site, asset);
    if (owner !== undefined) return owner === deviceId;
    this.db.transaction(() => {
      this.upsertSite(site, now);
      this.db.prepare('INSERT INTO areas (site, id) VALUES (?, ?) ON CONFLICT DO NOTHING').run(site, 'unassigned');
      // A placeholder until the asset's birth describes it; the binding is what matters.
      this.db.prepare(`INSERT INTO assets (site, id, name, type, profile, area, device_id, updated_at)
        VALUES (?, ?, ?, 'unknown', 'unknown', 'unassigned', ?, ?) ON CONFLICT (site, id) DO NOTHING`)
        .run(site, asset, asset, deviceId, now);
    })();
    const stored = (this.db.prepare('SELECT device_id FROM assets WHERE site = ? AND id = ?').pluck().get(site, asset)) as string;
    this.remember(site, asset, stored);
    return stored === deviceId;
  }

  moveAsset(site: string, asset: string, toDeviceId: string, now = this.now()): AssetMove {
    const from = this.assetOwner(site, asset) ?? null;
    if (from === null) throw new RegistryError('asset_not_found', `no asset ${asset} in site ${site}`, { site, asset });
    if (from === toDeviceId) throw new RegistryError('asset_already_bound', `asset ${site}/${asset} is already bound to ${toDeviceId}`, { site, asset });
    this.db.prepare('UPDATE assets SET device_id = ?, updated_at = ? WHERE site = ? AND id = ?').run(toDeviceId, now, site, asset);
    this.remember(site, asset, toDeviceId);
    return { site, asset, from, to: toDeviceId };
  }

  recordClockOffset(deviceId: string, offsetMs: number, _now = this.now()): void {
    this.db.prepare('UPDATE devices SET clock_offset_ms = ? WHERE id = ?').run(Math.round(offsetMs), deviceId);
  }

  private upsertSite(site: string, now: number): void {
    this.db.prepare('INSERT INTO sites (id, first_seen) VALUES (?, ?) ON CONFLICT (id) DO NOTHING').run(site, now);
  }

  private upsertDevice(deviceId: string, site: string, now: number, online: boolean, version?: string): void {
    this.db.prepare(`INSERT INTO devices (id, site, first_seen, last_seen, online, version) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET site = excluded.site, last_seen = MAX(last_seen, excluded.last_seen),
        online = excluded.online, version = COALESCE(?, version)`)
      .run(deviceId, site, now, now, online ? 1 : 0, version ?? '', version ?? null);
  }

  recordAssetBirth(deviceId: string, site: string, birth: AssetBirth, now = this.now()): boolean {
    const owner = this.assetOwner(site, birth.asset);
    if (owner !== undefined && owner !== deviceId) return false;
    this.db.transaction(() => {
      this.upsertSite(site, now);
      this.db.prepare('INSERT INTO areas (site, id) VALUES (?, ?) ON CONFLICT DO NOTHING').run(site, birth.area);
      this.db.prepare(`INSERT INTO assets (site, id, name, type, profile, area, device_id, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (site, id) DO UPDATE SET name = excluded.name, type = excluded.type, profile = excluded.profile,
          area = excluded.area, updated_at = excluded.updated_at
        WHERE assets.device_id = excluded.device_id`)
        .run(site, birth.asset, birth.name, birth.type, birth.profile, birth.area, deviceId, now);
      // A birth declares the asset's complete point set (Sparkplug B DBIRTH): replace the old one.
      this.db.prepare('DELETE FROM points WHERE site = ? AND asset = ?').run(site, birth.asset);
      const insertPoint = this.db.prepare(
        'INSERT OR REPLACE INTO points (site, asset, name, unit, kind, description) VALUES (?, ?, ?, ?, ?, ?)',
      );
      for (const p of birth.points) insertPoint.run(site, birth.asset, p.name, p.unit, p.kind, p.description);
      const known = this.db.prepare('SELECT 1 FROM devices WHERE id = ?').get(deviceId);
      if (!known) this.upsertDevice(deviceId, site, now, true);
      else this.db.prepare('UPDATE devices SET last_seen = MAX(last_seen, ?) WHERE id = ?').run(now, deviceId);
    })();
    this.remember(site, birth.asset, deviceId);
    return true;
  }

  recordDeviceOnline(deviceId: string, site: string, version: string, now = this.now()): void {
    this.db.transaction(() => {
      this.upsertSite(site, now);
      this.upsertDevice(deviceId, site, now, true, version);
    })();
  }

  recordDeviceOffline(deviceId: string, now = this.now()): void {
    this.flushSeen();
    this.db.prepare('UPDATE devices SET online = 0, last_seen = MAX(last_seen, ?) WHERE id = ?').run(now, deviceId);
  }

  recordDeviceSeen(deviceId: string, now = this.now()): void {
    const prev = this.seen.get(deviceId);
    if (prev === undefined || now > prev) this.seen.set(deviceId, now);
  }

  flushSeen(): void {
    if (this.seen.size === 0) return;
    const entries = [...this.seen];
    this.seen.clear();
    // A device seen before its birth (e.g. right after a server restart) is recorded without a site.
    const upsert = this.db.prepare(`INSERT INTO devices (id, site, first_seen, last_seen, online, version)
      VALUES (?, '', ?, ?, 1, '') ON CONFLICT (id) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen)`);
    this.db.transaction(() => {
      for (const [id, at] of entries) upsert.run(id, at, at);
    })();
  }

  /** Flushes last-seen times every `intervalMs` on an unref'd timer. */
  startFlushing(intervalMs = 5_000): void {
    this.flushTimer ??= setInterval(() => this.flushSeen(), intervalMs);
    this.flushTimer.unref();
  }

  listSites(): SiteRecord[] {
    return (this.db.prepare(`SELECT s.id, s.first_seen,
        (SELECT COUNT(*) FROM areas a WHERE a.site = s.id) AS area_count,
        (SELECT COUNT(*) FROM assets x WHERE x.site = s.id) AS asset_count
      FROM sites s ORDER BY s.id`).all() as { id: string; first_seen: number; area_count: number; asset_count: number }[])
      .map((r) => ({ id: r.id, firstSeen: r.first_seen, areaCount: r.area_count, assetCount: r.asset_count }));
  }

  listAreas(site: string): AreaRecord[] {
    return (this.db.prepare(`SELECT a.site, a.id,
        (SELECT COUNT(*) FROM assets x WHERE x.site = a.site AND x.area = a.id) AS asset_count
      FROM areas a WHERE a.site = ? ORDER BY a.id`).all(site) as { site: string; id: string; asset_count: number }[])
      .map((r) => ({ site: r.site, id: r.id, assetCount: r.asset_count }));
  }

  listAssets(filter: AssetFilter = {}): AssetRecord[] {
    return (this.db.prepare(`SELECT * FROM assets WHERE (@site IS NULL OR site = @site) AND (@type IS NULL OR type = @type)
      ORDER BY site, id`).all({ site: filter.site ?? null, type: filter.type ?? null }) as AssetRow[]).map(toAsset);
  }

  findAssets(assetId: string, site?: string): AssetRecord[] {
    return (this.db.prepare('SELECT * FROM assets WHERE id = @id AND (@site IS NULL OR site = @site) ORDER BY site')
      .all({ id: assetId, site: site ?? null }) as AssetRow[]).map(toAsset);
  }

  listPoints(site: string, asset: string): PointRecord[] {
    return (this.db.prepare('SELECT * FROM points WHERE site = ? AND asset = ? ORDER BY name').all(site, asset) as {
      site: string; asset: string; name: string; unit: string; kind: PointKind; description: string;
    }[]).map((r) => ({ site: r.site, asset: r.asset, name: r.name, unit: r.unit, kind: r.kind, description: r.description }));
  }

  listDevices(): DeviceRecord[] {
    const rows = this.db.prepare(`SELECT d.*, (SELECT COUNT(*) FROM assets a WHERE a.device_id = d.id) AS asset_count
      FROM devices d ORDER BY d.id`).all() as DeviceRow[];
    const known = new Set(rows.map((r) => r.id));
    const devices = rows.map((r) => ({
      id: r.id, site: r.site, firstSeen: r.first_seen, lastSeen: Math.max(r.last_seen, this.seen.get(r.id) ?? 0),
      online: r.online === 1, version: r.version, assetCount: r.asset_count, clockOffsetMs: r.clock_offset_ms,
    }));
    // Seen but not yet flushed nor born: still worth listing.
    for (const [id, at] of this.seen) {
      if (!known.has(id)) devices.push({ id, site: '', firstSeen: at, lastSeen: at, online: true, version: '', assetCount: 0, clockOffsetMs: null });
    }
    return devices.sort((a, b) => a.id.localeCompare(b.id));
  }

  close(): void {
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = undefined;
    if (this.db.open) this.flushSeen();
  }
}
