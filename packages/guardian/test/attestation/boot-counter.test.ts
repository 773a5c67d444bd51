import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BOOT_COUNT_FILE, incrementBootCount, readBootCount } from '../../src/attestation/boot-counter.ts';

describe('boot counter', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'sg-boot-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('counts starts across restarts and leaves no temporary file', () => {
    expect(readBootCount(dir)).toBe(0);
    expect(incrementBootCount(dir)).toBe(1);
    expect(incrementBootCount(dir)).toBe(2);
    expect(readBootCount(dir)).toBe(2);
    expect(readdirSync(dir)).toEqual([BOOT_COUNT_FILE]);
  });

  it('starts again from 1 when the stored count is garbage', () => {
    writeFileSync(path.join(dir, BOOT_COUNT_FILE), 'not a number');
    expect(incrementBootCount(dir)).toBe(1);
  });
});
