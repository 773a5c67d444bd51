import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.ts';
import { SqliteTelemetryStore } from '../../src/telemetry/sqlite-telemetry-store.ts';

const child = fileURLToPath(new URL('./compaction-crash-child.ts', import.meta.url));
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('SqliteTelemetryStore compaction under kill -9', () => {
  it('keeps every sample exactly once when the process dies in the middle of a compaction step', () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-crash-'));
    const file = join(dir, 'server.db');
    const run = spawnSync(process.execPath, ['--import', 'tsx', child, file], { encoding: 'utf8' });
    expect(run.stdout).toContain('appended');
    expect(run.signal).toBe('SIGKILL');

    const db = openDatabase(file);
    const store = new SqliteTelemetryStore(db, { hotRetentionMs: 0 });
    try {
      // The half-done step rolled back: no chunks, everything still hot, all there once.
      expect((db.prepare('SELECT COUNT(*) AS n FROM chunks').get() as { n: number }).n).toBe(0);
      for (let p = 0; p < 5; p++) {
        const id = store.findPointId('site-a', 'AHU-1', `p${p}`)!;
        const got = store.querySamples(id, 0, 2e12, 1000).map((s) => s.value);
        expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
      }
      expect(store.compactAll().rowsMoved).toBe(500);
      const id = store.findPointId('site-a', 'AHU-1', 'p4')!;
      expect(store.querySamples(id, 0, 2e12, 1000)).toHaveLength(100);
    } finally {
      store.close();
      db.close();
    }
  });
});
