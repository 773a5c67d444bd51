import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_MARKER_FILE, prepareDemoDir } from '../../src/commands/demo-dir.ts';

describe('prepareDemoDir', () => {
  let base: string;
  beforeEach(() => {
    base = mkdtempSync(path.join(tmpdir(), 'sg-demo-dir-'));
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('creates a missing folder and marks it as the demo\'s', () => {
    const dir = path.join(base, 'a', 'demo');
    expect(prepareDemoDir(dir)).toBe(dir);
    expect(readdirSync(dir)).toEqual([DEMO_MARKER_FILE]);
  });

  it('adopts an empty folder', () => {
    const dir = path.join(base, 'empty');
    mkdirSync(dir);
    prepareDemoDir(dir);
    expect(readdirSync(dir)).toEqual([DEMO_MARKER_FILE]);
  });

  it('empties a folder it made, removing a link without following it', () => {
    const dir = prepareDemoDir(path.join(base, 'demo'));
    const outside = path.join(base, 'outside');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'keep.txt'), 'keep');
    mkdirSync(path.join(dir, 'server'));
    writeFileSync(path.join(dir, 'server', 'shellguard.sqlite'), 'x');
    symlinkSync(outside, path.join(dir, 'link'));
    prepareDemoDir(dir);
    expect(readdirSync(dir)).toEqual([DEMO_MARKER_FILE]);
    expect(readdirSync(outside)).toEqual(['keep.txt']);
  });

  it('refuses a non-empty folder without the marker and touches nothing', () => {
    const dir = path.join(base, 'home');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    expect(() => prepareDemoDir(dir)).toThrow(expect.objectContaining({ code: 'demo_dir_foreign', message: expect.stringContaining('refusing to delete it') }));
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('refuses a path that is a file', () => {
    const file = path.join(base, 'file');
    writeFileSync(file, 'x');
    expect(() => prepareDemoDir(file)).toThrow(expect.objectContaining({ code: 'demo_dir_not_a_folder' }));
    expect(existsSync(file)).toBe(true);
  });
});
