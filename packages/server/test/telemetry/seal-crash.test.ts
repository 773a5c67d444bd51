import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { SqliteTelemetryStore } from '../../src/telemetry/sqlite-telemetry-store.ts';

const child = fileURLToPath(new URL('./seal-crash-child.ts', import.meta.url));
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.each(['sealing', 'appended'])('SqliteTelemetryStore killed with SIGKILL (%s)', (when) => {
  it('keeps every sample exactly once, and seals them all after the restart', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-crash-'));
    const file = join(dir, 'server.db');
    const run = spawnSync(process.execPath, ['--import', 'tsx', child, file, when], { encoding: 'utf8' });
    expect(run.stdout).toContain('appended');
    expect(run.signal).toBe('SIGKILL');

    const database = openSqliteSqlDatabase(file);
    const db = database.sqlite!.handle;
    const store = new SqliteTelemetryStore(database, { readWorkers: 0 });
    try {
      // A half-done sealing transaction rolled back: no chunks; the samples come back from the log.
      expect(db.prepare('SELECT COUNT(*) FROM chunks').pluck().get()).toBe(0);
      for (let p = 0; p < 5; p++) {
        const id = store.findPointId('site-a', 'AHU-1', `p${p}`)!;
        expect((await store.querySamples(id, 0, 2e12, 1000)).map((s) => s.value)).toEqual(Array.from({ length: 150 }, (_, i) => i));
      }
      expect((await store.sealAll()).samplesSealed).toBe(750);
      await store.checkpoint();
      const id = store.findPointId('site-a', 'AHU-1', 'p4')!;
      expect(await store.querySamples(id, 0, 2e12, 1000)).toHaveLength(150);
    } finally {
      await store.close();
      await database.close();
    }
  });
});
