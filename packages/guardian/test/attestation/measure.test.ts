import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultBundleDirs, guardianPackageVersion, measureGuardian, type MeasureGuardianOptions } from '../../src/attestation/measure.ts';

describe('measureGuardian', () => {
  let dir: string;
  let options: MeasureGuardianOptions;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-measure-'));
    const bundle = path.join(dir, 'install', 'guardian', 'src');
    mkdirSync(path.join(bundle, 'uplink'), { recursive: true });
    writeFileSync(path.join(bundle, 'guardian.ts'), 'export const a = 1;\n');
    writeFileSync(path.join(bundle, 'uplink', 'uplink.ts'), 'export const b = 2;\n');
    writeFileSync(path.join(dir, 'guardian.yaml'), 'site: dc1\n');
    mkdirSync(path.join(dir, 'profiles'));
    writeFileSync(path.join(dir, 'profiles', 'ahu.yaml'), 'id: ahu\n');
    writeFileSync(path.join(dir, 'profiles', 'ups.yaml'), 'id: ups\n');
    writeFileSync(path.join(dir, 'node'), Buffer.alloc(3 * 1024 * 1024, 7));
    options = {
      configFile: path.join(dir, 'guardian.yaml'),
      profileFiles: [path.join(dir, 'profiles', 'ahu.yaml'), path.join(dir, 'profiles', 'ups.yaml')],
      bundleDirs: [bundle],
      runtimePath: path.join(dir, 'node'),
    };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const digestOf = (m: { component: string; digest: string }[], component: string) => m.find((x) => x.component === component)?.digest;

  it('measures runtime, guardian-bundle, config and profiles as SHA-256 hex', async () => {
    const m = await measureGuardian(options);
    expect(m.map((x) => x.component)).toEqual(['runtime', 'guardian-bundle', 'config', 'profiles']);
    for (const x of m) expect(x.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is deterministic, whatever the order profiles are given in and wherever the release is installed', async () => {
    const first = await measureGuardian(options);
    const again = await measureGuardian({ ...options, profileFiles: [...options.profileFiles].reverse() });
    expect(again).toEqual(first);
    const elsewhere = path.join(dir, 'other-place', 'guardian', 'src');
    mkdirSync(path.join(elsewhere, 'uplink'), { recursive: true });
    writeFileSync(path.join(elsewhere, 'guardian.ts'), 'export const a = 1;\n');
    writeFileSync(path.join(elsewhere, 'uplink', 'uplink.ts'), 'export const b = 2;\n');
    expect(digestOf(await measureGuardian({ ...options, bundleDirs: [elsewhere] }), 'guardian-bundle')).toBe(digestOf(first, 'guardian-bundle'));
  });

  it('changes the guardian-bundle digest when a code file changes, is added or is renamed', async () => {
    const before = digestOf(await measureGuardian(options), 'guardian-bundle');
    const bundle = options.bundleDirs[0]!;
    writeFileSync(path.join(bundle, 'uplink', 'uplink.ts'), 'export const b = 3;\n');
    const edited = digestOf(await measureGuardian(options), 'guardian-bundle');
    expect(edited).not.toBe(before);
    writeFileSync(path.join(bundle, 'backdoor.ts'), '');
    const added = digestOf(await measureGuardian(options), 'guardian-bundle');
    expect(added).not.toBe(edited);
    rmSync(path.join(bundle, 'backdoor.ts'));
    writeFileSync(path.join(bundle, 'uplink', 'uplink.ts'), 'export const b = 2;\n');
    expect(digestOf(await measureGuardian(options), 'guardian-bundle')).toBe(before);
  });

  it('changes only the config digest when the config file changes', async () => {
    const before = await measureGuardian(options);
    writeFileSync(options.configFile, 'site: dc2\n');
    const after = await measureGuardian(options);
    expect(digestOf(after, 'config')).not.toBe(digestOf(before, 'config'));
    expect(digestOf(after, 'guardian-bundle')).toBe(digestOf(before, 'guardian-bundle'));
    expect(digestOf(after, 'profiles')).toBe(digestOf(before, 'profiles'));
  });

  it('changes the profiles digest when a profile changes or another profile is used', async () => {
    const before = digestOf(await measureGuardian(options), 'profiles');
    writeFileSync(options.profileFiles[1]!, 'id: ups\npoints: []\n');
    expect(digestOf(await measureGuardian(options), 'profiles')).not.toBe(before);
    const fewer = digestOf(await measureGuardian({ ...options, profileFiles: [options.profileFiles[0]!] }), 'profiles');
    expect(fewer).not.toBe(before);
  });

  it('measures the real guardian and protocol sources by default', async () => {
    const dirs = defaultBundleDirs();
    expect(dirs.map((d) => path.relative(path.resolve(d, '../..'), d))).toEqual([path.join('guardian', 'src'), path.join('protocol', 'src')]);
    const m = await measureGuardian({ ...options, bundleDirs: dirs });
    expect(digestOf(m, 'guardian-bundle')).toMatch(/^[0-9a-f]{64}$/);
    expect(guardianPackageVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
