/**
 * Ingest over the real device directory (the site registry in SQL, on both engines): the asset
 * binding holds across replicas — each replica an Ingest with its own memory, on its own handle.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Quality, decodeBatchAck, encodeDeviceBirth, encodeDeviceData, sparkplugTopic, type Sample } from '@shellguard/protocol';
import { ManualClock } from '@shellguard/protocol/testing';
import { migrateServerDatabase } from '../../src/db/schema.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import { Ingest, type IncomingBatch } from '../../src/ingest/ingest.ts';
import { RegistryDeviceDirectory } from '../../src/ingest/registry-device-directory.ts';
import { AssetMoves } from '../../src/registry/asset-moves.ts';
import { SqlSiteRegistry } from '../../src/registry/sql-site-registry.ts';
import type { AppendResult } from '../../src/telemetry/telemetry-store.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const NOW = 1_800_000_000_000;
const SITE = 'site-1';
const sample = (ts: number): Sample => ({ point: 'sat', ts, value: 1, quality: Quality.good });
const ddata = (edge: string, asset: string, seq: number) => [
  sparkplugTopic({ group: SITE, type: 'DDATA', edge, device: asset }),
  Buffer.from(encodeDeviceData({ epoch: 'e', seq }, [sample(NOW - 1000 + seq)], { sparkplugSeq: 0, now: NOW })),
] as const;

/** Stored batches, shared by the replicas (the telemetry store has its own contract suite). */
class SharedTelemetry {
  readonly stored: IncomingBatch[] = [];
  appendBatches(batches: readonly IncomingBatch[]): Promise<AppendResult> {
    this.stored.push(...batches);
    const refs = batches.map((b) => ({ deviceId: b.deviceId, epoch: b.epoch, seq: b.seq }));
    return Promise.resolve({ stored: refs, duplicates: [], conflicts: [], refused: [], samplesStored: batches.length });
  }
  pointCount(): number { return 1; }
}

describe.each(SQL_ENGINES)('Ingest over the site registry on %s', (engine) => {
  let t: TestDatabase;
  const telemetry = new SharedTelemetry();
  const registries: SqlSiteRegistry[] = [];
  const clock = new ManualClock(NOW);

  beforeEach(async () => {
    t = await createTestDatabase(engine, 'ingestreg');
    await migrateServerDatabase(t.database);
    telemetry.stored.length = 0;
  });
  afterEach(async () => {
    for (const r of registries.splice(0)) await r.close();
    await t.destroy();
  });

  function replica(database: SqlDatabase) {
    const registry = new SqlSiteRegistry(database.db, database.engine, { clock });
    registries.push(registry);
    const acks: { deviceId: string; ack: ReturnType<typeof decodeBatchAck> }[] = [];
    const ingest = new Ingest({
      telemetry, devices: new RegistryDeviceDirectory(registry, () => Promise.resolve(SITE)), clock, logger: pino({ level: 'silent' }),
      publishToDevice: (deviceId, _topic, payload) => acks.push({ deviceId, ack: decodeBatchAck(payload) }),
    });
    const moves = new AssetMoves({
      uow: sqlUnitOfWork(database, (tx) => ({
        registry: new SqlSiteRegistry(tx, database.engine, { clock }),
        audit: { record: (e) => Promise.resolve({ ...e, seq: 1, at: NOW, prevHash: '', hash: '' }) },
      })),
    });
    return { registry, ingest, acks, moves };
  }

  it('binds an asset to the guardian that reports it first and refuses the other, across replicas', async () => {
    const one = replica(t.database);
    const two = replica(engine === 'postgres' ? t.reopen() : t.database);
    for (let round = 0; round < 5; round++) {
      const asset = `CRAH-${round}`;
      one.ingest.accept(A, ...ddata(A, asset, round + 1));
      two.ingest.accept(B, ...ddata(B, asset, round + 1));
    }
    await Promise.all([one.ingest.flush(), two.ingest.flush()]);
    for (let round = 0; round < 5; round++) {
      const asset = `CRAH-${round}`;
      const writers = telemetry.stored.filter((b) => b.asset === asset).map((b) => b.deviceId);
      expect(writers, asset).toEqual([await one.registry.assetOwner(SITE, asset)]);
    }
    const refused = [...one.acks, ...two.acks].flatMap((a) => a.ack.rejected.map((r) => r.reason));
    expect(refused).toEqual(Array.from({ length: 5 }, () => 'asset_bound_elsewhere'));
  });

  it('refuses the old guardian\'s next batch once an operator on another replica has moved the asset', async () => {
    const one = replica(t.database);
    const two = replica(engine === 'postgres' ? t.reopen() : t.database);
    one.ingest.accept(A, sparkplugTopic({ group: SITE, type: 'DBIRTH', edge: A, device: 'UPS-1' }),
      Buffer.from(encodeDeviceBirth({ name: 'UPS 1', type: 'ups', area: 'elec', profile: 'p', points: [] }, { sparkplugSeq: 0, now: NOW })));
    one.ingest.accept(A, ...ddata(A, 'UPS-1', 1));
    await one.ingest.flush();
    expect(telemetry.stored.map((b) => b.seq)).toEqual([1]);

    await two.moves.move({ site: SITE, asset: 'UPS-1', toDeviceId: B, actor: 'user:op', reason: 'gateway replaced' });
    // Replica one still remembers UPS-1 as A's: the flush asks the database and refuses it.
    one.ingest.accept(A, ...ddata(A, 'UPS-1', 2));
    await one.ingest.flush();
    expect(telemetry.stored.map((b) => b.seq)).toEqual([1]);
    expect(one.acks.at(-1)!.ack).toMatchObject({ stored: [], rejected: [{ seq: 2, reason: 'asset_bound_elsewhere' }] });
    // The new owner writes it, on either replica.
    one.ingest.accept(B, ...ddata(B, 'UPS-1', 1));
    await one.ingest.flush();
    expect(telemetry.stored.map((b) => `${b.deviceId[0]}${b.seq}`)).toEqual(['a1', 'b1']);
    expect((await two.registry.listDevices()).map((d) => [d.id[0], d.assetCount])).toEqual([['a', 0]]);
  });
});
