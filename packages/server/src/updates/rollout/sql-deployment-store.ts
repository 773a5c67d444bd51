/** {@link DeploymentStore} on the server's database, either engine (issue 12). Tables: deployment-schema.ts. */
import type { UpdateState, UpdateStream } from '@shellguard/protocol';
import type { Kysely } from 'kysely';
import { inTransaction, type SqlEngine, type SqlExecutor } from '../../db/sql-database.ts';
import type { Deployment, DeviceRollout } from './deployment-model.ts';
import type { DeploymentFilter, DeploymentStore } from './deployment-store.ts';

interface DeploymentTables {
  deployments: { id: string; group_id: string; stream: string; state: string; created_at: number; record: string };
  deployment_devices: { deployment_id: string; device_id: string; wave: number; state: string; reported: number; record: string };
}

const MAX_PAGE = 1000;

export class SqlDeploymentStore implements DeploymentStore {
  private readonly db: Kysely<DeploymentTables>;

  constructor(exec: SqlExecutor, private readonly options: { engine: SqlEngine }) {
    this.db = exec as Kysely<DeploymentTables>;
  }

  async insertDeployment(d: Deployment): Promise<boolean> {
    // No conflict target: the id's key and the one-active-per-group-and-stream index both refuse.
    const inserted = await this.db.insertInto('deployments').values({
      id: d.id, group_id: d.group, stream: d.stream, state: d.state, created_at: d.createdAt, record: JSON.stringify(d),
    }).onConflict((oc) => oc.doNothing()).returning('id').executeTakeFirst();
    return inserted !== undefined;
  }

  async saveDeployment(d: Deployment): Promise<void> {
    await this.db.updateTable('deployments').set({ state: d.state, record: JSON.stringify(d) }).where('id', '=', d.id).execute();
  }

  async getDeployment(id: string, options: { forUpdate?: boolean } = {}): Promise<Deployment | undefined> {
    let q = this.db.selectFrom('deployments').select('record').where('id', '=', id);
    if (options.forUpdate && this.options.engine === 'postgres') q = q.forUpdate();
    const r = await q.executeTakeFirst();
    return r && (JSON.parse(r.record) as Deployment);
  }

  async deployments(filter: DeploymentFilter = {}): Promise<Deployment[]> {
    if (filter.states !== undefined && filter.states.length === 0) return [];
    let q = this.db.selectFrom('deployments').select('record');
    if (filter.group !== undefined) q = q.where('group_id', '=', filter.group);
    if (filter.stream !== undefined) q = q.where('stream', '=', filter.stream);
    if (filter.states !== undefined) q = q.where('state', 'in', [...filter.states]);
    const limit = Math.min(Math.max(1, Math.trunc(filter.limit ?? MAX_PAGE)), MAX_PAGE);
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => JSON.parse(r.record) as Deployment);
  }

  async saveDevices(devices: readonly DeviceRollout[]): Promise<void> {
    if (devices.length === 0) return;
    // One transaction for the batch, or the caller's.
    await inTransaction(this.db, async (tx: Kysely<DeploymentTables>) => {
      for (const d of devices) {
        await tx.insertInto('deployment_devices').values({
          deployment_id: d.deploymentId, device_id: d.deviceId, wave: d.wave, state: d.state, reported: d.sequence >= 0 ? 1 : 0,
          record: JSON.stringify(d),
        }).onConflict((oc) => oc.columns(['deployment_id', 'device_id']).doUpdateSet((eb) => ({
          wave: eb.ref('excluded.wave'), state: eb.ref('excluded.state'), reported: eb.ref('excluded.reported'), record: eb.ref('excluded.record'),
        }))).execute();
      }
    });
  }

  async getDevice(deploymentId: string, deviceId: string): Promise<DeviceRollout | undefined> {
    const r = await this.db.selectFrom('deployment_devices').select('record')
      .where('deployment_id', '=', deploymentId).where('device_id', '=', deviceId).executeTakeFirst();
    return r && (JSON.parse(r.record) as DeviceRollout);
  }

  async devices(deploymentId: string): Promise<DeviceRollout[]> {
    const rows = await this.db.selectFrom('deployment_devices').select('record')
      .where('deployment_id', '=', deploymentId).orderBy('wave').orderBy('device_id').execute();
    return rows.map((r) => JSON.parse(r.record) as DeviceRollout);
  }

  async latestReports(group: string, stream: UpdateStream): Promise<DeviceRollout[]> {
    const rows = await this.db.selectFrom('deployment_devices as dd').innerJoin('deployments as d', 'd.id', 'dd.deployment_id')
      .select(['dd.device_id as device_id', 'dd.record as record'])
      .where('d.group_id', '=', group).where('d.stream', '=', stream).where('dd.reported', '=', 1)
      .orderBy('dd.device_id').orderBy('d.created_at', 'desc').orderBy('d.id', 'desc')
      .execute();
    const out: DeviceRollout[] = [];
    let last: string | undefined;
    for (const r of rows) {
      if (r.device_id === last) continue;
      last = r.device_id;
      out.push(JSON.parse(r.record) as DeviceRollout);
    }
    return out;
  }

  async stateCounts(deploymentId: string): Promise<{ wave: number; state: UpdateState; count: number }[]> {
    const rows = await this.db.selectFrom('deployment_devices')
      .select((eb) => ['wave', 'state', eb.fn.countAll<number>().as('count')])
      .where('deployment_id', '=', deploymentId)
      .groupBy(['wave', 'state']).orderBy('wave').orderBy('state')
      .execute();
    return rows.map((r) => ({ wave: r.wave, state: r.state as UpdateState, count: Number(r.count) }));
  }
}
