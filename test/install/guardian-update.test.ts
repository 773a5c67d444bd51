/**
 * The built, installed guardian updates itself end to end — no tsx, no dev dependencies, none of
 * the repository's node_modules in the guardian process:
 *
 *  - release A (the tree's version) is installed with deploy/guardian/install.sh into a temp
 *    prefix and run as systemd runs the unit: `node boot.mjs run --config …`, a clean environment,
 *    as the service user when the test runs as root, restarted whenever it exits (Restart=always);
 *  - release B (a newer version, built from the same tree with a version override, so its code
 *    and digest differ) is signed offline into a real server's TUF image repository, with its
 *    manifest.json as the target's custom metadata, and deployed to the device's group;
 *  - the guardian downloads B through TUF with its operational certificate, writes slot b, exits
 *    75, boot.mjs starts slot b, the new code re-attests and streams telemetry from simulated
 *    Modbus equipment, commits, and the deployment completes with no version mismatch;
 *  - release C, genuine but without an equipment profile this device uses, cannot start: after
 *    three boots boot.mjs goes back to B, B reports rolled_back with the reason, the deployment halts;
 *  - release D, whose signed manifest names a guardian-bundle digest its code does not have, is
 *    refused at attestation: the guardian rolls back to B by itself. The server quarantines the
 *    device for what it measured, so the deployment fails at its health window and halts; only
 *    once an operator releases the quarantine (and restarts the service) does the rolled_back
 *    report arrive.
 */
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import type { BundleManifest, Measurement } from '@shellguard/protocol';
import { startSimulatedSite, type SimulatedSite } from '@shellguard/sim';
import { digestTrees, directoryEntries, readBundleManifest, writeBundleArchive } from '@shellguard/guardian';
import { REPO_ROOT } from '../../scripts/build/bundle.ts';
import { buildRelease, type Release } from '../../scripts/build/release.ts';
import { until } from '../support/update-site.ts';
import { PRODUCT, Supervisor, startBuiltUpdateSite, type BuiltUpdateSite } from './built-update-site.ts';
import { cleanEnv, ensureWebDist, hasNoNodeModulesAbove, run, runOk } from './release-fixture.ts';

const IS_ROOT = process.getuid?.() === 0;
const SITE = 'site-1';
const GROUP = 'built-gateways';
const RESTART_EXIT_CODE = 75;

interface SlotsFile {
  v: 1;
  streams: Record<'application' | 'platform', {
    active: 'a' | 'b'; committed: 'a' | 'b'; trial: 'a' | 'b' | null; bootAttempts: number;
    versions?: Record<string, string>; lastRollback?: { version: string; reason: string; deploymentId?: string };
  }>;
}

interface Published { version: string; name: string; bytes: Buffer; manifest: BundleManifest; realDigest: string }

/** A built release's app bundle archived again with `manifest` as its manifest.json (what is signed as the target's custom metadata). */
async function archived(r: Release, manifest: BundleManifest, realDigest: string): Promise<Published> {
  writeFileSync(path.join(r.stage.app, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const bytes = writeBundleArchive((await directoryEntries(r.stage.app)).map((e) => ({ ...e, executable: e.name === 'guardian.mjs' })));
  return { version: r.version, name: r.artifacts.app.name, bytes, manifest, realDigest };
}

const digestOf = (components: readonly { component: string; digest: string }[], c: string) => components.find((x) => x.component === c)?.digest;
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

describe('the built, installed guardian updates itself', () => {
  let dir: string;
  let media: string;
  let prefix: string;
  let site: BuiltUpdateSite;
  let sim: SimulatedSite;
  let A: Release;
  let B: Release;
  /** C cannot start on this device (a profile it uses is missing); D's code does not match its signed manifest. */
  let C: Published;
  let D: Published;
  let supervisor: Supervisor;
  let deviceId: string;
  let ids: { uid: number; gid: number } | undefined;
  let user: string | undefined;
  const timings: Record<string, number> = {};

  const opt = () => path.join(prefix, 'opt/shellguard/guardian');
  const dataDir = () => path.join(prefix, 'var/lib/shellguard/guardian');
  const configFile = () => path.join(prefix, 'etc/shellguard/guardian.yaml');
  const slots = () => JSON.parse(readFileSync(path.join(dataDir(), 'slots.json'), 'utf8')) as SlotsFile;
  const boot = (args: string[]) => runOk(process.execPath, [path.join(opt(), 'boot.mjs'), '--prefix', prefix, ...args], { cwd: media, env: cleanEnv(), ...(ids ?? {}) });
  /** The newest passing attestation the server stored for the device. */
  const lastPass = async () => (await site.server.fleet.attestations(deviceId, 50)).find((a) => a.result === 'pass');
  const guardianSaid = () => supervisor?.output.slice(-6000) ?? '';

  beforeAll(async () => {
    const t0 = Date.now();
    ensureWebDist();
    dir = mkdtempSync(path.join(tmpdir(), 'sg-guardian-update-'));
    sim = await startSimulatedSite({ site: SITE, assets: 3, basePort: 0, seed: 1 });
    chmodSync(dir, 0o755); // the service user must reach the prefix inside
    // Two releases from this tree: A as it is, B newer (its version is in its code, so its digest differs).
    A = await buildRelease({ outDir: path.join(dir, 'build-a') });
    const bVersion = bump(A.version, 1);
    B = await buildRelease({ outDir: path.join(dir, 'build-b'), version: bVersion });
    // C: genuine and newer, but it lacks the equipment profile this device's first asset uses, so it cannot start here.
    const c = await buildRelease({ outDir: path.join(dir, 'build-c'), version: bump(A.version, 2) });
    const profilesDir = path.join(c.stage.app, 'protocol/profiles');
    const dropped = readdirSync(profilesDir).find((f) => new RegExp(`^id:\\s*${sim.assets[0]!.profile}\\s*$`, 'm').test(readFileSync(path.join(profilesDir, f), 'utf8')))!;
    expect(dropped, `the profile file of ${sim.assets[0]!.profile}`).toBeDefined();
    rmSync(path.join(profilesDir, dropped));
    // Measured as the build measures a bundle: every file but manifest.json, which only marks the root.
    writeFileSync(path.join(c.stage.app, 'manifest.json'), '{}\n');
    const cDigest = await digestTrees([c.stage.app]);
    const cManifest: BundleManifest = { ...c.manifests.app, components: c.manifests.app.components.map((x) => (x.component === 'guardian-bundle' ? { ...x, digest: cDigest } : x)) };
    C = await archived(c, cManifest, cDigest);
    // D: newer still, and its signed manifest names a guardian-bundle digest its code does not have.
    const d = await buildRelease({ outDir: path.join(dir, 'build-d'), version: bump(A.version, 3) });
    const dDigest = digestOf(d.manifests.app.components, 'guardian-bundle')!;
    D = await archived(d, {
      ...d.manifests.app,
      components: d.manifests.app.components.map((x) => (x.component === 'guardian-bundle' ? { ...x, digest: sha256('not the code of this release') } : x)),
    }, dDigest);
    timings.buildSeconds = (Date.now() - t0) / 1000;

    // What an operator copies to the gateway: release A's artifacts and deploy/guardian.
    media = path.join(dir, 'media');
    mkdirSync(media);
    for (const a of [A.artifacts.app, A.artifacts.platform]) {
      copyFileSync(a.file, path.join(media, a.name));
      copyFileSync(`${a.file}.sha256`, path.join(media, `${a.name}.sha256`));
    }
    cpSync(path.join(REPO_ROOT, 'deploy/guardian'), path.join(media, 'deploy'), { recursive: true });
    prefix = path.join(dir, 'root');
    mkdirSync(prefix);

    site = await startBuiltUpdateSite('sg-guardian-update-site-');
    // B is signed offline and published as built: the target's custom metadata is the bundle's own manifest.json.
    const bBytes = readFileSync(B.artifacts.app.file);
    expect(readBundleManifest(bBytes)).toEqual(B.manifests.app);
    await site.publish(B.artifacts.app.name, bBytes, readBundleManifest(bBytes));
  }, 600_000);

  afterAll(async () => {
    await supervisor?.stop();
    await sim?.stop();
    await site?.close();
    if (user && spawnSync('id', ['-u', user]).status === 0) spawnSync('userdel', [user]);
    if (dir && !process.env.SG_KEEP) rmSync(dir, { recursive: true, force: true });
    console.log(`guardian-update timings (s): ${JSON.stringify(timings)}${process.env.SG_KEEP ? `; kept ${dir}` : ''}`);
  }, 120_000);

  it('builds B with its own version in its code, so its guardian-bundle digest differs from A', () => {
    expect(B.version).not.toBe(A.version);
    expect(B.manifests.app.version).toBe(B.version);
    expect(digestOf(B.manifests.app.components, 'guardian-bundle')).not.toBe(digestOf(A.manifests.app.components, 'guardian-bundle'));
    expect(readFileSync(path.join(B.stage.app, 'guardian.mjs'), 'utf8')).toContain(`version:"${B.version}"`);
    expect(readFileSync(path.join(A.stage.app, 'guardian.mjs'), 'utf8')).not.toContain(`version:"${B.version}"`);
  });

  it('installs A with install.sh, claims the device with the reference values it measures, and runs it as systemd would', async () => {
    const t0 = Date.now();
    user = IS_ROOT ? `sgu${randomBytes(3).toString('hex')}` : 'shellguard';
    const etc = path.join(dir, 'site');
    mkdirSync(etc);
    writeFileSync(path.join(etc, 'guardian.yaml'), toYaml({
      site: SITE,
      dataDir: dataDir(),
      server: { mqttUrl: `mqtts://127.0.0.1:${site.server.mqttPort}`, apiUrl: `https://127.0.0.1:${site.server.apiPort}`, caFile: path.join(prefix, 'etc/shellguard/site-root.crt') },
      equipment: sim.assets.map((a) => ({ asset: a.id, name: a.name, area: a.area, profile: a.profile, host: a.host, port: a.port, unitId: a.unitId })),
      updates: { installDir: opt(), trustedRootsDir: path.join(prefix, 'etc/shellguard/tuf'), product: PRODUCT },
    }));
    const r = await runOk('sh', [
      path.join(media, 'deploy/install.sh'), '--prefix', prefix, '--user', user, '--node', process.execPath,
      '--app', path.join(media, A.artifacts.app.name), '--platform', path.join(media, A.artifacts.platform.name),
      '--config', path.join(etc, 'guardian.yaml'),
    ]);
    if (IS_ROOT) {
      expect(r.stdout).toContain(`created system user ${user}`);
      const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`))!;
      const [, , uid, gid] = passwd.split(':');
      ids = { uid: Number(uid), gid: Number(gid) };
    } else {
      console.warn('guardian-update test: not root, so the guardian runs as the current user');
    }
    // What the install ships beside the bundles: the site root and the repository's first root.json.
    writeFileSync(path.join(prefix, 'etc/shellguard/site-root.crt'), site.server.rootPem, { mode: 0o644 });
    mkdirSync(path.join(prefix, 'etc/shellguard/tuf'), { mode: 0o755 });
    writeFileSync(path.join(prefix, 'etc/shellguard/tuf', site.trustedRoot.name), site.trustedRoot.content, { mode: 0o644 });
    expect(hasNoNodeModulesAbove(prefix)).toBe(true);
    expect(hasNoNodeModulesAbove(media)).toBe(true);

    deviceId = (await boot(['id', '--data-dir', dataDir()])).stdout.trim();
    expect(deviceId).toMatch(/^[0-9a-f]{64}$/);
    const measured = JSON.parse((await boot(['measure', '--config', configFile()])).stdout) as { swname: string; swversion: string; components: Measurement[] };
    expect(measured.swversion).toBe(A.version);
    expect(digestOf(measured.components, 'guardian-bundle')).toBe(digestOf(A.manifests.app.components, 'guardian-bundle'));
    const { server } = site;
    await server.fleet.defineGroup({ id: GROUP, site: SITE, minSecureVersion: A.version }, 'test');
    await server.fleet.registerRelease({ group: GROUP, swname: PRODUCT, swversion: A.version, components: measured.components }, 'test');
    await server.fleet.claim({ deviceId, site: SITE, group: GROUP }, 'test');

    supervisor = new Supervisor({
      args: [path.join(opt(), 'boot.mjs'), '--prefix', prefix, 'run', '--config', configFile()],
      cwd: media, logFile: path.join(dir, 'guardian.log'), env: { SHELLGUARD_LOG_LEVEL: 'info' }, ...(ids ? { ids } : {}),
    });
    supervisor.start();
    await until('A to attest and stream telemetry', async () => {
      const pass = await lastPass();
      return pass?.swversion === A.version && server.stats().ingest.samplesStored > 0 ? pass : undefined;
    }, 120_000).catch((err: unknown) => { throw new Error(`${(err as Error).message}\nthe guardian said:\n${guardianSaid()}`); });
    expect(supervisor.exits).toEqual([]);
    // The state install.sh wrote has no versions; the updater recorded what the slots hold (from their manifests).
    expect(slots().streams.application).toMatchObject({ active: 'a', committed: 'a', trial: null, versions: { a: A.version } });
    expect(slots().streams.platform).toMatchObject({ active: 'a', versions: { a: A.manifests.platform.version } });
    timings.installAndFirstTelemetrySeconds = (Date.now() - t0) / 1000;
  }, 240_000);

  it('deploys B: TUF download with its certificate, slot b, exit 75, boot.mjs starts b, re-attests, streams, commits, completes', async () => {
    const t0 = Date.now();
    const { server } = site;
    const bDigest = digestOf(B.manifests.app.components, 'guardian-bundle')!;
    // The image repository serves only devices it trusts (their operational certificate) and signed-in people.
    // (run, not spawnSync: the server answering it is in this process)
    const anonymous = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', path.join(prefix, 'etc/shellguard/site-root.crt'),
      `https://127.0.0.1:${server.apiPort}/api/v1/tuf/${PRODUCT}/application/metadata/timestamp.json`]);
    expect(anonymous.stdout, anonymous.stderr).toMatch(/^40[13]$/);
    const { deployment } = await server.updates.deployments.create({
      product: PRODUCT, stream: 'application', version: B.version, group: GROUP, policy: { waves: [100], healthWindowSeconds: 120 },
    }, 'test');
    const done = await until('the deployment of B to complete', async () => {
      const view = await server.updates.deployments.get(deployment.id);
      if (view.deployment.state === 'halted') throw new Error(`halted: ${view.deployment.haltedReason}`);
      return view.deployment.state === 'completed' ? view : undefined;
    }, 300_000).catch(async (err: unknown) => {
      const devices = await server.updates.deployments.devices(deployment.id);
      throw new Error(`${(err as Error).message}; devices: ${JSON.stringify(devices.map((d) => ({ state: d.state, reason: d.reason, running: d.running })))}\nexits: ${JSON.stringify(supervisor.exits)}\nthe guardian said:\n${guardianSaid()}`);
    });
    timings.deployBSeconds = (Date.now() - t0) / 1000;

    // The device: healthy on B, with evidence.
    expect(done.progress.healthy).toBe(1);
    const [dev] = await server.updates.deployments.devices(deployment.id);
    expect(dev).toMatchObject({ deviceId, state: 'healthy', running: B.version });
    expect(dev!.history.map((h) => h.state)).toEqual(expect.arrayContaining(['downloading', 'installed', 'healthy']));

    // It exited 75 once to be restarted into slot b, and was started again.
    const restartExit = supervisor.exits.findIndex((e) => e.code === RESTART_EXIT_CODE);
    expect(restartExit, JSON.stringify(supervisor.exits)).toBeGreaterThanOrEqual(0);
    expect(supervisor.exits.filter((e) => e.code !== RESTART_EXIT_CODE)).toEqual([]);
    expect(supervisor.restarts).toBe(supervisor.exits.length);
    timings.restartsForB = supervisor.restarts;
    const restartedAt = supervisor.exits[restartExit]!.at;

    // Downloaded through TUF with its operational certificate, installed into slot b, committed.
    // (the 'committed' phase is logged just after the healthy report the server completed on: wait for the line)
    const phasesLogged = () => supervisor.logLines().filter((l) => l.msg === 'update phase' && l.stream === 'application').map((l) => l.phase);
    const phases = await until('the committed phase in the log', () => (phasesLogged().includes('committed') ? phasesLogged() : undefined), 30_000);
    expect(phases).toEqual(['verified', 'downloading', 'downloaded', 'unpacking', 'unpacked', 'trial-begun', 'health-check', 'committed']);
    expect(existsSync(path.join(dataDir(), 'tuf'))).toBe(true);
    const s = slots().streams.application;
    expect(s).toMatchObject({ active: 'b', committed: 'b', trial: null, bootAttempts: 0 });
    expect(s.versions?.b).toBe(B.version);
    expect(readFileSync(path.join(opt(), 'slots/app-b/manifest.json'), 'utf8')).toBe(readFileSync(path.join(B.stage.app, 'manifest.json'), 'utf8'));
    expect(readFileSync(path.join(opt(), 'slots/app-b/guardian.mjs'))).toEqual(readFileSync(path.join(B.stage.app, 'guardian.mjs')));
    // Slot a still holds A until the next install overwrites it (b is committed now).
    expect(JSON.parse(readFileSync(path.join(opt(), 'slots/app-a/manifest.json'), 'utf8'))).toMatchObject({ version: A.version });

    // The new code re-attested after the restart: swversion B, B's guardian-bundle digest.
    const pass = (await lastPass())!;
    expect(pass.at).toBeGreaterThanOrEqual(restartedAt);
    expect(pass.swversion).toBe(B.version);
    expect(digestOf(pass.measurements ?? [], 'guardian-bundle')).toBe(bDigest);
    const fleetView = (await server.fleet.fleetView()).find((d) => d.deviceId === deviceId)!;
    expect(fleetView.swversion).toBe(B.version);

    // Telemetry from B is stored (the health check needs it; here it is counted on the server).
    const storedAtCommit = server.stats().ingest.samplesStored;
    await until('more telemetry from B', () => (server.stats().ingest.samplesStored > storedAtCommit ? true : undefined), 60_000);

    // The version report: every device runs the target and proved it.
    const report = await server.updates.deployments.versionReport(GROUP, 'application');
    expect(report.target?.version).toBe(B.version);
    expect(report.devices).toHaveLength(1);
    expect(report.devices[0]).toMatchObject({ deviceId, running: B.version, attested: true, matches: true });
    expect(report.mismatches).toEqual([]);
  }, 420_000);

  /** Waits for a deployment to halt; on a timeout, says what the device and the guardian said. */
  async function untilHalted(id: string, what: string) {
    const { server } = site;
    return until(`the deployment of ${what} to halt`, async () => {
      const view = await server.updates.deployments.get(id);
      if (view.deployment.state === 'completed') throw new Error(`${what} completed`);
      return view.deployment.state === 'halted' ? view : undefined;
    }, 300_000).catch(async (err: unknown) => {
      const devices = await server.updates.deployments.devices(id);
      throw new Error(`${(err as Error).message}; devices: ${JSON.stringify(devices.map((d) => ({ state: d.state, reason: d.reason, running: d.running })))}\nexits: ${JSON.stringify(supervisor.exits)}\nthe guardian said:\n${guardianSaid()}`);
    });
  }

  it('deploys C, which cannot start on this device: boot.mjs gives up after 3 boots, B runs again and reports rolled_back, the deployment halts', async () => {
    const t0 = Date.now();
    const { server } = site;
    await site.publish(C.name, C.bytes, C.manifest);
    const exitsBefore = supervisor.exits.length;
    const { deployment } = await server.updates.deployments.create({
      product: PRODUCT, stream: 'application', version: C.version, group: GROUP, policy: { waves: [100], healthWindowSeconds: 120 },
    }, 'test');
    const halted = await untilHalted(deployment.id, 'C');
    timings.deployCSeconds = (Date.now() - t0) / 1000;
    expect(halted.deployment.haltedReason).toMatch(/roll|fail/i);
    expect(halted.progress.healthy).toBe(0);
    const [dev] = await server.updates.deployments.devices(deployment.id);
    expect(dev).toMatchObject({ deviceId, state: 'rolled_back' });
    expect(dev!.reason).toMatch(/did not start: 3 boots/);

    // Installed into slot a (B's committed slot b is never written), then three failed starts, then B again.
    const exits = supervisor.exits.slice(exitsBefore);
    timings.restartsForC = exits.length;
    expect(exits.map((e) => e.code)).toEqual([RESTART_EXIT_CODE, 1, 1, 1]);
    expect(supervisor.output).toContain(`profile_unknown`);
    expect(supervisor.output).toContain('shellguard-guardian boot: the new application release did not start: 3 boots without passing its health check; running the committed application slot b');
    const s = slots().streams.application;
    expect(s).toMatchObject({ active: 'b', committed: 'b', trial: null, bootAttempts: 0 });
    expect(s.versions?.a).toBe(C.version);
    expect(s.lastRollback).toMatchObject({ version: C.version, deploymentId: deployment.id });

    // B runs and streams again, with the certificate it attested with (C never attested).
    const stored = server.stats().ingest.samplesStored;
    await until('telemetry after the rollback', () => (server.stats().ingest.samplesStored > stored ? true : undefined), 60_000);
    expect((await server.fleet.attestations(deviceId, 50)).some((a) => a.swversion === C.version)).toBe(false);
    const report = await server.updates.deployments.versionReport(GROUP, 'application');
    expect(report.devices[0]).toMatchObject({ deviceId, running: B.version });
  }, 420_000);

  it('deploys D, whose code does not match its signed manifest: refused at attestation, the guardian rolls back to B by itself; the server quarantines it', async () => {
    const t0 = Date.now();
    const { server } = site;
    await site.publish(D.name, D.bytes, D.manifest);
    const exitsBefore = supervisor.exits.length;
    const { deployment } = await server.updates.deployments.create({
      product: PRODUCT, stream: 'application', version: D.version, group: GROUP, policy: { waves: [100], healthWindowSeconds: 30 },
    }, 'test');
    // The refusal: D's code measured what its signed manifest does not say.
    const refused = await until('a refused attestation of D', async () => (await server.fleet.attestations(deviceId, 50)).find((a) => a.result === 'fail' && a.swversion === D.version), 120_000);
    expect(refused.reason).toBe('measurements_mismatch');
    expect(digestOf(refused.measurements ?? [], 'guardian-bundle')).toBe(D.realDigest);
    // The guardian went back to B on its own: the committed slot b, D recorded as rolled back with the reason.
    await until('the rollback of D', () => (slots().streams.application.lastRollback?.version === D.version && supervisor.exits.length >= exitsBefore + 2 ? true : undefined), 60_000);
    const s = slots().streams.application;
    expect(s).toMatchObject({ active: 'b', committed: 'b', trial: null });
    expect(s.versions?.a).toBe(D.version);
    expect(s.lastRollback).toMatchObject({ version: D.version, deploymentId: deployment.id });
    expect(s.lastRollback!.reason).toMatch(/attestation refused: .*measurements_mismatch/);
    expect(supervisor.exits.slice(exitsBefore, exitsBefore + 2).map((e) => e.code)).toEqual([RESTART_EXIT_CODE, RESTART_EXIT_CODE]);

    // But the server quarantined the device for it (measured software that is no registered release), so
    // B cannot connect to say so: the server sees no evidence of D within the health window and halts.
    expect((await server.fleet.fleetView()).find((x) => x.deviceId === deviceId)?.state).toBe('quarantined');
    const halted = await untilHalted(deployment.id, 'D');
    timings.deployDSeconds = (Date.now() - t0) / 1000;
    expect(halted.progress.healthy).toBe(0);
    const [dev] = await server.updates.deployments.devices(deployment.id);
    expect(dev!.state).toBe('failed');
    // An operator releases the quarantine and restarts the service (the uplink does not reconnect by itself
    // once the broker has refused it: mqtt.js stops reconnecting after a refused CONNACK). B connects with the
    // certificate it attested with, and its rolled_back report arrives.
    const stored = server.stats().ingest.samplesStored;
    await server.fleet.releaseQuarantine(deviceId, 'test');
    await supervisor.restartNow();
    await until('telemetry from B after the release', () => (server.stats().ingest.samplesStored > stored ? true : undefined), 120_000)
      .catch((err: unknown) => { throw new Error(`${(err as Error).message}\nthe guardian said:\n${guardianSaid()}`); });
    const after = await until('the device to report the rollback', async () => {
      const [x] = await server.updates.deployments.devices(deployment.id);
      return x?.history.some((h) => h.state === 'rolled_back') ? x : undefined;
    }, 60_000).catch(async (err: unknown) => {
      const [x] = await server.updates.deployments.devices(deployment.id);
      throw new Error(`${(err as Error).message}: ${JSON.stringify(x)}`);
    });
    timings.deployDWithReleaseSeconds = (Date.now() - t0) / 1000;
    expect(after.history.find((h) => h.state === 'rolled_back')?.reason).toMatch(/attestation refused/);
    expect((await lastPass())?.swversion).toBe(B.version);
  }, 420_000);
});

/** The version `n` patch releases after `v`. */
function bump(v: string, n: number): string {
  const [major, minor, patch] = v.replace(/[-+].*$/, '').split('.').map(Number) as [number, number, number];
  return `${major}.${minor}.${patch + n}`;
}
