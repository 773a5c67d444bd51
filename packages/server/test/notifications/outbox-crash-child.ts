/**
 * Child process of outbox-restart.test.ts: enqueues three incidents in one transaction, says so,
 * and (in mode `in-flight`) starts delivering them, until the parent kills it with SIGKILL.
 * Usage: node --import tsx outbox-crash-child.ts <db file> <webhook url> <before-send|in-flight> <claimant>
 */
import { migrateServerDatabase } from '../../src/db/schema.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { OutboxDispatcher } from '../../src/notifications/outbox-dispatcher.ts';
import { SqlOutboxStore } from '../../src/notifications/sql-outbox-store.ts';
import { incidentEntry } from './incident-entries.ts';
import { SECRET } from './webhook-receiver.ts';

const [file, url, mode, claimant] = process.argv.slice(2) as [string, string, string, string];
const endpoints = [{ id: 'ops', url, secret: SECRET, format: 'generic' as const }];
const database = openSqliteSqlDatabase(file);
await migrateServerDatabase(database);
const outbox = new SqlOutboxStore(database.db, { endpoints });
await database.db.transaction().execute(async (tx) => {
  for (const id of [1, 2, 3]) await outbox.writerIn(tx).enqueue(incidentEntry(id));
});
process.stdout.write('enqueued\n');
if (mode === 'in-flight') new OutboxDispatcher({ store: outbox, endpoints, claimant }).start();
// Stay alive (the dispatcher's timers are unref'd) until the parent kills us.
setInterval(() => undefined, 60_000);
