/**
 * Trust hole 3 (issue 7): losing a guardian's queue lost its data silently. Batches were
 * de-duplicated by (device, seq), and seq lives in the queue database: with the queue file
 * deleted and the identity key kept (a reinstall, a corrupt disk), seq restarted at 1 and the
 * server acknowledged every new batch as a duplicate — nothing stored, nothing logged.
 *
 * Here a guardian's real outbox and uplink stream to a real server; the queue file is deleted
 * (the new queue gets a new epoch, and its batches are stored), and then a queue restored from
 * an old copy reuses sequence numbers within its epoch (refused for good, kept aside on the
 * guardian, counted and raised as an incident on the server — never acknowledged as stored).
 */
import { copyFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Quality, type AssetBirth, type Sample } from '@shellguard/protocol';
import { SITE, startTestSite, type TestSite } from '../support/enrolled-device.ts';
import { firstGuardian, startGuardianUplink, type SiteGuardian } from '../support/site-guardians.ts';
import { waitFor } from '../system/support/wait-for.ts';

const PDU: AssetBirth = {
  asset: 'PDU-07', name: 'PDU 7', type: 'pdu', area: 'hall-1', profile: 'pdu-generic',
  points: [{ name: 'active_power', unit: 'kW', kind: 'analog', description: 'Active power' }],
};

describe('a guardian whose queue was lost or restored (hole 3)', () => {
  let site: TestSite;
  let guardian: SiteGuardian;
  let queueFile: string;
  let t = Date.now() - 600_000;
  const readings = (n: number): Sample[] => Array.from({ length: n }, () => ({ point: 'active_power', ts: (t += 1000), value: 12.5, quality: Quality.good }));
  const storedCount = async (): Promise<number> => {
    const a = JSON.parse((await site.get(`/api/v1/assets/PDU-07?site=${SITE}`)).text) as { points: { id: number; name: string }[] };
    const p = a.points.find((x) => x.name === 'active_power')!;
    const r = await site.get(`/api/v1/points/${p.id}/samples?from=0&to=${Date.now() + 3_600_000}&limit=100000`);
    return (JSON.parse(r.text) as { samples: unknown[] }).samples.length;
  };
  const health = async () => JSON.parse((await site.get('/api/v1/health')).text) as { ingest: { rejected: Record<string, number>; batchesConflicting: number } };

  beforeAll(async () => {
    site = await startTestSite('sg-queue-loss-');
    guardian = firstGuardian(site);
    queueFile = path.join(guardian.dir, 'queue.sqlite');
  });
  afterAll(async () => {
    await site?.close();
  });

  it('stores the batches of a new queue (seq from 1 again) after the old queue file was deleted', async () => {
    const first = startGuardianUplink(site, guardian, [PDU], queueFile);
    const firstEpoch = first.outbox.epoch;
    for (let i = 0; i < 3; i++) first.send('PDU-07', readings(4));
    await waitFor('the first queue is drained', () => first.outbox.stats().pendingBatches === 0, { timeoutMs: 20_000 });
    await first.stop();
    expect(await storedCount()).toBe(12);

    // Reinstall: the identity key stays, the queue is gone.
    for (const f of [queueFile, `${queueFile}-wal`, `${queueFile}-shm`]) rmSync(f, { force: true });
    const second = startGuardianUplink(site, guardian, [PDU], queueFile);
    try {
      expect(second.outbox.epoch).not.toBe(firstEpoch);
      const seqs = [second.send('PDU-07', readings(4)), second.send('PDU-07', readings(4))];
      expect(seqs).toEqual([1, 2]);
      await waitFor('the new queue is drained', () => second.outbox.stats().pendingBatches === 0, { timeoutMs: 20_000 });
      expect(second.outbox.stats().rejectedBatches).toBe(0);
    } finally {
      await second.stop();
    }
    expect(await storedCount()).toBe(20);
  });

  it('refuses, surfaces and keeps aside the batches of a queue restored from an old copy (seq going backwards in its epoch)', async () => {
    // The copy is taken while the queue (closed, so its WAL is folded in) is at seq 3 ...
    const copy = `${queueFile}.copy`;
    copyFileSync(queueFile, copy);
    const live = startGuardianUplink(site, guardian, [PDU], queueFile);
    for (let i = 0; i < 2; i++) live.send('PDU-07', readings(4));
    await waitFor('two batches stored', () => live.outbox.stats().pendingBatches === 0, { timeoutMs: 20_000 });
    await live.stop();
    expect(await storedCount()).toBe(28);

    // ... and restored later: the same epoch numbers new readings 3 and 4 again.
    for (const f of [queueFile, `${queueFile}-wal`, `${queueFile}-shm`]) rmSync(f, { force: true });
    copyFileSync(copy, queueFile);
    const restored = startGuardianUplink(site, guardian, [PDU], queueFile);
    try {
      restored.send('PDU-07', readings(4));
      restored.send('PDU-07', readings(4));
      await waitFor('the server refused both', () => restored.outbox.stats().rejectedBatches === 2, { timeoutMs: 20_000 });
    } finally {
      await restored.stop();
    }
    const queue = new Database(queueFile, { readonly: true });
    expect(queue.prepare('SELECT seq, reason FROM rejected ORDER BY seq').all()).toEqual([
      { seq: 3, reason: 'batch_seq_reused' }, { seq: 4, reason: 'batch_seq_reused' },
    ]);
    queue.close();
    expect(await storedCount()).toBe(28);
    const h = await health();
    expect(h.ingest.batchesConflicting).toBe(2);
    expect(h.ingest.rejected.batch_seq_reused).toBe(2);
    const incidents = JSON.parse((await site.get(`/api/v1/incidents?deviceId=${guardian.deviceId}`)).text) as { incidents: { reason: string }[] };
    expect(incidents.incidents.map((i) => i.reason)).toContain('batch_seq_reused');
  });
});
