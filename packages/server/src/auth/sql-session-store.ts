/** {@link SessionStore} on the server's database, either engine (issue 12). Tables: auth-schema.ts. */
import type { Kysely } from 'kysely';
import type { SqlExecutor } from '../db/sql-database.ts';
import type { SessionRecord, SessionStore } from './session-store.ts';

interface SessionRow {
  id_sha256: string; username: string; csrf_token: string; created_at: number; last_seen_at: number; expires_at: number;
}

export class SqlSessionStore implements SessionStore {
  private readonly db: Kysely<{ sessions: SessionRow }>;

  constructor(exec: SqlExecutor) {
    this.db = exec as Kysely<{ sessions: SessionRow }>;
  }

  async insertSession(s: SessionRecord): Promise<void> {
    await this.db.insertInto('sessions').values({
      id_sha256: s.idHash, username: s.username, csrf_token: s.csrfToken, created_at: s.createdAt, last_seen_at: s.lastSeenAt,
      expires_at: s.expiresAt,
    }).execute();
  }

  async findSession(idHash: string): Promise<SessionRecord | undefined> {
    const row = await this.db.selectFrom('sessions').selectAll().where('id_sha256', '=', idHash).executeTakeFirst();
    return row && {
      idHash: row.id_sha256, username: row.username, csrfToken: row.csrf_token, createdAt: row.created_at,
      lastSeenAt: row.last_seen_at, expiresAt: row.expires_at,
    };
  }

  async touchSession(idHash: string, lastSeenAt: number): Promise<void> {
    // Only forward: replicas touching the same session in any order leave the latest time.
    await this.db.updateTable('sessions').set({ last_seen_at: lastSeenAt })
      .where('id_sha256', '=', idHash).where('last_seen_at', '<', lastSeenAt).execute();
  }

  async deleteSession(idHash: string): Promise<boolean> {
    const { numDeletedRows } = await this.db.deleteFrom('sessions').where('id_sha256', '=', idHash).executeTakeFirstOrThrow();
    return numDeletedRows === 1n;
  }

  async deleteSessionsOf(username: string): Promise<number> {
    const { numDeletedRows } = await this.db.deleteFrom('sessions').where('username', '=', username).executeTakeFirstOrThrow();
    return Number(numDeletedRows);
  }

  async deleteExpiredSessions(at: number, idleSince: number): Promise<number> {
    const { numDeletedRows } = await this.db.deleteFrom('sessions')
      .where((eb) => eb.or([eb('expires_at', '<=', at), eb('last_seen_at', '<=', idleSince)]))
      .executeTakeFirstOrThrow();
    return Number(numDeletedRows);
  }
}
