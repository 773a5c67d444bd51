import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundleManifest } from '@shellguard/guardian';
import { buildRelease, type Release } from '../../scripts/build/release.ts';
import { ensureWebDist } from './release-fixture.ts';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('release artifacts', () => {
  let dir: string;
  let first: Release;
  let second: Release;

  beforeAll(async () => {
    ensureWebDist();
    dir = mkdtempSync(path.join(tmpdir(), 'sg-repro-'));
    // Two builds into different folders: nothing of where it was built may leak into the bytes.
    first = await buildRelease({ outDir: path.join(dir, 'one') });
    second = await buildRelease({ outDir: path.join(dir, 'elsewhere', 'two') });
  }, 240_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are versioned and named by stream, platform and architecture', () => {
    const platform = `${process.platform}-${process.arch}`;
    expect(first.artifacts.app.name).toBe(`shellguard-guardian-app-${first.version}.tar.gz`);
    expect(first.artifacts.platform.name).toBe(`shellguard-guardian-platform-${first.version}-${platform}.tar.gz`);
    expect(first.artifacts.server.name).toMatch(new RegExp(`^shellguard-server-\\d+\\.\\d+\\.\\d+-${platform}\\.tar\\.gz$`));
  });

  it('are byte for byte the same when built twice from the same inputs (sha256)', () => {
    for (const k of ['app', 'platform', 'server'] as const) {
      const a = first.artifacts[k];
      const b = second.artifacts[k];
      expect(sha256(b.file), `${a.name} differs between two builds`).toBe(sha256(a.file));
      expect(b.sha256).toBe(a.sha256);
      expect(readFileSync(`${a.file}.sha256`, 'utf8')).toBe(`${a.sha256}  ${a.name}\n`);
    }
  });

  it('carry their manifest: application with guardian-bundle and profiles, platform with runtime and Node ABI', () => {
    const app = readBundleManifest(readFileSync(first.artifacts.app.file));
    expect(app).toEqual(first.manifests.app);
    expect(app.stream).toBe('application');
    expect(app.components.filter((c) => c.component === 'guardian-bundle')).toHaveLength(1);
    expect(app.components.some((c) => c.component === 'profiles')).toBe(true);
    const platform = readBundleManifest(readFileSync(first.artifacts.platform.file));
    expect(platform).toMatchObject({ stream: 'platform', platform: `${process.platform}-${process.arch}`, nodeAbi: process.versions.modules });
    expect(platform.components).toEqual([{ component: 'runtime', digest: sha256(process.execPath) }]);
  });
});
