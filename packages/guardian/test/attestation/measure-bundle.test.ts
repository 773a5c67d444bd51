import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { builtBundleRoot, defaultBundleDirs, digestTrees } from '../../src/attestation/measure.ts';

describe('digestTrees over an installed release bundle', () => {
  let dir: string;
  let slotA: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-measure-bundle-'));
    slotA = path.join(dir, 'slots', 'app-a');
    mkdirSync(path.join(slotA, 'protocol', 'profiles'), { recursive: true });
    writeFileSync(path.join(slotA, 'guardian.mjs'), 'export {};\n');
    writeFileSync(path.join(slotA, 'protocol', 'profiles', 'ahu.yaml'), 'id: ahu\n');
    writeFileSync(path.join(slotA, 'manifest.json'), '{"components":[]}\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('measures the same in slot a and slot b: names are relative to the bundle root', async () => {
    const slotB = path.join(dir, 'slots', 'app-b');
    cpSync(slotA, slotB, { recursive: true });
    expect(await digestTrees([slotB])).toBe(await digestTrees([slotA]));
  });

  it('leaves the manifest out (it holds the reference value) but measures every other file', async () => {
    const before = await digestTrees([slotA]);
    writeFileSync(path.join(slotA, 'manifest.json'), '{"components":[{"component":"guardian-bundle"}]}\n');
    expect(await digestTrees([slotA])).toBe(before);
    writeFileSync(path.join(slotA, 'extra.mjs'), 'export {};\n');
    expect(await digestTrees([slotA])).not.toBe(before);
  });

  it('is not a bundle when run from the source tree: the src folders are measured', () => {
    expect(builtBundleRoot()).toBeUndefined();
    expect(defaultBundleDirs().map((d) => path.basename(d))).toEqual(['src', 'src']);
  });
});
