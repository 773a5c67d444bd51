import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { runSqlMigrations, type SqlMigration } from '../../src/db/sql-migrations.ts';
import { inTransaction } from '../../src/db/sql-database.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import { SQL_ENGINES, TcpLink, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';
import { openPostgresDatabase } from '../../src/db/postgres-database.ts';

const MIGRATIONS: SqlMigration[] = [
  {
    version: 1, description: 'notes',
    sqlite: 'CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, at INTEGER NOT NULL)',
    postgres: 'CREATE TABLE notes (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body TEXT NOT NULL, at BIGINT NOT NULL)',
  },
  {
    version: 2, description: 'tags',
    sqlite: 'CREATE TABLE tags (note_id INTEGER NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (note_id, tag)); CREATE INDEX tags_by_tag ON tags (tag)',
    postgres: 'CREATE TABLE tags (note_id BIGINT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (note_id, tag)); CREATE INDEX tags_by_tag ON tags (tag)',
  },
];

describe.each(SQL_ENGINES)('SqlDatabase on %s', (engine) => {
  let t: TestDatabase;
  beforeEach(async () => { t = await createTestDatabase(engine, 'sqldb'); });
  afterEach(async () => { await t.destroy(); });

  it('applies migrations once, records the version, and refuses a schema newer than it knows', async () => {
    expect(await runSqlMigrations(t.database, 'notes', MIGRATIONS.slice(0, 1))).toBe(1);
    expect(await runSqlMigrations(t.database, 'notes', MIGRATIONS)).toBe(2);
    expect(await runSqlMigrations(t.database, 'notes', MIGRATIONS)).toBe(2);
    await expect(runSqlMigrations(t.database, 'notes', MIGRATIONS.slice(0, 1))).rejects.toThrow(/version 2, newer than this server knows \(1\)/);
  });

  it('refuses migrations with gaps', async () => {
    await expect(runSqlMigrations(t.database, 'gappy', [{ ...MIGRATIONS[1]!, version: 2 }])).rejects.toThrow(/without gaps/);
  });

  // SQLite is one server's file (one connection, one write lock); replicas share PostgreSQL only.
  it.runIf(engine === 'postgres')('lets two servers start at once: one migrates, the other finds it done', async () => {
    const other = t.reopen();
    const [a, b] = await Promise.all([runSqlMigrations(t.database, 'notes', MIGRATIONS), runSqlMigrations(other, 'notes', MIGRATIONS)]);
    expect([a, b]).toEqual([2, 2]);
    const row = await t.database.db.selectFrom('schema_versions').selectAll().where('domain', '=', 'notes').executeTakeFirstOrThrow();
    expect(row.version).toBe(2);
  });

  it('returns BIGINT times as numbers', async () => {
    await runSqlMigrations(t.database, 'notes', MIGRATIONS);
    const at = 1_790_000_000_123;
    await t.database.db.insertInto('notes').values({ body: 'x', at }).execute();
    const row = await t.database.db.selectFrom('notes').selectAll().executeTakeFirstOrThrow();
    expect(row.at).toBe(at);
    expect(typeof row.id).toBe('number');
  });

  it('commits a unit of work together and rolls all of it back when one write fails', async () => {
    await runSqlMigrations(t.database, 'notes', MIGRATIONS);
    const uow = sqlUnitOfWork(t.database, (tx) => ({
      note: async (body: string) => (await tx.insertInto('notes').values({ body, at: 1 }).returning('id').executeTakeFirstOrThrow()).id as number,
      tag: async (noteId: number, tag: string) => { await tx.insertInto('tags').values({ note_id: noteId, tag }).execute(); },
    }));
    await uow.run(async (s) => { const id = await s.note('kept'); await s.tag(id, 'a'); });
    await expect(uow.run(async (s) => {
      const id = await s.note('lost');
      await s.tag(id, 'a');
      await s.tag(id, 'a'); // primary key violation
    })).rejects.toThrow();
    const notes = await t.database.db.selectFrom('notes').select('body').execute();
    expect(notes.map((n) => n.body)).toEqual(['kept']);
    expect(await t.database.db.selectFrom('tags').selectAll().execute()).toHaveLength(1);
  });

  it('runs after-commit effects once the unit of work has committed, and never after a rollback', async () => {
    await runSqlMigrations(t.database, 'notes', MIGRATIONS);
    const seen: string[] = [];
    const uow = sqlUnitOfWork(t.database, (tx, hooks) => ({
      note: async (body: string) => {
        await tx.insertInto('notes').values({ body, at: 1 }).execute();
        hooks.afterCommit(() => { seen.push(`${body}:${rowsVisibleOutside.length}`); });
      },
    }));
    let rowsVisibleOutside: unknown[] = [];
    await uow.run(async (s) => { await s.note('kept'); });
    expect(seen).toEqual(['kept:0']);
    rowsVisibleOutside = await t.database.db.selectFrom('notes').selectAll().execute();
    await expect(uow.run(async (s) => { await s.note('lost'); throw new Error('roll back'); })).rejects.toThrow('roll back');
    expect(seen).toEqual(['kept:0']);
  });

  it('inTransaction joins the caller’s transaction instead of opening a second one', async () => {
    await runSqlMigrations(t.database, 'notes', MIGRATIONS);
    await expect(t.database.db.transaction().execute(async (tx) => {
      await inTransaction(tx, async (inner) => { await inner.insertInto('notes').values({ body: 'inner', at: 1 }).execute(); });
      throw new Error('outer fails');
    })).rejects.toThrow('outer fails');
    expect(await t.database.db.selectFrom('notes').selectAll().execute()).toHaveLength(0);
  });

  it('keeps concurrent units of work apart', async () => {
    await runSqlMigrations(t.database, 'notes', MIGRATIONS);
    const uow = sqlUnitOfWork(t.database, (tx) => tx);
    await Promise.all(Array.from({ length: 20 }, (_, i) => uow.run(async (tx) => {
      await tx.insertInto('notes').values({ body: `n${i}`, at: i }).execute();
      await sql`SELECT 1`.execute(tx);
      if (i % 2 === 1) throw new Error('odd ones roll back');
    }).catch(() => undefined)));
    const bodies = (await t.database.db.selectFrom('notes').select('body').execute()).map((r) => r.body as string).sort();
    expect(bodies).toEqual(Array.from({ length: 10 }, (_, i) => `n${i * 2}`).sort());
  });
});

describe('SQLite write lock', () => {
  it('keeps a raw write out of an open kysely transaction that rolls back', async () => {
    const t = await createTestDatabase('sqlite', 'lock');
    try {
      await runSqlMigrations(t.database, 'notes', MIGRATIONS);
      const { handle, lock } = t.database.sqlite!;
      let rawDone = false;
      let raw: Promise<void> | undefined;
      const tx = t.database.db.transaction().execute(async (trx) => {
        await trx.insertInto('notes').values({ body: 'in-tx', at: 1 }).execute();
        // A raw writer (the telemetry store's shape) tries to write while the transaction is open.
        raw = lock.run(() => { handle.prepare('INSERT INTO notes (body, at) VALUES (?, ?)').run('raw', 2); rawDone = true; });
        await new Promise((r) => setImmediate(r));
        expect(rawDone).toBe(false);
        throw new Error('roll back');
      });
      await expect(tx).rejects.toThrow('roll back');
      await raw;
      expect(rawDone).toBe(true);
      expect((handle.prepare('SELECT body FROM notes').all() as { body: string }[]).map((r) => r.body)).toEqual(['raw']);
    } finally {
      await t.destroy();
    }
  });
});

describe('PostgreSQL connections that fail mid-query', () => {
  it('rejects the query, reports the connection, and keeps the process running', async () => {
    const t = await createTestDatabase('postgres', 'pg_cut');
    const target = new URL(t.location);
    const link = await TcpLink.open(Number(target.port || 5432));
    const viaLink = new URL(t.location);
    viaLink.hostname = '127.0.0.1';
    viaLink.port = String(link.port);
    const failures: string[] = [];
    const database = openPostgresDatabase({ url: viaLink.toString(), maxConnections: 2, onIdleError: (err) => failures.push(err.message) });
    try {
      const slow = sql`SELECT pg_sleep(5)`.execute(database.db);
      await new Promise((resolve) => setTimeout(resolve, 300));
      link.cut();
      await expect(slow).rejects.toThrow();
      // Without our listener on checked-out clients, pg's 'error' event would have ended this process here.
      link.restore();
      const r = await sql<{ one: number }>`SELECT 1 AS one`.execute(database.db);
      expect(r.rows[0]!.one).toBe(1);
      expect(failures.length, 'the failed connection was reported').toBeGreaterThan(0);
    } finally {
      await database.close();
      await link.close();
      await t.destroy();
    }
  });
});
