/**
 * A server replica as a separate process, for the exactly-once-effect test: it works the
 * `effects` group and applies each message's effect to PostgreSQL idempotently — the message id
 * goes into `bus_processed` (unique) in the same transaction as the effect, so a redelivered
 * message finds its id and changes nothing.
 *
 *   node --import tsx pg-effect-worker.ts <nats-url> <postgres-url> <replica> [hang-after-commit=N]
 *
 * With hang-after-commit=N it stops after committing its N-th effect, before acknowledging it
 * (and says so on stdout), so the test can kill -9 it in the window where an acknowledgement is lost.
 */
import pg from 'pg';
import { JetStreamBus } from '../../../src/bus/jetstream-bus.ts';

const [natsUrl, postgresUrl, replica, mode] = process.argv.slice(2) as [string, string, string, string | undefined];
const hangAfter = mode?.startsWith('hang-after-commit=') ? Number(mode.split('=')[1]) : Infinity;

const pool = new pg.Pool({ connectionString: postgresUrl, max: 4 });
const bus = await JetStreamBus.connect({
  servers: natsUrl, connectionName: replica, streams: [{ name: 'EFFECTS', subjects: ['effects.>'] }],
  deadLetters: { stream: 'EFFECTS_DEAD', subjectPrefix: 'effects-dead' }, ackWaitMs: 1_500,
});
let committed = 0;

await bus.work('effects', ['effects.>'], async (message) => {
  const amount = Number(new TextDecoder().decode(message.payload));
  await pool.query('INSERT INTO bus_deliveries (message_id, replica, delivery_count) VALUES ($1, $2, $3)', [message.id, replica, message.deliveryCount]);
  await new Promise((r) => setTimeout(r, 2));
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const first = await client.query('INSERT INTO bus_processed (message_id, replica) VALUES ($1, $2) ON CONFLICT DO NOTHING', [message.id, replica]);
    if (first.rowCount === 1) {
      await client.query('INSERT INTO energy_effects (message_id, kwh) VALUES ($1, $2)', [message.id, amount]);
      await client.query('UPDATE energy_total SET kwh = kwh + $1', [amount]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  if (++committed === hangAfter) {
    process.stdout.write(`committed-unacked ${message.id}\n`);
    await new Promise(() => undefined);
  }
}, { concurrency: 4 });
process.stdout.write('ready\n');

process.once('SIGTERM', () => {
  void bus.close().then(() => pool.end()).then(() => process.exit(0));
});
