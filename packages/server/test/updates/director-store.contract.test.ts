/** The DirectorStore port's contract, on every engine (STYLE.md §2). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';
import { DIRECTOR_MIGRATIONS } from '../../src/updates/director/director-schema.ts';
import { SqlDirectorStore } from '../../src/updates/director/sql-director-store.ts';

const DEVICE = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);

/** Another replica's handle on PostgreSQL; on SQLite (one server's file, one connection) the same server's. */
const replica = (t: TestDatabase) => (t.engine === 'postgres' ? t.reopen() : t.database);

describe.each(SQL_ENGINES)('DirectorStore contract on %s', (engine) => {
  let t: TestDatabase;
  let store: SqlDirectorStore;
  beforeEach(async () => {
    t = await createTestDatabase(engine, 'director');
    await runSqlMigrations(t.database, 'director', DIRECTOR_MIGRATIONS);
    store = new SqlDirectorStore(t.database.db);
  });
  afterEach(async () => { await t.destroy(); });

  it('reserves sequences 1, 2, ... per device, durably', async () => {
    expect(await store.nextSequence(DEVICE)).toBe(1);
    expect(await store.nextSequence(DEVICE)).toBe(2);
    expect(await store.nextSequence(OTHER)).toBe(1);
    expect(await new SqlDirectorStore(t.reopen().db).nextSequence(DEVICE)).toBe(3);
  });

  it('never hands one sequence out twice, whichever replica asks', async () => {
    const stores = [store, new SqlDirectorStore(replica(t).db), new SqlDirectorStore(replica(t).db)];
    const got = await Promise.all(Array.from({ length: 30 }, (_, i) => stores[i % 3]!.nextSequence(DEVICE)));
    expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(await store.nextSequence(DEVICE)).toBe(31);
  });

  it('keeps the latest instruction, and not one whose sequence a newer reservation overtook', async () => {
    expect(await store.latest(DEVICE)).toBeUndefined();
    const first = await store.nextSequence(DEVICE);
    expect(await store.latest(DEVICE)).toBeUndefined(); // reserved, nothing signed yet
    await store.saveLatest(DEVICE, first, Buffer.from('instruction 1'));
    expect(await store.latest(DEVICE)).toEqual({ sequence: 1, envelope: Buffer.from('instruction 1') });
    const slow = await store.nextSequence(DEVICE);
    const fast = await store.nextSequence(DEVICE);
    await store.saveLatest(DEVICE, fast, Buffer.from('instruction 3'));
    await store.saveLatest(DEVICE, slow, Buffer.from('instruction 2'));
    const latest = await new SqlDirectorStore(t.reopen().db).latest(DEVICE);
    expect(latest).toEqual({ sequence: 3, envelope: Buffer.from('instruction 3') });
    expect(Buffer.isBuffer(latest?.envelope)).toBe(true);
    await store.saveLatest(OTHER, 1, Buffer.from('never reserved'));
    expect(await store.latest(OTHER)).toBeUndefined();
  });

  it('stores nothing of a unit of work that fails', async () => {
    const uow = sqlUnitOfWork(t.database, (tx) => new SqlDirectorStore(tx));
    await expect(uow.run(async (s) => {
      const seq = await s.nextSequence(DEVICE);
      await s.saveLatest(DEVICE, seq, Buffer.from('x'));
      throw new Error('fails half-way');
    })).rejects.toThrow('half-way');
    expect(await store.nextSequence(DEVICE)).toBe(1);
  });
});
