import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '@shellguard/protocol/testing';
import { migrateServerDatabase } from '../../src/db/schema.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import { openAuditLog, type OpenedAuditLog } from '../../src/audit/open-audit-log.ts';
import { readAuditKeyFile } from '../../src/audit/audit-key.ts';
import { ANCHOR_WEBHOOK_TYPE, parseAnchorLine, webhookAnchorSink, type AuditAnchor } from '../../src/audit/audit-anchor.ts';
import { AuditAnchoring } from '../../src/audit/audit-anchoring.ts';
import { AnchorFile } from '../../src/audit/anchor-file.ts';
import { GENESIS_HASH } from '../../src/audit/event-hash.ts';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookNotifier, verifyWebhookSignature } from '../../src/alarms/webhook-notifier.ts';
import type { AuditConfig } from '../../src/config/config.ts';

const T0 = Date.UTC(2026, 3, 1, 8, 0, 0);
const INTERVAL = 60_000;
let dir: string;
let config: AuditConfig;
let time: ManualClock;
let database: SqlDatabase;
let opened: OpenedAuditLog;
let published: AuditAnchor[];

const record = async (n = 1) => {
  for (let i = 0; i < n; i++) await opened.log.record({ actor: 'system', action: 'test.event', target: 't', detail: { i } });
};
/** Moves time on and lets the anchors that fell due be written. */
const advance = async (ms: number) => {
  time.advance(ms);
  await opened.anchoring.idle();
};
const fileAnchors = (): AuditAnchor[] => {
  const key = readAuditKeyFile(config.keyFile);
  return readFileSync(config.anchorFile, 'utf8').split('\n').filter((l) => l !== '').map((l) => {
    const parsed = parseAnchorLine(key, l);
    if (!parsed.ok) throw new Error(`bad anchor line ${l}`);
    return parsed.anchor;
  });
};
const openDatabaseFile = async () => {
  const d = openSqliteSqlDatabase(path.join(dir, 'shellguard.sqlite'));
  await migrateServerDatabase(d);
  return d;
};

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sg-audit-anchor-'));
  config = { keyFile: path.join(dir, 'audit.key'), anchorFile: path.join(dir, 'audit-anchors.log'), anchorEveryEvents: 3, anchorIntervalMs: INTERVAL };
  time = new ManualClock(T0);
  published = [];
  database = await openDatabaseFile();
  opened = await openAuditLog(database, config, { clock: time, sink: { publish: (a) => published.push(a) } });
});
afterEach(async () => {
  await opened.close();
  await database.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('AuditAnchoring', () => {
  it('anchors the head at start, in a file of mode 0600, and publishes the same anchor', () => {
    expect(fileAnchors()).toEqual([expect.objectContaining({ v: 1, seq: 0, hash: GENESIS_HASH, keyedFrom: 1, at: T0, reason: 'start' })]);
    expect(published).toEqual(fileAnchors());
    expect(statSync(config.anchorFile).mode & 0o777).toBe(0o600);
  });

  it('anchors after every anchorEveryEvents events, on the timer, never inside record', async () => {
    await record(3);
    expect(fileAnchors()).toHaveLength(1); // record() did no I/O
    await advance(0);
    const head = await opened.log.head();
    expect(fileAnchors().at(-1)).toMatchObject({ seq: 3, hash: head.hash, reason: 'events' });
    await record(2);
    await advance(0);
    expect(fileAnchors()).toHaveLength(2);
  });

  it('anchors anchorIntervalMs after the last anchor when events were added, and not at all when idle', async () => {
    await advance(10 * INTERVAL);
    expect(fileAnchors()).toHaveLength(1);
    expect(time.dueTimes()).toEqual([]);
    // The last anchor is more than an interval old: the first new event is anchored at once...
    await record(1);
    await advance(0);
    expect(fileAnchors().at(-1)).toMatchObject({ seq: 1, reason: 'interval' });
    // ...and the next one an interval after that anchor.
    await record(1);
    await advance(INTERVAL - 1);
    expect(fileAnchors()).toHaveLength(2);
    await advance(1);
    expect(fileAnchors().at(-1)).toMatchObject({ seq: 2, reason: 'interval' });
    // It looks once more an interval later (an event whose transaction was still open would be
    // anchored then), writes nothing since the head stayed put, and then waits for the next event.
    await advance(INTERVAL);
    expect(fileAnchors()).toHaveLength(3);
    expect(time.dueTimes()).toEqual([]);
  });

  it('counts the interval from the last anchor, not from the event', async () => {
    await advance(INTERVAL - 10);
    await record(1);
    await advance(10);
    expect(fileAnchors().at(-1)).toMatchObject({ seq: 1, reason: 'interval', at: T0 + INTERVAL });
  });

  it('anchors only what was committed when the caller\'s unit of work rolls back', async () => {
    await record(2);
    const uow = sqlUnitOfWork(database, (tx) => ({ audit: opened.log.recorderIn(tx) }));
    await expect(uow.run(async ({ audit }) => {
      await audit.record({ actor: 'system', action: 'fleet.change', target: 't', detail: {} });
      throw new Error('the fleet change failed');
    })).rejects.toThrow('the fleet change failed');
    await advance(0);
    await advance(INTERVAL);
    const last = fileAnchors().at(-1)!;
    expect(last.seq).toBe(2);
    expect((await opened.log.verify()).ok).toBe(true);
  });

  it('takes an anchor due while a unit of work is open from the head as it ends, never from inside it', async () => {
    await record(2);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    let inside!: () => void;
    const recorded = new Promise<void>((resolve) => { inside = resolve; });
    const run = sqlUnitOfWork(database, (tx) => ({ audit: opened.log.recorderIn(tx) })).run(async ({ audit }) => {
      await audit.record({ actor: 'system', action: 'fleet.change', target: 't', detail: {} });
      inside();
      await gate;
      throw new Error('rolled back');
    });
    await recorded;
    const anchoring = opened.anchoring.anchorNow('events');
    release();
    await expect(run).rejects.toThrow('rolled back');
    expect(await anchoring).toMatchObject({ seq: 2, reason: 'events' });
  });

  it('writes a stop anchor on close', async () => {
    await record(1);
    await opened.close();
    expect(fileAnchors().at(-1)).toMatchObject({ seq: 1, reason: 'stop' });
    expect(time.dueTimes()).toEqual([]);
  });

  it('puts a line torn by a crash on its own, so only that line fails verification', async () => {
    await record(1);
    await opened.close();
    await database.close();
    appendFileSync(config.anchorFile, '{"at":1,"hash":"ab'); // the crash
    database = await openDatabaseFile();
    opened = await openAuditLog(database, config, { clock: time });
    const v = await opened.log.verify();
    expect(v.problems).toEqual([expect.objectContaining({ code: 'anchor_invalid', line: 3 })]);
    expect(v.anchors.checked).toBe(3);
  });
});

describe('AuditAnchoring without the file at hand', () => {
  it('reports a failed periodic write and tries again after the interval', async () => {
    const errors: unknown[] = [];
    let fail = true;
    const lines: string[] = [];
    const file = { path: 'x', append: (l: string) => { if (fail) throw new Error('ENOSPC'); lines.push(l); }, close: () => undefined };
    const fake = new ManualClock(T0);
    let head = { seq: 0, hash: GENESIS_HASH };
    const anchoring = new AuditAnchoring({
      head: async () => head, keyedFromSeq: 1, key: readAuditKeyFile(config.keyFile), file: file as unknown as AnchorFile,
      everyEvents: 1, intervalMs: INTERVAL, clock: fake, onError: (e) => errors.push(e),
    });
    head = { seq: 1, hash: 'a'.repeat(64) };
    anchoring.eventRecorded();
    fake.advance(0);
    await anchoring.idle();
    expect(errors).toHaveLength(1);
    fail = false;
    fake.advance(INTERVAL);
    await anchoring.idle();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ seq: 1, reason: 'interval' });
  });

  it('refuses to open an anchor file it cannot write, with a clear code', () => {
    writeFileSync(path.join(dir, 'not-a-dir'), '');
    expect(() => AnchorFile.open(path.join(dir, 'not-a-dir', 'anchors.log'))).toThrow(expect.objectContaining({ code: 'audit_anchor_unwritable' }));
  });
});

describe('webhookAnchorSink', () => {
  it('sends each anchor through the signed webhooks as type audit.anchor, the anchor intact inside', async () => {
    const secret = 'receiver-secret-0123456789';
    const bodies: { body: string; headers: Record<string, string> }[] = [];
    const notifier = new WebhookNotifier({
      webhooks: [{ id: 'soc', url: 'https://soc.example/anchors', secret }],
      clock: time,
      transport: async (_url, body, headers) => { bodies.push({ body, headers }); return 204; },
    });
    const anchoring = new AuditAnchoring({
      head: () => opened.log.head(), keyedFromSeq: 1, key: readAuditKeyFile(config.keyFile),
      file: AnchorFile.open(path.join(dir, 'second.log')), sink: webhookAnchorSink(notifier),
      everyEvents: 100, intervalMs: INTERVAL, clock: time,
    });
    await anchoring.start();
    await notifier.idle();
    expect(bodies).toHaveLength(1);
    const { body, headers } = bodies[0]!;
    expect(verifyWebhookSignature(secret, body, { signature: headers[SIGNATURE_HEADER], timestamp: headers[TIMESTAMP_HEADER] }, time.now())).toEqual({ ok: true });
    const payload = JSON.parse(body) as { type: string; anchor: AuditAnchor };
    expect(payload.type).toBe(ANCHOR_WEBHOOK_TYPE);
    // What the receiver keeps is a line `audit verify --anchors` accepts.
    expect(parseAnchorLine(readAuditKeyFile(config.keyFile), JSON.stringify(payload.anchor))).toMatchObject({ ok: true, anchor: { seq: 0, reason: 'start' } });
    await anchoring.stop();
    notifier.close();
  });
});
