/**
 * The scale-out layout with two replicas on one machine (issue 12, "Running it"): `shellguard demo
 * --database postgres://… --broker mosquitto --replicas 2`, as scripts/scale-out.sh runs it, in a
 * child process. The demo starts Mosquitto and a nats-server on their own ports; two server
 * replicas share the site: both connect to Mosquitto under their own names and heartbeat in
 * PostgreSQL, one leads and evaluates what the bus hands it (its handled-message ids land in
 * PostgreSQL), the guardians' telemetry lands in PostgreSQL. Ctrl-C stops all of it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@shellguard/server/testing';
import { CliProcess } from './support/cli-process.ts';
import { waitFor } from './support/wait-for.ts';

const GUARDIANS = 2;
let work: string;
let db: TestDatabase;
let demo: CliProcess | undefined;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function count(client: pg.Client, sql: string): Promise<number> {
  const r = await client.query<{ n: string }>(sql);
  return Number(r.rows[0]!.n);
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'sg-demo-replicas-'));
  db = await createTestDatabase('postgres', 'demorepl');
});

afterAll(async () => {
  if (demo?.running) await demo.stop('SIGKILL');
  await db?.destroy();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('shellguard demo with two replicas', () => {
  it('runs two replicas on PostgreSQL, Mosquitto and NATS: one leads and evaluates, the guardians\' telemetry is stored, Ctrl-C stops it all', async () => {
    const dir = path.join(work, 'demo');
    demo = new CliProcess('demo', [
      'demo', '--dir', dir, '--assets', '8', '--guardians', String(GUARDIANS), '--api-port', '0', '--mqtt-port', '0', '--sim-port', '27340',
      '--scenario', 'none', '--database', db.location, '--broker', 'mosquitto', '--replicas', '2',
    ], { logFile: path.join(work, 'demo-stdout.log') });

    const parts = await demo.waitForLine(/^\s+parts\s+store PostgreSQL .* · broker Mosquitto \(mqtts:\/\/127\.0\.0\.1:\d+, pid (\d+), .* · 2 server replicas, bus JetStream nats:\/\/127\.0\.0\.1:\d+ \(pid (\d+), store (\S+)\)/, 180_000);
    const [mosquittoPid, natsPid] = [Number(parts[1]), Number(parts[2])];
    expect(parts[3]).toBe(path.join(dir, 'nats', 'jetstream'));
    expect(alive(natsPid)).toBe(true);
    const first = await demo.waitForLine(/^\s+replica 1\s+https:\/\/127\.0\.0\.1:(\d+)\/\s+(active|standby)/, 10_000);
    const second = await demo.waitForLine(/^\s+replica 2\s+https:\/\/127\.0\.0\.1:(\d+)\/\s+(active|standby)/, 10_000);
    expect(first[1]).not.toBe(second[1]);
    // The first replica started first and leads; the second is its standby.
    expect([first[2], second[2]]).toEqual(['active', 'standby']);

    const client = new pg.Client({ connectionString: db.location });
    await client.connect();
    try {
      await waitFor(`telemetry from all ${GUARDIANS} guardians is stored, and the leader evaluated it`, async () => {
        const devices = await count(client, 'SELECT count(DISTINCT device_id) AS n FROM batch_rows');
        const handled = await count(client, 'SELECT count(*) AS n FROM alarm_handled_messages');
        return devices === GUARDIANS && handled > 0;
      }, { timeoutMs: 150_000, intervalMs: 1_000, diagnostics: () => demo!.output() });
      expect(await count(client, 'SELECT count(*) AS n FROM server_replicas')).toBe(2);
      // Every stored batch of the demo's guardians was handed to the bus and evaluated, once.
      await waitFor('the leader has caught up with the stored batches', async () => {
        const stored = await count(client, 'SELECT count(*) AS n FROM batch_rows');
        const handled = await count(client, "SELECT count(*) AS n FROM alarm_handled_messages WHERE id LIKE 'batch:%'");
        return handled >= stored;
      }, { timeoutMs: 60_000, intervalMs: 1_000 });
      const log = readFileSync(path.join(dir, 'mosquitto', 'mosquitto.log'), 'utf8');
      expect(log).toMatch(/New client connected from 127\.0\.0\.1:\d+ as shellguard-server /);
      expect(log).toMatch(/New client connected from 127\.0\.0\.1:\d+ as shellguard-server-2 /);
    } finally {
      await client.end();
    }

    const exit = await demo.stop('SIGINT', 90_000);
    expect(exit).toEqual({ code: 0, signal: null });
    await waitFor('mosquitto and nats-server are gone', () => !alive(mosquittoPid) && !alive(natsPid), { timeoutMs: 15_000 });
  }, 300_000);

  it('refuses --replicas 2 without PostgreSQL and Mosquitto, saying what it needs', async () => {
    const refused = new CliProcess('demo refused', [
      'demo', '--dir', path.join(work, 'demo-refused'), '--assets', '2', '--guardians', '1', '--api-port', '0', '--mqtt-port', '0', '--sim-port', '27360', '--replicas', '2',
    ]);
    const exit = await refused.exited;
    expect(exit.code).toBe(1);
    expect(refused.output()).toMatch(/--replicas above 1 needs --database postgres:\/\/… and --broker mosquitto.*\[demo_replicas_need_scale_out\]/s);
  }, 60_000);
});
