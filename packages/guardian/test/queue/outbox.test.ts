import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Quality, type Sample } from '@shellguard/protocol';
import { Outbox } from '../../src/queue/outbox.ts';

const dirs: string[] = [];
function tempFile(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'sg-outbox-'));
  dirs.push(d);
  return path.join(d, 'queue.sqlite');
}
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

const sample = (i: number): Sample => ({ point: 'p', ts: 1_000 + i, value: i, quality: Quality.good });

describe('Outbox', () => {
  it('gives every batch a new sequence number, also across reopen', () => {
    const file = tempFile();
    const a = new Outbox(file);
    expect(a.enqueue('AHU-1', [sample(1)], 1).seq).toBe(1);
    expect(a.enqueue('AHU-1', [sample(2)], 2).seq).toBe(2);
    a.close();
    const b = new Outbox(file);
    expect(b.enqueue('AHU-1', [sample(3)], 3).seq).toBe(3);
    expect(b.stats()).toMatchObject({ pendingBatches: 3, pendingSamples: 3, nextSeq: 4 });
    b.close();
  });

  it('keeps batches until acknowledged, and survives reopening', () => {
    const file = tempFile();
    const a = new Outbox(file);
    for (let i = 0; i < 5; i++) a.enqueue('PDU-1', [sample(i), sample(i + 100)], i);
    expect(a.acknowledge([2, 4, 99])).toBe(2);
    a.close();
    const b = new Outbox(file);
    expect(b.peek(0, 10).map((x) => x.seq)).toEqual([1, 3, 5]);
    expect(b.peek(1, 1).map((x) => x.seq)).toEqual([3]);
    expect(b.find(3)?.samples).toEqual([sample(2), sample(102)]);
    expect(b.stats().pendingSamples).toBe(6);
    b.close();
  });

  it('sets refused batches aside instead of dropping them', () => {
    const a = new Outbox(tempFile());
    a.enqueue('UPS-1', [sample(1)], 1);
    expect(a.setAside([{ seq: 1, reason: 'metric_value' }], 2)).toBe(1);
    expect(a.peek(0, 10)).toEqual([]);
    expect(a.stats().rejectedBatches).toBe(1);
    a.close();
  });

  it('when full, drops the oldest batch and says which', () => {
    const a = new Outbox(tempFile(), { maxBatches: 100 });
    for (let i = 0; i < 100; i++) a.enqueue('GEN-1', [sample(i)], i);
    const r = a.enqueue('GEN-1', [sample(100)], 100);
    expect(r.overflowed).toEqual({ seq: 1, samples: 1 });
    expect(a.stats()).toMatchObject({ pendingBatches: 100, overflowedBatches: 1 });
    a.close();
  });

  it('gives a clear error when the queue cannot be opened', () => {
    expect(() => new Outbox('/nonexistent-dir/x/queue.sqlite')).toThrow(/cannot open the telemetry queue/);
  });
});
