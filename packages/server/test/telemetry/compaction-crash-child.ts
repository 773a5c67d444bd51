/**
 * Child process for the compaction crash test: writes samples, then kills itself with SIGKILL
 * in the middle of a compaction transaction (after some chunks were written, before the commit).
 */
import { openDatabase } from '../../src/db/database.ts';
import { SqliteTelemetryStore } from '../../src/telemetry/sqlite-telemetry-store.ts';

const file = process.argv[2]!;
let chunks = 0;
const store = new SqliteTelemetryStore(openDatabase(file), {
  hotRetentionMs: 0,
  afterChunkWritten: () => {
    if (++chunks === 3) process.kill(process.pid, 'SIGKILL');
  },
});
const samples = [];
for (let p = 0; p < 5; p++) {
  for (let i = 0; i < 100; i++) samples.push({ point: `p${p}`, ts: 1_750_000_000_000 + i * 1000, value: i, quality: 192 as const });
}
store.appendBatches([{ deviceId: 'dev-1', site: 'site-a', asset: 'AHU-1', epoch: 'e1', seq: 1, samples }]);
process.stdout.write('appended\n');
store.compactStep();
