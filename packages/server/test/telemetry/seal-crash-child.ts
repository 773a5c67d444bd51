/**
 * Child process for the crash tests: appends samples, then kills itself with SIGKILL at the
 * moment argv[3] names: `sealing` (after some chunks were written, before the commit) or
 * `appended` (after the append committed, before anything was sealed).
 */
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { TELEMETRY_MIGRATIONS } from '../../src/telemetry/layout.ts';
import { SqliteTelemetryStore } from '../../src/telemetry/sqlite-telemetry-store.ts';

const file = process.argv[2]!;
const when = process.argv[3]!;
let chunks = 0;
const database = openSqliteSqlDatabase(file);
await runSqlMigrations(database, 'telemetry', TELEMETRY_MIGRATIONS);
const store = new SqliteTelemetryStore(database, {
  readWorkers: 0,
  sealSamples: 120,
  afterChunkWritten: () => {
    if (when === 'sealing' && ++chunks === 3) process.kill(process.pid, 'SIGKILL');
  },
});
const samples = [];
for (let p = 0; p < 5; p++) {
  for (let i = 0; i < 150; i++) samples.push({ point: `p${p}`, ts: 1_750_000_000_000 + i * 1000, value: i, quality: 192 as const });
}
await store.appendBatches([{ deviceId: 'dev-1', site: 'site-a', asset: 'AHU-1', epoch: 'e1', seq: 1, samples }]);
process.stdout.write('appended\n');
if (when === 'appended') process.kill(process.pid, 'SIGKILL');
await store.sealSome();
