/**
 * Issue 12: "killing a replica mid-stream loses nothing and stores nothing twice". The bus
 * delivers at least once; a consumer that records the message id in the same PostgreSQL
 * transaction as its effect turns that into exactly one effect per message — shown here with
 * real replica processes, one killed -9 after committing an effect but before acknowledging it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamBus } from '../../src/bus/jetstream-bus.ts';
import { NatsServerProcess } from '../../src/bus/nats-server-process.ts';
import { bytes, eventually } from './support/eventually.ts';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'pg-effect-worker.ts');
const ADMIN_URL = process.env['SHELLGUARD_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`this test needs PostgreSQL at ${ADMIN_URL} (scripts/start-services.sh, or set SHELLGUARD_TEST_POSTGRES_URL): ${(err as Error).message}`);
  }
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

interface Worker {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<void>;
}

function startWorker(natsUrl: string, postgresUrl: string, replica: string, mode?: string): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, natsUrl, postgresUrl, replica, ...(mode ? [mode] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  child.stderr?.on('data', (chunk: Buffer) => { err += chunk.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
    if (code && code !== 0) lines.push(`exited ${code}: ${err.slice(-2000)}`);
    void signal;
    resolve();
  }));
  return { child, lines, exited };
}

describe('exactly-once effect over the JetStream bus', () => {
  let server: NatsServerProcess;
  const database = `sg_bus_${randomBytes(5).toString('hex')}`;
  let db: pg.Pool;
  const workers: Worker[] = [];

  beforeAll(async () => {
    server = await NatsServerProcess.start({ name: 'bus-effects' });
    await admin(`CREATE DATABASE ${database}`);
    db = new pg.Pool({ connectionString: databaseUrl(database), max: 2 });
    await db.query(`
      CREATE TABLE bus_processed (message_id text PRIMARY KEY, replica text NOT NULL);
      CREATE TABLE bus_deliveries (message_id text NOT NULL, replica text NOT NULL, delivery_count int NOT NULL);
      CREATE TABLE energy_effects (message_id text NOT NULL, kwh bigint NOT NULL);
      CREATE TABLE energy_total (kwh bigint NOT NULL);
      INSERT INTO energy_total VALUES (0);
    `);
  });
  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await db?.end();
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await server?.destroy();
  });

  it('applies each message once though a replica is killed -9 between its commit and its acknowledgement', async () => {
    const url = databaseUrl(database);
    const doomed = startWorker(server.url, url, 'replica-a', 'hang-after-commit=40');
    workers.push(doomed);
    await eventually(() => expect(doomed.lines).toContain('ready'), 60_000);

    const publisher = await JetStreamBus.connect({
      servers: server.url, streams: [{ name: 'EFFECTS', subjects: ['effects.>'] }],
      deadLetters: { stream: 'EFFECTS_DEAD', subjectPrefix: 'effects-dead' },
    });
    const total = 300;
    let expectedKwh = 0;
    for (let i = 0; i < total; i++) {
      expectedKwh += i % 17;
      await publisher.publish(`effects.meter-${i % 9}`, bytes(String(i % 17)), { id: `reading-${i}` });
    }

    await eventually(() => expect(doomed.lines.some((l) => l.startsWith('committed-unacked'))).toBe(true), 60_000);
    const limbo = (doomed.lines.find((l) => l.startsWith('committed-unacked')) as string).split(' ')[1] as string;
    doomed.child.kill('SIGKILL');
    await doomed.exited;

    // Two survivors share the rest, and get what the dead one held once its ack wait passes.
    const survivors = [startWorker(server.url, url, 'replica-b'), startWorker(server.url, url, 'replica-c')];
    workers.push(...survivors);
    await eventually(async () => {
      const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM bus_processed');
      expect(Number(rows[0]?.n)).toBe(total);
    }, 120_000, 200);

    const effects = await db.query<{ n: string; ids: string }>('SELECT count(*) AS n, count(DISTINCT message_id) AS ids FROM energy_effects');
    expect(Number(effects.rows[0]?.n)).toBe(total);
    expect(Number(effects.rows[0]?.ids)).toBe(total);
    const sum = await db.query<{ kwh: string }>('SELECT kwh FROM energy_total');
    expect(Number(sum.rows[0]?.kwh)).toBe(expectedKwh);

    // The message whose acknowledgement died with replica-a was delivered again, to a survivor,
    // and its effect still happened once, by replica-a.
    const limboDeliveries = await db.query<{ replica: string; delivery_count: number }>('SELECT replica, delivery_count FROM bus_deliveries WHERE message_id = $1 ORDER BY delivery_count', [limbo]);
    expect(limboDeliveries.rows[0]?.replica).toBe('replica-a');
    expect(limboDeliveries.rows.some((r) => r.replica !== 'replica-a' && r.delivery_count > 1)).toBe(true);
    const owner = await db.query<{ replica: string }>('SELECT replica FROM bus_processed WHERE message_id = $1', [limbo]);
    expect(owner.rows[0]?.replica).toBe('replica-a');
    const byA = await db.query<{ n: string }>("SELECT count(*) AS n FROM bus_processed WHERE replica = 'replica-a'");
    expect(Number(byA.rows[0]?.n)).toBeGreaterThanOrEqual(40);

    for (const s of survivors) s.child.kill('SIGTERM');
    await Promise.all(survivors.map((s) => s.exited));
    await publisher.close();
  });
});
