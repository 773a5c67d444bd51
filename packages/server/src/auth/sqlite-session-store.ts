/** {@link SessionStore} on the server's SQLite database. */
import type { SqliteDatabase } from '../db/database.ts';
import { runMigrations, type Migration } from '../db/migrations.ts';
import type { SessionRecord, SessionStore } from './session-store.ts';

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'web sessions',
    up(db) {
      db.exec(`CREATE TABLE sessions (
        id_sha256 TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        csrf_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      )`);
      db.exec('CREATE INDEX sessions_by_username ON sessions (username)');
      db.exec('CREATE INDEX sessions_by_expiry ON sessions (expires_at)');
    },
  },
];

interface SessionRow {
  id_sha256: string; username: string; csrf_token: string; created_at: number; last_seen_at: number; expires_at: number;
}

export class SqliteSessionStore implements SessionStore {
  private readonly db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.db = db;
    runMigrations(db, 'sessions', MIGRATIONS);
  }

  async insertSession(s: SessionRecord): Promise<void> {
    this.db.prepare(`INSERT INTO sessions (id_sha256, username, csrf_token, created_at, last_seen_at, expires_at)
      VALUES (?, ?, ?, ?, ?, ?)`).run(s.idHash, s.username, s.csrfToken, s.createdAt, s.lastSeenAt, s.expiresAt);
  }

  async findSession(idHash: string): Promise<SessionRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM sessions WHERE id_sha256 = ?').get(idHash) as SessionRow | undefined;
    return row && {
      idHash: row.id_sha256, username: row.username, csrfToken: row.csrf_token, createdAt: row.created_at,
      lastSeenAt: row.last_seen_at, expiresAt: row.expires_at,
    };
  }

  async touchSession(idHash: string, lastSeenAt: number): Promise<void> {
    this.db.prepare('UPDATE sessions SET last_seen_at = ? WHERE id_sha256 = ? AND last_seen_at < ?').run(lastSeenAt, idHash, lastSeenAt);
  }

  async deleteSession(idHash: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM sessions WHERE id_sha256 = ?').run(idHash).changes === 1;
  }

  async deleteSessionsOf(username: string): Promise<number> {
    return this.db.prepare('DELETE FROM sessions WHERE username = ?').run(username).changes;
  }

  async deleteExpiredSessions(at: number, idleSince: number): Promise<number> {
    return this.db.prepare('DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?').run(at, idleSince).changes;
  }
}
