/**
 * {@link DirectorStore} on the server's database, either engine (issue 12). Table: director-schema.ts.
 *
 * A device refuses an instruction whose sequence is not above the last one it accepted, so the
 * sequence must only ever grow, whichever replica signs: each is reserved by one upsert that
 * increments the stored value and returns it (atomic on both engines), never read then written.
 */
import { sql, type Kysely } from 'kysely';
import type { SqlExecutor } from '../../db/sql-database.ts';
import type { DirectorStore } from './director-store.ts';

interface DirectorTables {
  director_devices: { device_id: string; sequence: number; envelope: Buffer | null };
}

export class SqlDirectorStore implements DirectorStore {
  private readonly db: Kysely<DirectorTables>;

  constructor(exec: SqlExecutor) {
    this.db = exec as Kysely<DirectorTables>;
  }

  async nextSequence(deviceId: string): Promise<number> {
    const row = await this.db.insertInto('director_devices').values({ device_id: deviceId, sequence: 1, envelope: null })
      .onConflict((oc) => oc.column('device_id').doUpdateSet({ sequence: sql<number>`director_devices.sequence + 1` }))
      .returning('sequence')
      .executeTakeFirstOrThrow();
    return row.sequence;
  }

  async saveLatest(deviceId: string, sequence: number, envelope: Buffer): Promise<void> {
    // Kept only while it is the newest reserved: a slower signer of an older sequence writes nothing.
    await this.db.updateTable('director_devices').set({ envelope })
      .where('device_id', '=', deviceId).where('sequence', '=', sequence).execute();
  }

  async latest(deviceId: string): Promise<{ sequence: number; envelope: Buffer } | undefined> {
    const row = await this.db.selectFrom('director_devices').select(['sequence', 'envelope']).where('device_id', '=', deviceId).executeTakeFirst();
    return row?.envelope ? { sequence: row.sequence, envelope: Buffer.from(row.envelope) } : undefined;
  }
}
