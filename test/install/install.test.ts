/**
 * The built release installed the way a gateway gets it (deploy/guardian/install.sh), into a temp
 * prefix, and run with plain node from folders that have no node_modules of the repository: no
 * tsx, no dev dependencies. As root the service user is really created (a test name, removed at
 * the end) and the guardian runs as that user; otherwise that part is skipped and said so.
 */
import { createHash, randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractBundleArchive, readBundleManifest } from '@shellguard/guardian';
import type { BundleManifest } from '@shellguard/protocol';
import { REPO_ROOT } from '../../scripts/build/bundle.ts';
import { buildRelease, type Release } from '../../scripts/build/release.ts';
import { cleanEnv, ensureWebDist, hasNoNodeModulesAbove, run, runOk } from './release-fixture.ts';

const IS_ROOT = process.getuid?.() === 0;
const HAS_SYSTEMD_ANALYZE = spawnSync('systemd-analyze', ['--version']).status === 0;
const INITIAL_SLOTS = '{"v":1,"streams":{"application":{"active":"a","committed":"a","trial":null,"bootAttempts":0},"platform":{"active":"a","committed":"a","trial":null,"bootAttempts":0}}}';

interface Measured { swname: string; swversion: string; components: { component: string; digest: string }[] }
const digestOf = (m: { components: { component: string; digest: string }[] }, c: string) => m.components.find((x) => x.component === c)?.digest;

describe('installing the built guardian on a gateway', () => {
  let dir: string;
  let release: Release;
  let media: string;
  let prefix: string;
  let user: string;
  let ids: { uid: number; gid: number } | undefined;
  let appManifest: BundleManifest;
  let platformManifest: BundleManifest;

  const opt = () => path.join(prefix, 'opt/shellguard/guardian');
  const dataDir = () => path.join(prefix, 'var/lib/shellguard/guardian');
  const configFile = () => path.join(prefix, 'etc/shellguard/guardian.yaml');
  /** The launcher as systemd runs it (as the service user when we can), rooted at the prefix. */
  const boot = (args: string[]) => run(process.execPath, [path.join(opt(), 'boot.mjs'), '--prefix', prefix, ...args], {
    cwd: media, env: cleanEnv(), ...(ids ?? {}),
  });

  beforeAll(async () => {
    ensureWebDist();
    dir = mkdtempSync(path.join(tmpdir(), 'sg-install-'));
    chmodSync(dir, 0o755); // the service user must reach the prefix inside
    release = await buildRelease({ outDir: path.join(dir, 'build') });
    // What an operator copies to the gateway: the artifacts and deploy/guardian, nothing else.
    media = path.join(dir, 'media');
    mkdirSync(media);
    for (const a of Object.values(release.artifacts)) {
      copyFileSync(a.file, path.join(media, a.name));
      copyFileSync(`${a.file}.sha256`, path.join(media, `${a.name}.sha256`));
    }
    cpSync(path.join(REPO_ROOT, 'deploy/guardian'), path.join(media, 'deploy'), { recursive: true });
    rmSync(path.join(dir, 'build'), { recursive: true, force: true });
    prefix = path.join(dir, 'root');
    mkdirSync(prefix);
    user = `sgt${randomBytes(3).toString('hex')}`;
    appManifest = readBundleManifest(readFileSync(path.join(media, release.artifacts.app.name)));
    platformManifest = readBundleManifest(readFileSync(path.join(media, release.artifacts.platform.name)));
    mkdirSync(path.join(dir, 'site'));
    writeFileSync(path.join(dir, 'site', 'root.crt'), '');
    writeFileSync(path.join(dir, 'site', 'guardian.yaml'), [
      'site: site-1',
      `dataDir: ${path.join(prefix, 'var/lib/shellguard/guardian')}`,
      'server: { mqttUrl: "mqtts://127.0.0.1:8883", apiUrl: "https://127.0.0.1:8443", caFile: /etc/shellguard/site-root.crt }',
      'equipment:',
      '  - { asset: AHU-01, profile: ahu-generic, host: 127.0.0.1, port: 1502 }',
      '  - { asset: UPS-01, profile: ups-generic, host: 127.0.0.1, port: 1503 }',
      '',
    ].join('\n'));
  }, 240_000);

  afterAll(() => {
    if (IS_ROOT && spawnSync('id', ['-u', user]).status === 0) spawnSync('userdel', [user]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has its media and prefix outside any node_modules', () => {
    expect(hasNoNodeModulesAbove(media)).toBe(true);
    expect(hasNoNodeModulesAbove(prefix)).toBe(true);
  });

  it('installs with install.sh: slots, launcher, config, data 0700, initial slot state, unit', async () => {
    const r = await runOk('sh', [
      path.join(media, 'deploy/install.sh'), '--prefix', prefix, '--user', user, '--node', process.execPath,
      '--app', path.join(media, release.artifacts.app.name), '--platform', path.join(media, release.artifacts.platform.name),
      '--config', path.join(dir, 'site', 'guardian.yaml'),
    ]);
    if (IS_ROOT) {
      expect(r.stdout).toContain(`created system user ${user}`);
      const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`))!;
      const [, , uid, gid, , home, shell] = passwd.split(':');
      expect(shell).toMatch(/nologin$/);
      expect(existsSync(home!)).toBe(false);
      expect(Number(uid)).toBeLessThan(1000); // a system account
      ids = { uid: Number(uid), gid: Number(gid) };
    } else {
      console.warn('install test: not root, so install.sh skipped creating the service user and the guardian runs as the current user');
      expect(r.stdout).toContain('not root');
    }
    for (const s of ['app-a', 'app-b', 'platform-a', 'platform-b']) expect(statSync(path.join(opt(), 'slots', s)).isDirectory()).toBe(true);
    expect(readdirSync(path.join(opt(), 'slots/app-a')).sort()).toEqual(['guardian.mjs', 'manifest.json', 'protocol']);
    expect(readdirSync(path.join(opt(), 'slots/app-b'))).toEqual([]);
    expect(existsSync(path.join(opt(), 'slots/platform-a/node_modules/better-sqlite3/build/Release/better_sqlite3.node'))).toBe(true);
    expect(statSync(path.join(opt(), 'boot.mjs')).uid).toBe(process.getuid!());
    expect(statSync(dataDir()).mode & 0o777).toBe(0o700);
    expect(readFileSync(path.join(dataDir(), 'slots.json'), 'utf8')).toBe(`${INITIAL_SLOTS}\n`);
    expect(statSync(configFile()).mode & 0o777).toBe(0o640);
    if (ids) {
      expect(statSync(dataDir()).uid).toBe(ids.uid);
      expect(statSync(path.join(dataDir(), 'slots.json')).uid).toBe(ids.uid);
      expect(statSync(configFile()).gid).toBe(ids.gid);
    }
    const unit = readFileSync(path.join(prefix, 'etc/systemd/system/shellguard-guardian.service'), 'utf8');
    expect(unit).toContain(`User=${user}\n`);
    expect(unit).toMatch(new RegExp(`\nExecStart=${process.execPath} (--[a-z-]+(=\\S+)? )*/opt/shellguard/guardian/boot\\.mjs run --config /etc/shellguard/guardian\\.yaml\n`));
  });

  it('refuses to install over an installed guardian', async () => {
    const r = await run('sh', [path.join(media, 'deploy/install.sh'), '--prefix', prefix, '--user', user,
      '--app', path.join(media, release.artifacts.app.name), '--platform', path.join(media, release.artifacts.platform.name)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('installed here already');
  });

  it('runs the installed guardian with plain node: it measures what the bundle manifests say', async () => {
    const r = await boot(['measure', '--config', configFile()]);
    expect(r.stderr).toBe('');
    const m = JSON.parse(r.stdout) as Measured;
    expect(m.swname).toBe('shellguard-guardian');
    expect(m.swversion).toBe(appManifest.version);
    expect(m.components.map((c) => c.component)).toEqual(['runtime', 'guardian-bundle', 'config', 'profiles']);
    expect(digestOf(m, 'guardian-bundle')).toBe(digestOf(appManifest, 'guardian-bundle'));
    // Its profiles (ahu and ups only) are one of the subsets the manifest lists.
    expect(appManifest.components.filter((c) => c.component === 'profiles').map((c) => c.digest)).toContain(digestOf(m, 'profiles'));
    expect(digestOf(m, 'runtime')).toBe(digestOf(platformManifest, 'runtime'));
    expect(digestOf(m, 'config')).toBe(createHash('sha256').update(readFileSync(configFile())).digest('hex'));
  });

  it('creates its identity key in the data folder, as the service user', async () => {
    const r = await boot(['id', '--data-dir', dataDir()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(path.join(dataDir(), 'identity.key'))).toBe(true);
    if (ids) expect(statSync(path.join(dataDir(), 'identity.key')).uid).toBe(ids.uid);
  });

  it('measures the same bundle identically from slot b', async () => {
    const before = JSON.parse((await boot(['measure', '--config', configFile()])).stdout) as Measured;
    cpSync(path.join(opt(), 'slots/app-a'), path.join(opt(), 'slots/app-b'), { recursive: true });
    const state = path.join(dataDir(), 'slots.json');
    writeFileSync(state, INITIAL_SLOTS.replace('"application":{"active":"a"', '"application":{"active":"b"'));
    try {
      const fromB = JSON.parse((await boot(['measure', '--config', configFile()])).stdout) as Measured;
      expect(fromB).toEqual(before);
      // It really ran slot b: a changed file there changes the measurement.
      writeFileSync(path.join(opt(), 'slots/app-b/protocol/profiles/extra.txt'), 'x');
      const changed = JSON.parse((await boot(['measure', '--config', configFile()])).stdout) as Measured;
      expect(digestOf(changed, 'guardian-bundle')).not.toBe(digestOf(before, 'guardian-bundle'));
    } finally {
      writeFileSync(state, `${INITIAL_SLOTS}\n`);
      if (ids) spawnSync('chown', [`${ids.uid}:${ids.gid}`, state]);
    }
  });

  it('loads the native layer (better-sqlite3) from the active platform slot, as the bundle does', async () => {
    // The bundle's `require` is createRequire(<its own URL>); boot.mjs points NODE_PATH at the platform slot.
    const probe = [
      "import { createRequire, Module } from 'node:module';",
      `process.env.NODE_PATH = ${JSON.stringify(path.join(opt(), 'slots/platform-a/node_modules'))}; Module._initPaths();`,
      `const require = createRequire(${JSON.stringify(path.join(opt(), 'slots/app-a/guardian.mjs'))});`,
      "const Database = require('better-sqlite3'); const db = new Database(':memory:');",
      "console.log(JSON.stringify({ from: require.resolve('better-sqlite3'), v: db.prepare('select sqlite_version() v').get().v }));",
    ].join('\n');
    const r = await runOk(process.execPath, ['--input-type=module', '-e', probe], { cwd: media, ...(ids ?? {}) });
    const got = JSON.parse(r.stdout) as { from: string; v: string };
    expect(got.from.startsWith(path.join(opt(), 'slots/platform-a/node_modules/better-sqlite3/'))).toBe(true);
    expect(got.v).toMatch(/^3\./);
  });

  it('fails to boot with a clear message when the slot state is broken', async () => {
    const state = path.join(dataDir(), 'slots.json');
    const good = readFileSync(state, 'utf8');
    writeFileSync(state, '{"v":1,"streams":{}}');
    try {
      const r = await boot(['measure', '--config', configFile()]);
      expect(r.code).toBe(78);
      expect(r.stderr).toContain('streams.application.active must be "a" or "b"');
    } finally {
      writeFileSync(state, good);
    }
  });

  it.skipIf(!HAS_SYSTEMD_ANALYZE)('has a systemd unit that systemd-analyze verifies, with a low exposure score', async () => {
    const unit = path.join(prefix, 'etc/systemd/system/shellguard-guardian.service');
    const v = await run('systemd-analyze', ['verify', unit]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr.split('\n').filter((l) => l.includes('shellguard-guardian.service'))).toEqual([]);
    const s = await run('systemd-analyze', ['security', '--offline=yes', unit]);
    const score = /Overall exposure level for .*: ([\d.]+)/.exec(s.stdout)?.[1];
    if (score !== undefined) expect(Number(score)).toBeLessThan(3);
  });
  if (!HAS_SYSTEMD_ANALYZE) console.warn('install test: systemd-analyze is not installed; the unit was not verified');

  it('runs the built CLI and server from the server bundle with plain node', async () => {
    const serverDir = path.join(dir, 'server');
    extractBundleArchive(readFileSync(path.join(media, release.artifacts.server.name)), serverDir);
    expect(hasNoNodeModulesAbove(path.dirname(serverDir))).toBe(true);
    const help = await runOk(process.execPath, [path.join(serverDir, 'shellguard.mjs'), '--help'], { cwd: dir });
    expect(help.stdout).toContain('Usage: shellguard');
    expect(help.stdout).toContain('guardian');
    // A whole site (server, broker, store, dashboard, simulated equipment, a guardian) from the bundle.
    const demoDir = path.join(dir, 'demo');
    const child = spawn(process.execPath, [
      path.join(serverDir, 'shellguard.mjs'), 'demo', '--dir', demoDir, '--assets', '2', '--guardians', '1',
      '--api-port', '28443', '--mqtt-port', '28883', '--sim-port', '27020', '--duration', '120', '--scenario', 'none',
    ], { cwd: dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        const started = Date.now();
        const check = setInterval(() => {
          if (/claimed\s+pass/.test(out)) {
            clearInterval(check);
            resolve();
          } else if (child.exitCode !== null || Date.now() - started > 100_000) {
            clearInterval(check);
            reject(new Error(`the demo did not attest its guardian:\n${out}`));
          }
        }, 200);
      });
      const ca = path.join(demoDir, 'ca', 'root.crt');
      const page = await runOk('curl', ['-sS', '--cacert', ca, 'https://127.0.0.1:28443/']);
      expect(page.stdout).toContain('<div id="root">');
      expect(page.stdout).not.toContain('not built');
      const token = readFileSync(path.join(demoDir, 'admin-token'), 'utf8').trim();
      const health = await runOk('curl', ['-sS', '--cacert', ca, '-H', `Authorization: Bearer ${token}`, 'https://127.0.0.1:28443/api/v1/health']);
      expect(JSON.parse(health.stdout)).toMatchObject({ status: 'ok' });
    } finally {
      child.kill('SIGINT');
      // The demo stops on SIGINT, but its --duration timer keeps the process until it fires.
      const stopped = setInterval(() => {
        if (out.includes('stopped; state kept')) child.kill('SIGKILL');
      }, 100);
      await exited;
      clearInterval(stopped);
    }
    expect(out).toContain('stopped; state kept');
    const log = readFileSync(path.join(demoDir, 'demo.log'), 'utf8').split('\n').filter(Boolean);
    expect(log.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)).toEqual([]);
  }, 180_000);

  it('uninstalls, keeping data, keys and config; --purge removes them and the user', async () => {
    const r = await runOk('sh', [path.join(media, 'deploy/uninstall.sh'), '--prefix', prefix, '--user', user]);
    expect(r.stdout).toContain('kept');
    expect(existsSync(opt())).toBe(false);
    expect(existsSync(path.join(prefix, 'opt/shellguard'))).toBe(false);
    expect(existsSync(path.join(prefix, 'etc/systemd/system/shellguard-guardian.service'))).toBe(false);
    expect(readdirSync(dataDir())).toContain('identity.key');
    expect(existsSync(path.join(dataDir(), 'slots.json'))).toBe(false);
    expect(existsSync(configFile())).toBe(true);
    if (IS_ROOT) expect(spawnSync('id', ['-u', user]).status).toBe(0);

    await runOk('sh', [path.join(media, 'deploy/uninstall.sh'), '--prefix', prefix, '--user', user, '--purge']);
    expect(existsSync(dataDir())).toBe(false);
    expect(existsSync(configFile())).toBe(false);
    // Only the empty system folders of the prefix are left.
    const left: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d)) {
        const full = path.join(d, e);
        if (statSync(full).isDirectory()) walk(full);
        else left.push(path.relative(prefix, full));
      }
    };
    walk(prefix);
    expect(left).toEqual([]);
    if (IS_ROOT) expect(spawnSync('id', ['-u', user]).status).not.toBe(0);
  });
});
