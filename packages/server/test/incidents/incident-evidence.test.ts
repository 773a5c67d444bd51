import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Quality } from '@shellguard/protocol';
import { migrateServerDatabase } from '../../src/db/schema.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { EvidenceCapture, type TelemetryWindowReader } from '../../src/incidents/incident-evidence.ts';
import { SqlIncidentLog } from '../../src/incidents/sql-incident-log.ts';
import { telemetryWindowReader } from '../../src/incidents/telemetry-window-reader.ts';
import type { SqliteTelemetryStore } from '../../src/telemetry/sqlite-telemetry-store.ts';
import { sqliteTelemetryStore } from '../../src/testing/index.ts';
import { FakeScheduler, intrusion, MemoryAuditLog, MINUTE, T0 } from './incident-fixture.ts';

interface Read { site: string; asset: string; points: string[] | undefined; from: number; to: number }

/** A reader that answers one series per asset and remembers what it was asked. */
function recordingReader(fail: { times: number } = { times: 0 }): { read: TelemetryWindowReader; reads: Read[] } {
  const reads: Read[] = [];
  const read: TelemetryWindowReader = async (site, asset, points, from, to) => {
    reads.push({ site, asset, points, from, to });
    if (fail.times > 0) {
      fail.times--;
      throw new Error('telemetry store busy');
    }
    return [{ point: `${asset}.door`, samples: [{ ts: from, value: false }, { ts: to, value: true }] }];
  };
  return { read, reads };
}

let dir: string;
let scheduler: FakeScheduler;
const dbs: SqlDatabase[] = [];

async function open(file = ':memory:'): Promise<{ database: SqlDatabase; log: SqlIncidentLog; audit: MemoryAuditLog }> {
  const database = openSqliteSqlDatabase(file);
  dbs.push(database);
  await migrateServerDatabase(database);
  const audit = new MemoryAuditLog(() => scheduler.now);
  return { database, audit, log: new SqlIncidentLog(database.db, { engine: 'sqlite', now: () => scheduler.now, audit }) };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sg-evidence-'));
  scheduler = new FakeScheduler();
});
afterEach(async () => {
  for (const database of dbs.splice(0)) await database.close();
  rmSync(dir, { recursive: true, force: true });
});

const PANEL_AND_FEED = { targets: [{ asset: 'PANEL-LP-4B', role: 'panel' }, { asset: 'PDU-A12', role: 'feed', points: ['current_a'] }] };

describe('EvidenceCapture', () => {
  it('reads the panel\'s and the feed\'s window once it has passed, and keeps it with the incident', async () => {
    const { log } = await open();
    const { read, reads } = recordingReader();
    const capture = new EvidenceCapture({ store: log, read, clock: scheduler.clock, intervalMs: 15_000 });
    const { id } = await log.raise(intrusion({ evidence: PANEL_AND_FEED }));
    capture.start();

    await scheduler.advance(5 * MINUTE);
    expect(reads).toEqual([]);
    expect((await log.get(id))!.evidence.map((e) => e.state)).toEqual(['pending', 'pending']);

    await scheduler.advance(MINUTE + 15_000);
    expect(reads).toEqual([
      { site: 'dc1', asset: 'PANEL-LP-4B', points: undefined, from: T0 - 5 * MINUTE, to: T0 + 5 * MINUTE },
      { site: 'dc1', asset: 'PDU-A12', points: ['current_a'], from: T0 - 5 * MINUTE, to: T0 + 5 * MINUTE },
    ]);
    const evidence = (await log.get(id))!.evidence;
    expect(evidence.map((e) => [e.state, e.role, e.series?.[0]?.point])).toEqual([
      ['captured', 'panel', 'PANEL-LP-4B.door'], ['captured', 'feed', 'PDU-A12.door'],
    ]);
    expect(evidence[0]!.series![0]!.samples).toEqual([{ ts: T0 - 5 * MINUTE, value: false }, { ts: T0 + 5 * MINUTE, value: true }]);
    expect(evidence[0]!.capturedAt).toBeGreaterThanOrEqual(T0 + 6 * MINUTE);

    await scheduler.advance(10 * MINUTE);
    expect(reads).toHaveLength(2);
    await capture.stop();
  });

  it('records a digest of what it kept, so the audit chain shows an edit of the evidence', async () => {
    const { log, audit } = await open();
    const { read } = recordingReader();
    const { id } = await log.raise(intrusion());
    await new EvidenceCapture({ store: log, read, clock: scheduler.clock }).captureDue(T0 + 6 * MINUTE);
    const [evidence] = (await log.get(id))!.evidence;
    const digest = createHash('sha256').update(JSON.stringify(evidence!.series)).digest('hex');
    expect(audit.events.at(-1)).toMatchObject({
      actor: 'system', action: 'incident.evidence', target: `incident:${id}`,
      detail: { evidenceId: evidence!.id, asset: 'PANEL-LP-4B', state: 'captured', points: 1, samples: 2, sha256: digest },
    });
    expect((await log.history(id)).at(-1)).toMatchObject({ kind: 'evidence', actor: 'system', detail: { sha256: digest } });
  });

  it('completes a capture that fell due while the server was stopped, as soon as it starts again', async () => {
    const file = join(dir, 'shellguard.sqlite');
    const first = await open(file);
    const { id } = await first.log.raise(intrusion({ evidence: PANEL_AND_FEED }));
    await first.database.close();

    scheduler.now = T0 + 2 * 60 * MINUTE;
    const second = await open(file);
    const { read, reads } = recordingReader();
    const capture = new EvidenceCapture({ store: second.log, read, clock: scheduler.clock });
    capture.start();
    await scheduler.advance(0);
    expect(reads.map((r) => r.asset)).toEqual(['PANEL-LP-4B', 'PDU-A12']);
    expect((await second.log.get(id))!.evidence.map((e) => e.state)).toEqual(['captured', 'captured']);
    await capture.stop();
  });

  it('retries a failed read later, doubling the wait, and gives up after the last attempt', async () => {
    const { log } = await open();
    const { read, reads } = recordingReader({ times: 10 });
    const errors: string[] = [];
    const capture = new EvidenceCapture({
      store: log, read, clock: scheduler.clock, maxAttempts: 3, retryMs: MINUTE,
      onError: (err) => errors.push((err as Error).message),
    });
    const { id } = await log.raise(intrusion());

    expect(await capture.captureDue(T0 + 6 * MINUTE)).toEqual({ captured: 0, retrying: 1, failed: 0 });
    expect((await log.get(id))!.evidence[0]).toMatchObject({ state: 'pending', attempts: 1, dueAt: T0 + MINUTE, error: 'telemetry store busy' });
    scheduler.now = T0 + MINUTE;
    expect(await capture.captureDue(scheduler.now)).toEqual({ captured: 0, retrying: 1, failed: 0 });
    expect((await log.get(id))!.evidence[0]).toMatchObject({ attempts: 2, dueAt: T0 + 3 * MINUTE });
    expect(await capture.captureDue(T0 + 2 * MINUTE)).toEqual({ captured: 0, retrying: 0, failed: 0 });
    scheduler.now = T0 + 3 * MINUTE;
    expect(await capture.captureDue(scheduler.now)).toEqual({ captured: 0, retrying: 0, failed: 1 });
    expect((await log.get(id))!.evidence[0]).toMatchObject({ state: 'failed', attempts: 3 });
    expect((await log.history(id)).at(-1)).toMatchObject({ kind: 'evidence', detail: { state: 'failed', error: 'telemetry store busy' } });
    expect(reads).toHaveLength(3);
    expect(errors).toEqual(['telemetry store busy', 'telemetry store busy', 'telemetry store busy']);
    expect(await capture.captureDue(T0 + 60 * MINUTE)).toEqual({ captured: 0, retrying: 0, failed: 0 });
  });

  it('runs one capture at a time, and reads nothing once stopped', async () => {
    const { log } = await open();
    const { read, reads } = recordingReader();
    const capture = new EvidenceCapture({ store: log, read, clock: scheduler.clock });
    await log.raise(intrusion());
    const [a, b] = [capture.captureDue(T0 + 6 * MINUTE), capture.captureDue(T0 + 6 * MINUTE)];
    expect(await a).toEqual({ captured: 1, retrying: 0, failed: 0 });
    expect(await b).toEqual(await a);
    expect(reads).toHaveLength(1);

    await log.raise(intrusion());
    capture.start();
    await capture.stop();
    expect(scheduler.pending()).toBe(0);
    await scheduler.advance(60 * MINUTE);
    expect(reads).toHaveLength(1);
  });
});

describe('telemetryWindowReader', () => {
  let store: SqliteTelemetryStore;
  beforeEach(async () => {
    const { database } = await open();
    store = await sqliteTelemetryStore(database, { readWorkers: 0, now: () => T0 + 60 * MINUTE });
    const samples = [-6, -5, 0, 5, 6].flatMap((m) => [
      { point: 'door_open', ts: T0 + m * MINUTE, value: m >= 0, quality: Quality.good },
      { point: 'temp', ts: T0 + m * MINUTE, value: 20 + m, quality: Quality.good },
    ]);
    await store.appendBatches([{ deviceId: 'g'.repeat(64), site: 'dc1', asset: 'PANEL-LP-4B', epoch: '', seq: 1, samples }]);
  });
  afterEach(async () => { await store.close(); });

  it('reads every point of the asset over the window, ends included, oldest first', async () => {
    const read = telemetryWindowReader(store);
    const series = await read('dc1', 'PANEL-LP-4B', undefined, T0 - 5 * MINUTE, T0 + 5 * MINUTE);
    expect(series).toEqual([
      { point: 'door_open', samples: [{ ts: T0 - 5 * MINUTE, value: 0 }, { ts: T0, value: 1 }, { ts: T0 + 5 * MINUTE, value: 1 }] },
      { point: 'temp', samples: [{ ts: T0 - 5 * MINUTE, value: 15 }, { ts: T0, value: 20 }, { ts: T0 + 5 * MINUTE, value: 25 }] },
    ]);
  });

  it('reads the points asked for, keeping an unknown one as empty, and at most the sample limit', async () => {
    const read = telemetryWindowReader(store, { maxSamplesPerPoint: 2 });
    expect(await read('dc1', 'PANEL-LP-4B', ['temp', 'breaker_closed'], T0 - 10 * MINUTE, T0 + 10 * MINUTE)).toEqual([
      { point: 'temp', samples: [{ ts: T0 - 6 * MINUTE, value: 14 }, { ts: T0 - 5 * MINUTE, value: 15 }] },
      { point: 'breaker_closed', samples: [] },
    ]);
    expect(await read('dc1', 'NO-SUCH-ASSET', undefined, T0, T0 + MINUTE)).toEqual([]);
  });
});
