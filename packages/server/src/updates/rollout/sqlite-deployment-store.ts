/** Deployments and their per-device records in the server's SQLite database. */
import type { UpdateState, UpdateStream } from '@shellguard/protocol';
import type { SqliteDatabase } from '../../db/database.ts';
import { runMigrations, type Migration } from '../../db/migrations.ts';
import type { Deployment, DeviceRollout } from './deployment-model.ts';
import type { DeploymentFilter, DeploymentStore, DeploymentStoreOperations } from './deployment-store.ts';

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'deployments and their per-device rollout records',
    up(db) {
      // Records are JSON, read and written whole; the columns filtered or ordered on sit beside them.
      db.exec(`CREATE TABLE deployments (
        id TEXT PRIMARY KEY, group_id TEXT NOT NULL, stream TEXT NOT NULL, state TEXT NOT NULL,
        created_at INTEGER NOT NULL, record TEXT NOT NULL)`);
      db.exec('CREATE INDEX deployments_group ON deployments (group_id, stream, created_at)');
      db.exec(`CREATE TABLE deployment_devices (
        deployment_id TEXT NOT NULL REFERENCES deployments (id), device_id TEXT NOT NULL, wave INTEGER NOT NULL,
        state TEXT NOT NULL, reported INTEGER NOT NULL, record TEXT NOT NULL, PRIMARY KEY (deployment_id, device_id))`);
      db.exec('CREATE INDEX deployment_devices_device ON deployment_devices (device_id)');
    },
  },
];

const MAX_PAGE = 1000;

function prepareStatements(db: SqliteDatabase) {
  return {
    insert: db.prepare('INSERT INTO deployments (id, group_id, stream, state, created_at, record) VALUES (?, ?, ?, ?, ?, ?)'),
    save: db.prepare('UPDATE deployments SET state = ?, record = ? WHERE id = ?'),
    get: db.prepare('SELECT record FROM deployments WHERE id = ?'),
    saveDevice: db.prepare(`INSERT INTO deployment_devices (deployment_id, device_id, wave, state, reported, record) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (deployment_id, device_id) DO UPDATE SET wave = excluded.wave, state = excluded.state, reported = excluded.reported, record = excluded.record`),
    getDevice: db.prepare('SELECT record FROM deployment_devices WHERE deployment_id = ? AND device_id = ?'),
    devices: db.prepare('SELECT record FROM deployment_devices WHERE deployment_id = ? ORDER BY wave, device_id'),
    counts: db.prepare('SELECT wave, state, COUNT(*) AS count FROM deployment_devices WHERE deployment_id = ? GROUP BY wave, state ORDER BY wave, state'),
    latest: db.prepare(`SELECT dd.device_id AS device_id, dd.record AS record FROM deployment_devices dd JOIN deployments d ON d.id = dd.deployment_id
      WHERE d.group_id = ? AND d.stream = ? AND dd.reported = 1 ORDER BY dd.device_id, d.created_at DESC, d.id DESC`),
  };
}

export class SqliteDeploymentStore implements DeploymentStore {
  private readonly db: SqliteDatabase;
  private queue: Promise<void> = Promise.resolve();
  private readonly stmt: ReturnType<typeof prepareStatements>;

  constructor(db: SqliteDatabase) {
    this.db = db;
    runMigrations(db, 'deployments', MIGRATIONS);
    this.stmt = prepareStatements(db);
  }

  async transaction<T>(fn: (tx: DeploymentStoreOperations) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this);
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.then(() => undefined, () => undefined);
    return result;
  }

  async insertDeployment(d: Deployment): Promise<void> {
    this.stmt.insert.run(d.id, d.group, d.stream, d.state, d.createdAt, JSON.stringify(d));
  }

  async saveDeployment(d: Deployment): Promise<void> {
    this.stmt.save.run(d.state, JSON.stringify(d), d.id);
  }

  async getDeployment(id: string): Promise<Deployment | undefined> {
    const r = this.stmt.get.get(id) as { record: string } | undefined;
    return r && (JSON.parse(r.record) as Deployment);
  }

  async deployments(filter: DeploymentFilter = {}): Promise<Deployment[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.group !== undefined) { where.push('group_id = ?'); params.push(filter.group); }
    if (filter.stream !== undefined) { where.push('stream = ?'); params.push(filter.stream); }
    if (filter.states !== undefined) {
      if (filter.states.length === 0) return [];
      where.push(`state IN (${filter.states.map(() => '?').join(', ')})`);
      params.push(...filter.states);
    }
    const limit = Math.min(Math.max(1, Math.trunc(filter.limit ?? MAX_PAGE)), MAX_PAGE);
    const sql = `SELECT record FROM deployments ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...params, limit) as { record: string }[]).map((r) => JSON.parse(r.record) as Deployment);
  }

  async saveDevices(devices: readonly DeviceRollout[]): Promise<void> {
    const write = () => {
      for (const d of devices) {
        this.stmt.saveDevice.run(d.deploymentId, d.deviceId, d.wave, d.state, d.sequence >= 0 ? 1 : 0, JSON.stringify(d));
      }
    };
    // Inside a caller's transaction this is a savepoint; alone, one transaction for the batch.
    this.db.transaction(write)();
  }

  async getDevice(deploymentId: string, deviceId: string): Promise<DeviceRollout | undefined> {
    const r = this.stmt.getDevice.get(deploymentId, deviceId) as { record: string } | undefined;
    return r && (JSON.parse(r.record) as DeviceRollout);
  }

  async devices(deploymentId: string): Promise<DeviceRollout[]> {
    return (this.stmt.devices.all(deploymentId) as { record: string }[]).map((r) => JSON.parse(r.record) as DeviceRollout);
  }

  async latestReports(group: string, stream: UpdateStream): Promise<DeviceRollout[]> {
    const out: DeviceRollout[] = [];
    let last: string | undefined;
    for (const r of this.stmt.latest.all(group, stream) as { device_id: string; record: string }[]) {
      if (r.device_id === last) continue;
      last = r.device_id;
      out.push(JSON.parse(r.record) as DeviceRollout);
    }
    return out;
  }

  async stateCounts(deploymentId: string): Promise<{ wave: number; state: UpdateState; count: number }[]> {
    return this.stmt.counts.all(deploymentId) as { wave: number; state: UpdateState; count: number }[];
  }
}
