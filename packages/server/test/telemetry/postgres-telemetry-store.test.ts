/**
 * What is PostgreSQL's own in PostgresTelemetryStore (the port's behaviour is in
 * telemetry-store.contract.test.ts): raw windows made ahead, closed, compacted and dropped; late
 * samples; a compaction that fails midway; an append that fails; retention by whole partitions.
 */
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { TELEMETRY_MIGRATIONS } from '../../src/telemetry/layout.ts';
import { PostgresTelemetryStore, type PostgresTelemetryStoreOptions } from '../../src/telemetry/postgres-telemetry-store.ts';
import { createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';
import { DAY, T0, batch, clock, series, type Clock } from './telemetry-fixtures.ts';

const HOUR = 3_600_000;
/** T0 is 40 s past a minute; the hour it falls in starts here. */
const H0 = Math.floor(T0 / HOUR) * HOUR;

describe('PostgresTelemetryStore layout', () => {
  let t: TestDatabase;
  let c: Clock;
  const stores: PostgresTelemetryStore[] = [];
  const open = async (options: PostgresTelemetryStoreOptions = {}) => {
    const s = await PostgresTelemetryStore.open(t.database, { now: c.now, ...options });
    stores.push(s);
    return s;
  };
  const q = async <R>(text: string) => (await sql.raw<R>(text).execute(t.database.db)).rows;
  const partitions = async (parent: string) =>
    (await q<{ name: string; detached: number }>(`SELECT name, detached FROM telemetry_partitions WHERE parent = '${parent}' ORDER BY start_ts`));

  beforeEach(async () => {
    t = await createTestDatabase('postgres', 'telemetry_pg');
    await runSqlMigrations(t.database, 'telemetry', TELEMETRY_MIGRATIONS);
    c = clock(H0 + 10 * 60_000);
  });
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    await t.destroy();
  });

  it('refuses a database whose telemetry tables are not migrated', async () => {
    const bare = await createTestDatabase('postgres', 'telemetry_bare');
    try {
      await expect(PostgresTelemetryStore.open(bare.database)).rejects.toThrow(/not migrated/);
    } finally {
      await bare.destroy();
    }
  });

  it('makes windows ahead, compacts each once it has closed into one chunk per point, and drops it', async () => {
    const store = await open({ windowGraceMs: 5 * 60_000 });
    await store.compact();
    expect((await partitions('samples')).map((p) => p.name)).toEqual(['samples_20250615_1500', 'samples_20250615_1600', 'samples_20250615_1700']);
    // An hour of 1 Hz for three points, in 10 s batches, into the first window.
    let seq = 0;
    for (let i = 0; i < 3600; i += 10) {
      await store.appendBatches([batch(++seq, ['a', 'b', 'c'].flatMap((p) => series(p, H0 + i * 1000, 10, 1000, (k) => i + k)))]);
    }
    expect((await q<{ n: number }>('SELECT count(*)::int AS n FROM samples_20250615_1500'))[0]!.n).toBe(10_800);
    expect((await q<{ n: number }>('SELECT count(*)::int AS n FROM samples_late'))[0]!.n).toBe(0);
    // Not closed yet (grace): nothing compacted.
    c.set(H0 + HOUR + 60_000);
    expect(await store.compact()).toMatchObject({ ran: true, windowsCompacted: 0, samplesCompacted: 0 });
    c.set(H0 + HOUR + 6 * 60_000);
    expect(await store.compact()).toMatchObject({ ran: true, windowsCompacted: 1, samplesCompacted: 10_800, chunksWritten: 3 });
    expect((await partitions('samples')).map((p) => p.name)).toEqual(['samples_20250615_1600', 'samples_20250615_1700', 'samples_20250615_1800']);
    const chunks = await q<{ point_id: number; count: number }>('SELECT point_id, count FROM chunks ORDER BY point_id');
    expect(chunks.map((r) => r.count)).toEqual([3600, 3600, 3600]);
    // A late sample for the hour gone lands in samples_late and is read and compacted from there.
    await store.appendBatches([batch(++seq, series('a', H0 + 500, 1, 1000, () => -1))]);
    expect((await q<{ n: number }>('SELECT count(*)::int AS n FROM samples_late'))[0]!.n).toBe(1);
    const a = store.findPointId('site-a', 'AHU-1', 'a')!;
    const read = async () => (await store.querySamples(a, H0, H0 + HOUR, 10_000));
    expect(await read()).toHaveLength(3601);
    expect(await store.compact()).toMatchObject({ samplesCompacted: 1 });
    const after = await read();
    expect(after).toHaveLength(3601);
    expect(after[1]).toEqual({ ts: H0 + 500, value: -1, quality: 192 });
    expect((await store.queryBuckets(a, H0, H0 + HOUR - 1, HOUR))[0]).toMatchObject({ count: 3601, min: -1, max: 3599 });
  });

  it('moves samples that reached samples_late before their window existed into it', async () => {
    const store = await open();
    await store.appendBatches([batch(1, series('a', H0 + 60_000, 30))]);
    expect((await q<{ n: number }>('SELECT count(*)::int AS n FROM samples_late'))[0]!.n).toBe(30);
    await store.compact();
    expect((await q<{ n: number }>('SELECT count(*)::int AS n FROM samples_late'))[0]!.n).toBe(0);
    expect((await q<{ n: number }>('SELECT count(*)::int AS n FROM samples_20250615_1500'))[0]!.n).toBe(30);
    expect(await store.querySamples(store.findPointId('site-a', 'AHU-1', 'a')!, H0, H0 + HOUR, 100)).toHaveLength(30);
  });

  it('keeps every sample once when a compaction transaction fails midway, and finishes on the next pass', async () => {
    let fail = true;
    const store = await open({ afterSliceWritten: () => { if (fail) throw new Error('crash midway'); } });
    await store.compact();
    await store.appendBatches([batch(1, [...series('a', H0, 100), ...series('b', H0, 100)])]);
    await expect(store.compactAll()).rejects.toThrow('crash midway');
    const a = store.findPointId('site-a', 'AHU-1', 'a')!;
    expect(await store.querySamples(a, H0, H0 + HOUR, 1000)).toHaveLength(100);
    expect((await q<{ n: number }>('SELECT count(*)::int AS n FROM chunks'))[0]!.n).toBe(0);
    // compactAll detached every window before the failure: the samples are read from where they wait.
    expect((await partitions('samples')).filter((p) => p.detached === 1)).toHaveLength(3);
    fail = false;
    expect(await store.compactAll()).toMatchObject({ samplesCompacted: 200 });
    expect((await store.querySamples(a, H0, H0 + HOUR, 1000)).map((s) => s.value)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect((await partitions('samples')).filter((p) => p.detached === 1)).toHaveLength(0);
  });

  it('stores nothing of an append whose transaction fails, so nothing is acknowledged', async () => {
    const store = await open();
    await store.appendBatches([batch(1, series('p', T0, 2))]);
    await q(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RAISE EXCEPTION ''disk full (simulated)''; END'`);
    await q('CREATE TRIGGER refuse BEFORE INSERT ON samples_late FOR EACH ROW EXECUTE FUNCTION refuse()');
    await expect(store.appendBatches([batch(2, series('q', T0, 2))])).rejects.toThrow(/disk full/);
    await q('DROP TRIGGER refuse ON samples_late');
    expect(store.findPointId('site-a', 'AHU-1', 'q')).toBeUndefined();
    expect((await q<{ n: number }>("SELECT count(*)::int AS n FROM series WHERE point = 'q'"))[0]!.n).toBe(0);
    const retry = await store.appendBatches([batch(2, series('q', T0, 2))]);
    expect(retry.stored).toEqual([{ deviceId: 'dev-1', epoch: 'e1', seq: 2 }]);
  });

  it('drops whole chunk and minute partitions once every site is past them, and deletes per site where policies differ', async () => {
    const store = await open({ retention: { default: { rawMs: 10 * DAY, minuteMs: 20 * DAY, hourMs: 400 * DAY }, sites: { 'site-b': { rawMs: 2 * DAY } } } });
    await store.appendBatches([batch(1, series('v', T0, 120)), batch(1, series('w', T0, 120), { site: 'site-b', deviceId: 'dev-b' })]);
    await store.compactAll();
    expect((await partitions('chunks')).map((p) => p.name)).toEqual(['chunks_20250611_0000']);
    c.set(T0 + 5 * DAY);
    expect(await store.expire()).toEqual({ chunksDeleted: 1, partitionsDropped: 0 }); // site-b's, by point
    expect((await store.storageReport()).sites.map((s) => [s.site, s.chunkSamples])).toEqual([['site-a', 120], ['site-b', 0]]);
    c.set(T0 + 100 * DAY);
    expect(await store.expire()).toEqual({ chunksDeleted: 1, partitionsDropped: 2 });
    expect(await partitions('chunks')).toEqual([]);
    expect(await partitions('rollup_60000')).toEqual([]);
    expect((await store.storageReport()).chunkSamples).toBe(0);
    const v = store.findPointId('site-a', 'AHU-1', 'v')!;
    const hour = Math.floor(T0 / HOUR) * HOUR;
    expect((await store.queryBuckets(v, hour, hour + HOUR - 1, HOUR))[0]).toMatchObject({ count: 120 });
  });

  it('compacts in the background on its own timer', async () => {
    const store = await open({ windowGraceMs: 0 });
    await store.appendBatches([batch(1, series('a', H0, 60))]);
    const compacted = new Promise((resolve) => store.events.once('compacted', resolve));
    c.set(H0 + 2 * HOUR);
    store.startMaintenance({ intervalMs: 10, compactEveryMs: 0 });
    await compacted;
    store.stopMaintenance();
    expect((await q<{ n: number }>('SELECT sum(count)::int AS n FROM chunks'))[0]!.n).toBe(60);
  });
});
