/** The director's per-device sequence and last instruction in the server's SQLite file. */
import type { SqliteDatabase } from '../../db/database.ts';
import { runMigrations, type Migration } from '../../db/migrations.ts';
import type { DirectorStore } from './director-store.ts';

const MIGRATIONS: Migration[] = [{
  version: 1,
  description: 'director sequence and latest instruction per device',
  up(db) {
    db.exec(`CREATE TABLE director_devices (
      device_id TEXT PRIMARY KEY,
      sequence INTEGER NOT NULL,
      envelope BLOB
    )`);
  },
}];

export class SqliteDirectorStore implements DirectorStore {
  private readonly bump;
  private readonly save;
  private readonly get;

  constructor(db: SqliteDatabase) {
    runMigrations(db, 'director', MIGRATIONS);
    this.bump = db.prepare(`INSERT INTO director_devices (device_id, sequence) VALUES (?, 1)
      ON CONFLICT(device_id) DO UPDATE SET sequence = sequence + 1 RETURNING sequence`);
    this.save = db.prepare('UPDATE director_devices SET envelope = ? WHERE device_id = ? AND sequence = ?');
    this.get = db.prepare('SELECT sequence, envelope FROM director_devices WHERE device_id = ?');
  }

  nextSequence(deviceId: string): Promise<number> {
    return Promise.resolve((this.bump.get(deviceId) as { sequence: number }).sequence);
  }

  saveLatest(deviceId: string, sequence: number, envelope: Buffer): Promise<void> {
    this.save.run(envelope, deviceId, sequence);
    return Promise.resolve();
  }

  latest(deviceId: string): Promise<{ sequence: number; envelope: Buffer } | undefined> {
    const row = this.get.get(deviceId) as { sequence: number; envelope: Buffer | null } | undefined;
    return Promise.resolve(row?.envelope ? { sequence: row.sequence, envelope: row.envelope } : undefined);
  }
}
