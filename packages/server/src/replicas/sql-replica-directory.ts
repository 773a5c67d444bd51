/** The replica heartbeats on either engine, through kysely (see replica-directory.ts). */
import type { Kysely } from 'kysely';
import type { SqlExecutor } from '../db/sql-database.ts';
import type { ReplicaDirectory } from './replica-directory.ts';

interface ReplicaTables {
  server_replicas: { id: string; seen_at: number };
}

export class SqlReplicaDirectory implements ReplicaDirectory {
  private readonly db: Kysely<ReplicaTables>;

  constructor(exec: SqlExecutor) {
    this.db = exec as Kysely<ReplicaTables>;
  }

  async heartbeat(id: string, at: number): Promise<void> {
    await this.db.insertInto('server_replicas').values({ id, seen_at: at })
      .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({ seen_at: eb.ref('excluded.seen_at') })))
      .execute();
  }

  async liveSince(since: number): Promise<string[]> {
    const rows = await this.db.selectFrom('server_replicas').select('id').where('seen_at', '>=', since).orderBy('id').execute();
    return rows.map((r) => r.id);
  }

  async leave(id: string): Promise<void> {
    await this.db.deleteFrom('server_replicas').where('id', '=', id).execute();
  }
}
