/**
 * The scale-out layout on one machine (issue 12, "Running it"): `shellguard demo --database
 * postgres://… --broker mosquitto`, run as the real command in a child process, as
 * scripts/scale-out.sh runs it. The demo starts Debian's Mosquitto on its own port, the server
 * stores everything in a fresh PostgreSQL database and uses that Mosquitto (mqtt.external); the
 * simulated guardians attest, connect to Mosquitto, and their telemetry lands in PostgreSQL —
 * counted there directly. Ctrl-C stops the demo and its Mosquitto with it.
 *
 * With `--replicas 2` (as scripts/scale-out.sh runs it) the demo also starts a nats-server, and two
 * server replicas share the site: both connect to Mosquitto under their own names and heartbeat
 * in PostgreSQL, one leads and evaluates what the bus hands it (its handled-message ids land in
 * PostgreSQL). `--replicas 2` without PostgreSQL and Mosquitto is refused, saying what it needs.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
  work = mkdtempSync(path.join(tmpdir(), 'sg-demo-scale-out-'));
  db = await createTestDatabase('postgres', 'demo');
});

afterAll(async () => {
  if (demo?.running) await demo.stop('SIGKILL');
  await db?.destroy();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('shellguard demo on PostgreSQL and Mosquitto', () => {
  it('stores the simulated guardians\' telemetry in PostgreSQL through Mosquitto, and stops Mosquitto with it', async () => {
    const dir = path.join(work, 'demo');
    demo = new CliProcess('demo', [
      'demo', '--dir', dir, '--assets', '8', '--guardians', String(GUARDIANS), '--api-port', '0', '--mqtt-port', '0', '--sim-port', '27300',
      '--scenario', 'none', '--database', db.location, '--broker', 'mosquitto',
    ], { logFile: path.join(work, 'demo-stdout.log') });

    // The demo says which parts it runs on.
    const parts = await demo.waitForLine(/^\s+parts\s+store PostgreSQL (\S+) · broker Mosquitto \(mqtts:\/\/127\.0\.0\.1:(\d+), pid (\d+), config (\S+)\)/, 120_000);
    const [, shownUrl, port, pidText, configFile] = parts;
    expect(shownUrl).toBe(new URL(db.location).toString());
    const pid = Number(pidText);
    expect(alive(pid)).toBe(true);
    expect(configFile).toBe(path.join(dir, 'mosquitto', 'mosquitto.conf'));
    const config = readFileSync(configFile!, 'utf8');
    expect(config).toContain(`listener ${port} 127.0.0.1`);
    expect(config).toMatch(/^plugin .*mosquitto_dynamic_security\.so$/m);
    expect(config).toContain(`crlfile ${path.join(dir, 'mosquitto', 'site.crl')}`);
    // Not the embedded broker: its default port is not what the guardians were given.
    const site = await demo.waitForLine(/site site-1: \d+ simulated assets, (\d+) guardians, broker mqtts:\/\/127\.0\.0\.1:(\d+)/, 10_000);
    expect(site[1]).toBe(String(GUARDIANS));
    expect(site[2]).toBe(port);
    // Nothing of the store in the demo's folder: it is in PostgreSQL.
    expect(existsSync(path.join(dir, 'server', 'shellguard.sqlite'))).toBe(false);

    const client = new pg.Client({ connectionString: db.location });
    await client.connect();
    try {
      await waitFor(`telemetry from all ${GUARDIANS} guardians is stored in PostgreSQL`, async () => {
        const devices = await count(client, 'SELECT count(DISTINCT device_id) AS n FROM batch_rows');
        const samples = await count(client, 'SELECT (SELECT count(*) FROM samples) + (SELECT coalesce(sum(count), 0) FROM chunks) AS n');
        const latest = await count(client, 'SELECT count(*) AS n FROM latest');
        return devices === GUARDIANS && samples > 0 && latest > 0;
      }, { timeoutMs: 150_000, intervalMs: 1_000, diagnostics: () => demo!.output() });
      const samples = await count(client, 'SELECT (SELECT count(*) FROM samples) + (SELECT coalesce(sum(count), 0) FROM chunks) AS n');
      const series = await count(client, 'SELECT count(*) AS n FROM series');
      console.log(`demo on PostgreSQL + Mosquitto: ${samples} samples of ${series} series stored in PostgreSQL`);
      // Mosquitto carried the sessions: its log shows the server's and every guardian's connection.
      const log = readFileSync(path.join(dir, 'mosquitto', 'mosquitto.log'), 'utf8');
      expect(log).toMatch(/New client connected from 127\.0\.0\.1:\d+ as shellguard-server/);
      expect((log.match(/New client connected from 127\.0\.0\.1/g) ?? []).length).toBeGreaterThanOrEqual(GUARDIANS + 1);
    } finally {
      await client.end();
    }

    // Ctrl-C: the demo stops everything it started, Mosquitto included, and exits.
    const exit = await demo.stop('SIGINT', 60_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(demo.output()).toMatch(/stopped; state kept in/);
    await waitFor('mosquitto is gone', () => !alive(pid), { timeoutMs: 10_000 });
  }, 240_000);

  it('refuses to start again on the database the first run filled, saying what to do, and leaves no Mosquitto behind', async () => {
    const again = new CliProcess('demo again', [
      'demo', '--dir', path.join(work, 'demo-again'), '--assets', '2', '--guardians', '1', '--api-port', '0', '--mqtt-port', '0', '--sim-port', '27320',
      '--database', db.location, '--broker', 'mosquitto',
    ]);
    const exit = await again.exited;
    expect(exit.code).toBe(1);
    expect(again.output()).toMatch(/already holds \d+ tables.*give it an empty database \(scripts\/scale-out\.sh --fresh .*\[demo_database_not_empty\]/s);
    // Refused before Mosquitto was started: no configuration was written for one.
    expect(existsSync(path.join(work, 'demo-again', 'mosquitto'))).toBe(false);
  }, 120_000);

  it('runs two replicas on PostgreSQL, Mosquitto and NATS: one leads and evaluates, the guardians\' telemetry is stored, Ctrl-C stops it all', async () => {
    const fresh = await createTestDatabase('postgres', 'demorepl');
    const dir = path.join(work, 'demo-replicas');
    demo = new CliProcess('demo replicas', [
      'demo', '--dir', dir, '--assets', '8', '--guardians', String(GUARDIANS), '--api-port', '0', '--mqtt-port', '0', '--sim-port', '27340',
      '--scenario', 'none', '--database', fresh.location, '--broker', 'mosquitto', '--replicas', '2',
    ], { logFile: path.join(work, 'demo-replicas-stdout.log') });

    const parts = await demo.waitForLine(/^\s+parts\s+store PostgreSQL .* · broker Mosquitto \(mqtts:\/\/127\.0\.0\.1:\d+, pid (\d+), .* · 2 server replicas, bus JetStream nats:\/\/127\.0\.0\.1:\d+ \(pid (\d+), store (\S+)\)/, 180_000);
    const [mosquittoPid, natsPid] = [Number(parts[1]), Number(parts[2])];
    expect(parts[3]).toBe(path.join(dir, 'nats', 'jetstream'));
    expect(alive(natsPid)).toBe(true);
    const first = await demo.waitForLine(/^\s+replica 1\s+https:\/\/127\.0\.0\.1:(\d+)\/\s+(active|standby)/, 10_000);
    const second = await demo.waitForLine(/^\s+replica 2\s+https:\/\/127\.0\.0\.1:(\d+)\/\s+(active|standby)/, 10_000);
    expect(first[1]).not.toBe(second[1]);
    // The first replica started first and leads; the second is its standby.
    expect([first[2], second[2]]).toEqual(['active', 'standby']);

    const client = new pg.Client({ connectionString: fresh.location });
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
    await fresh.destroy();
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
