/**
 * Child process of outbox-restart.test.ts: enqueues three incidents in one transaction, says so,
 * and (in mode `in-flight`) starts delivering them, until the parent kills it with SIGKILL.
 * Usage: node --import tsx outbox-crash-child.ts <db file> <webhook url> <before-send|in-flight>
 */
import { openDatabase } from '../../src/db/database.ts';
import { OutboxDispatcher } from '../../src/notifications/outbox-dispatcher.ts';
import { SqliteOutbox } from '../../src/notifications/sqlite-outbox-store.ts';
import { incidentEntry } from './incident-entries.ts';
import { SECRET } from './webhook-receiver.ts';

const [file, url, mode] = process.argv.slice(2) as [string, string, string];
const endpoints = [{ id: 'ops', url, secret: SECRET, format: 'generic' as const }];
const db = openDatabase(file);
const outbox = new SqliteOutbox(db, { endpoints });
db.transaction(() => {
  for (const id of [1, 2, 3]) outbox.enqueue(incidentEntry(id));
})();
process.stdout.write('enqueued\n');
if (mode === 'in-flight') new OutboxDispatcher({ store: outbox, endpoints }).start();
// Stay alive (the dispatcher's timers are unref'd) until the parent kills us.
setInterval(() => undefined, 60_000);
