/** {@link ApiTokenStore} on the server's database, either engine (issue 12). Table: auth-schema.ts. */
import { sql, type Kysely } from 'kysely';
import { inTransaction, type SqlEngine, type SqlExecutor } from '../db/sql-database.ts';
import type { ApiTokenStore, StoredApiToken } from './api-token-store.ts';

interface TokenRow {
  id: string; name: string; role: string; secret_sha256: Buffer; created_at: number; last_used_at: number | null;
  revoked_at: number | null;
}

type Tables = { api_tokens: TokenRow };

/** pg_advisory_xact_lock key of "the first admin token" (its own: migrations hold another). */
const FIRST_ADMIN_LOCK_KEY = 0x5e11_70c3;

const toStored = (r: TokenRow): StoredApiToken => ({
  id: r.id, name: r.name, role: r.role, secretSha256: Buffer.from(r.secret_sha256), createdAt: r.created_at,
  lastUsedAt: r.last_used_at, revokedAt: r.revoked_at,
});

const toRow = (t: StoredApiToken): TokenRow => ({
  id: t.id, name: t.name, role: t.role, secret_sha256: t.secretSha256, created_at: t.createdAt, last_used_at: t.lastUsedAt,
  revoked_at: t.revokedAt,
});

export class SqlApiTokenStore implements ApiTokenStore {
  private readonly db: Kysely<Tables>;

  constructor(exec: SqlExecutor, private readonly options: { engine: SqlEngine }) {
    this.db = exec as Kysely<Tables>;
  }

  async insertToken(token: StoredApiToken): Promise<void> {
    await this.db.insertInto('api_tokens').values(toRow(token)).execute();
  }

  async insertFirstAdminToken(token: StoredApiToken): Promise<boolean> {
    return inTransaction(this.db, async (tx) => {
      // "None exists, so insert" is a read then a write: on PostgreSQL two replicas could both read
      // none, so they take turns on an advisory lock; SQLite's write lock already serialises them.
      if (this.options.engine === 'postgres') await sql`SELECT pg_advisory_xact_lock(${FIRST_ADMIN_LOCK_KEY})`.execute(tx);
      const existing = await tx.selectFrom('api_tokens').select('id')
        .where('role', '=', 'admin').where('revoked_at', 'is', null).limit(1).executeTakeFirst();
      if (existing) return false;
      await tx.insertInto('api_tokens').values(toRow(token)).execute();
      return true;
    });
  }

  async findToken(id: string): Promise<StoredApiToken | undefined> {
    const row = await this.db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toStored(row);
  }

  async listTokens(): Promise<StoredApiToken[]> {
    return (await this.db.selectFrom('api_tokens').selectAll().orderBy('created_at').orderBy('id').execute()).map(toStored);
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    const { numUpdatedRows } = await this.db.updateTable('api_tokens').set({ revoked_at: at })
      .where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirstOrThrow();
    return numUpdatedRows === 1n;
  }

  async recordUse(id: string, at: number): Promise<void> {
    await this.db.updateTable('api_tokens').set({ last_used_at: at })
      .where('id', '=', id).where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
      .execute();
  }
}
