import { afterEach, describe, expect, it } from 'vitest';
import { SqlDeploymentStore } from '../../src/updates/rollout/sql-deployment-store.ts';
import { DeploymentError } from '../../src/updates/rollout/deployment-error.ts';
import type { Deployment } from '../../src/updates/rollout/deployment-model.ts';
import { waveSizes } from '../../src/updates/rollout/wave-plan.ts';
import {
  appManifest, BUNDLE_1_0, BUNDLE_1_1, deviceIdOf, digest, harness, HOUR, MINUTE, RUNTIME_20, RUNTIME_20_20, T0, type Harness,
} from './rollout-harness.ts';

const GOOD = appManifest('1.1.0', BUNDLE_1_1);
let h: Harness;
afterEach(() => h?.close());

const deploy = (policy: Record<string, unknown> = {}, version = '1.1.0', stream: 'application' | 'platform' = 'application') =>
  h.service.create({ product: 'guardian', stream, version, group: 'ahu-gw', policy }, 'user:alice');

async function waveDevices(dep: Deployment, wave: number): Promise<string[]> {
  return (await h.service.devices(dep.id)).filter((d) => d.wave === wave).map((d) => d.deviceId);
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DeploymentError) return err.code;
    throw err;
  }
  throw new Error('expected a DeploymentError');
}

describe('waveSizes', () => {
  it('gives every wave at least one device and ends with the whole group', () => {
    expect(waveSizes(200, [1, 10, 50, 100])).toEqual([2, 18, 80, 100]);
    expect(waveSizes(20, [1, 10, 50, 100])).toEqual([1, 1, 8, 10]);
    expect(waveSizes(2, [1, 10, 50, 100])).toEqual([1, 1]);
  });
});

describe('DeploymentService.create', () => {
  it('assigns 1/10/50/100 % waves over 200 devices, allows the release in attestation and instructs only wave 1', async () => {
    h = await harness(200);
    const { deployment, progress } = await deploy({ waveSoakSeconds: 600 });
    expect(progress.waves.map((w) => w.devices)).toEqual([2, 18, 80, 100]);
    expect(h.allowed).toEqual([{ group: 'ahu-gw', version: '1.1.0', actor: 'user:alice' }]);
    expect([...h.instructed(deployment.id)].sort()).toEqual((await waveDevices(deployment, 1)).sort());
    expect(h.instructions[0]!.instruction).toEqual({
      deploymentId: deployment.id, healthWindowSeconds: 600, installNow: true,
      images: [{ stream: 'application', product: 'guardian', targetName: 'guardian-application-1.1.0.tar.gz', version: '1.1.0', length: 1234, sha256: digest('application 1.1.0') }],
    });
    expect(h.audits.find((a) => a.action === 'deployment.create')).toMatchObject({ actor: 'user:alice', detail: { devices: 200, waveSizes: [2, 18, 80, 100] } });
  });

  it('orders devices the same way every time for a deployment', async () => {
    h = await harness(50);
    const first = (await deploy()).deployment;
    const again = await harness(50);
    try {
      const second = (await again.service.create({ product: 'guardian', stream: 'application', version: '1.1.0', group: 'ahu-gw' }, 'user:bob')).deployment;
      const waves = async (x: Harness, d: Deployment) => (await x.service.devices(d.id)).map((v) => [v.deviceId, v.wave]);
      expect(await waves(again, second)).toEqual(await waves(h, first));
    } finally {
      await again.close();
    }
  });

  it('refuses a version that is not a genuine target, an empty group, a bad policy and a second active deployment', async () => {
    h = await harness(5);
    expect(await code(deploy({}, '9.9.9'))).toBe('release_not_found');
    expect(await code(h.service.create({ product: 'guardian', stream: 'application', version: '1.1.0', group: 'empty' }, 'user:alice'))).toBe('group_empty');
    expect(await code(deploy({ waves: [10, 50] }))).toBe('deployment_invalid');
    expect(await code(deploy({ maintenanceWindows: [{ start: '25:00', end: '03:00', timeZone: 'UTC' }] }))).toBe('deployment_invalid');
    expect(await code(deploy({ maintenanceWindows: [{ start: '01:00', end: '03:00', timeZone: 'Mars/Olympus' }] }))).toBe('deployment_invalid');
    expect(await code(deploy({ autoApply: true }))).toBe('deployment_invalid');
    await deploy();
    expect(await code(deploy({}, '1.2.0'))).toBe('deployment_conflict');
    expect(h.allowed).toHaveLength(1);
  });
});

describe('a good release', () => {
  it('widens wave by wave after each has soaked, reaches 100 % and leaves zero version mismatches', async () => {
    h = await harness(200);
    const { deployment } = await deploy({ waveSoakSeconds: 600 });
    for (let wave = 1; wave <= 4; wave++) {
      const devices = await waveDevices(deployment, wave);
      // Nothing beyond the current wave has been told anything.
      const later = new Set((await h.service.devices(deployment.id)).filter((d) => d.wave > wave).map((d) => d.deviceId));
      expect([...h.instructed(deployment.id)].filter((id) => later.has(id))).toEqual([]);
      expect(devices.every((id) => h.instructed(deployment.id).has(id))).toBe(true);
      for (const id of devices) await h.installGood(id, deployment.id, GOOD);
      if (wave < 4) {
        await h.advance(599_000);
        expect((await h.service.get(deployment.id)).deployment.currentWave).toBe(wave);
        await h.advance(1000);
        expect((await h.service.get(deployment.id)).deployment.currentWave).toBe(wave + 1);
      }
    }
    const { deployment: done, progress } = await h.service.get(deployment.id);
    expect(done.state).toBe('completed');
    expect(progress).toMatchObject({ devices: 200, healthy: 200, failed: 0, percentHealthy: 100 });
    expect(h.audits.filter((a) => a.action === 'deployment.wave.start').map((a) => a.detail.wave)).toEqual([2, 3, 4]);
    const report = await h.service.versionReport('ahu-gw', 'application');
    expect(report.target).toEqual({ deploymentId: deployment.id, version: '1.1.0', state: 'completed' });
    expect(report.devices).toHaveLength(200);
    expect(report.mismatches).toEqual([]);
  });

  it('puts a device that joins the group mid-rollout in the last wave', async () => {
    h = await harness(20);
    const { deployment } = await deploy();
    const joiner = deviceIdOf(999);
    h.groups.get('ahu-gw')!.push(joiner);
    await h.service.tick();
    const dev = (await h.service.devices(deployment.id)).find((d) => d.deviceId === joiner);
    expect(dev).toMatchObject({ wave: 4, state: 'pending' });
    expect(h.instructed(deployment.id).has(joiner)).toBe(false);
  });
});

describe('a bad release', () => {
  it('halts when a wave reaches the failure threshold, never counts a rollback as success and instructs no later wave', async () => {
    h = await harness(200);
    const { deployment } = await deploy();
    for (const id of await waveDevices(deployment, 1)) await h.installGood(id, deployment.id, GOOD);
    await h.service.tick();
    const wave2 = await waveDevices(deployment, 2);
    expect(wave2).toHaveLength(18);
    await h.installGood(wave2[0]!, deployment.id, GOOD);
    await h.report(wave2[1]!, deployment.id, 'installed');
    await h.report(wave2[1]!, deployment.id, 'rolled_back', { running: '1.0.0', reason: 'guardian did not start: config schema 3 unknown' });
    expect((await h.service.get(deployment.id)).deployment.state).toBe('running'); // 1 of 18 < 10 %
    await h.report(wave2[2]!, deployment.id, 'rolled_back', { running: '1.0.0', reason: 'guardian did not start: config schema 3 unknown' });
    const { deployment: halted, progress } = await h.service.get(deployment.id);
    expect(halted.state).toBe('halted');
    expect(halted.haltedReason).toContain('wave 2: 2 of 18 devices failed or rolled back');
    expect(halted.haltedReason).toContain('config schema 3 unknown');
    expect(progress.waves[1]).toMatchObject({ failed: 2, states: { rolled_back: 2, healthy: 1 } });
    expect(progress.healthy).toBe(3);
    expect(h.audits.find((a) => a.action === 'deployment.halt')).toMatchObject({ actor: 'system', detail: { wave: 2, failed: 2, devices: 18 } });

    // The rest of wave 2 completing, and time passing, start nothing more.
    for (const id of wave2.slice(3)) await h.installGood(id, deployment.id, GOOD);
    await h.advance(HOUR);
    await h.advance(HOUR);
    const beyond = new Set([...(await waveDevices(deployment, 3)), ...(await waveDevices(deployment, 4))]);
    expect([...h.instructed(deployment.id)].filter((id) => beyond.has(id))).toEqual([]);
    expect((await h.service.devices(deployment.id)).find((d) => d.deviceId === [...beyond][0])?.reason).toBe('not installed: the deployment halted');
    expect(await code(h.service.resume(deployment.id, 'user:alice'))).toBe('deployment_state');
    expect((await h.service.abort(deployment.id, 'user:alice', 'bad config migration')).deployment.state).toBe('aborted');

    const report = await h.service.versionReport('ahu-gw', 'application');
    expect(report.target).toBeUndefined(); // a halted or aborted deployment never became the target
  });

  it('honours a minimum absolute count before halting', async () => {
    h = await harness(20);
    const { deployment } = await deploy({ waves: [50, 100], failureThreshold: 0, minFailures: 3 });
    const wave1 = await waveDevices(deployment, 1);
    await h.report(wave1[0]!, deployment.id, 'failed', { reason: 'disk full' });
    await h.report(wave1[1]!, deployment.id, 'refused', { reason: 'target hash mismatch' });
    expect((await h.service.get(deployment.id)).deployment.state).toBe('running');
    await h.report(wave1[2]!, deployment.id, 'rolled_back');
    expect((await h.service.get(deployment.id)).deployment.state).toBe('halted');
  });
});

describe('health is proven by attestation', () => {
  it('keeps a device that says healthy as installed until evidence of the new version arrives, then fails it when the window expires', async () => {
    h = await harness(20);
    const { deployment } = await deploy({ waves: [100], healthWindowSeconds: 600, failureThreshold: 1 });
    const [a, b, c, d] = await waveDevices(deployment, 1);
    for (const id of [a!, b!, c!]) await h.report(id, deployment.id, 'installed');
    // a: healthy, evidence comes later; b: healthy, but its attestation measured the old bundle; c: never says healthy.
    expect(await h.report(a!, deployment.id, 'healthy')).toEqual({ accepted: true, state: 'installed' });
    h.attest(b!, '1.1.0', [{ component: 'guardian-bundle', digest: BUNDLE_1_0 }, { component: 'runtime', digest: RUNTIME_20 }]);
    await h.report(b!, deployment.id, 'healthy');
    expect((await h.service.devices(deployment.id)).find((x) => x.deviceId === a)).toMatchObject({
      state: 'installed', reason: 'reported healthy; waiting for attestation evidence of the new version',
    });
    await h.advance(5 * MINUTE);
    h.attest(a!, '1.1.0', GOOD.components);
    await h.advance(MINUTE);
    await h.advance(5 * MINUTE);
    const devices = new Map((await h.service.devices(deployment.id)).map((x) => [x.deviceId, x]));
    expect(devices.get(a!)).toMatchObject({ state: 'healthy' });
    expect(devices.get(b!)).toMatchObject({ state: 'failed', reason: 'no attestation evidence of the new version' });
    expect(devices.get(c!)).toMatchObject({ state: 'failed', reason: 'health window expired' });
    expect(devices.get(d!)).toMatchObject({ state: 'pending' });
    expect((await h.service.get(deployment.id)).progress.healthy).toBe(1);
  });

  it('does not count an attestation from before the install', async () => {
    h = await harness(1);
    const { deployment } = await deploy({ waves: [100] });
    const [a] = await waveDevices(deployment, 1);
    h.clock.now -= HOUR;
    h.attest(a!, '1.1.0', GOOD.components); // e.g. from an earlier deployment it rolled back from
    h.clock.now += HOUR;
    await h.report(a!, deployment.id, 'installed');
    expect(await h.report(a!, deployment.id, 'healthy')).toEqual({ accepted: true, state: 'installed' });
  });
});

describe('statuses', () => {
  it('ignores stale and duplicate sequences, other deployments, other versions and strangers', async () => {
    h = await harness(3);
    const { deployment } = await deploy({ waves: [100] });
    const [a] = await waveDevices(deployment, 1);
    const base = { v: 1 as const, deploymentId: deployment.id, running: '1.0.0', target: '1.1.0', at: T0 };
    expect(await h.service.onDeviceStatus(a!, { ...base, sequence: 5, state: 'downloading' })).toEqual({ accepted: true, state: 'downloading' });
    expect(await h.service.onDeviceStatus(a!, { ...base, sequence: 5, state: 'downloaded' })).toMatchObject({ accepted: false, reason: expect.stringContaining('stale or duplicate') });
    expect(await h.service.onDeviceStatus(a!, { ...base, sequence: 4, state: 'rolled_back' })).toMatchObject({ accepted: false });
    expect(await h.service.onDeviceStatus(a!, { ...base, deploymentId: 'dep-other', sequence: 9, state: 'failed' })).toMatchObject({ accepted: false, reason: 'no deployment dep-other' });
    expect(await h.service.onDeviceStatus(a!, { ...base, target: '1.2.0', sequence: 9, state: 'failed' })).toMatchObject({ accepted: false });
    expect(await h.service.onDeviceStatus(digest('stranger'), { ...base, sequence: 9, state: 'failed' })).toMatchObject({ accepted: false });
    expect((await h.service.devices(deployment.id)).find((x) => x.deviceId === a)).toMatchObject({ state: 'downloading', sequence: 5 });
    expect((await h.service.get(deployment.id)).progress.failed).toBe(0);
  });

  it('does not turn a failure into a success on a later report', async () => {
    h = await harness(2);
    const { deployment } = await deploy({ waves: [100], failureThreshold: 1 });
    const [a] = await waveDevices(deployment, 1);
    await h.report(a!, deployment.id, 'rolled_back');
    h.attest(a!, '1.1.0', GOOD.components);
    expect(await h.report(a!, deployment.id, 'healthy')).toEqual({ accepted: true, state: 'rolled_back' });
  });
});

describe('pause, resume, abort and tick', () => {
  it('pauses wave promotion, resumes it, and aborts leaving devices that had not installed on their version', async () => {
    h = await harness(20);
    const { deployment } = await deploy();
    const [first] = await waveDevices(deployment, 1);
    expect((await h.service.pause(deployment.id, 'user:alice', 'waiting for the vendor')).deployment.state).toBe('paused');
    await h.installGood(first!, deployment.id, GOOD);
    await h.advance(HOUR);
    expect((await h.service.get(deployment.id)).deployment.currentWave).toBe(1);
    expect(h.instructed(deployment.id).size).toBe(1);
    expect(await code(h.service.pause(deployment.id, 'user:alice'))).toBe('deployment_state');

    const resumed = await h.service.resume(deployment.id, 'user:alice');
    expect(resumed.deployment).toMatchObject({ state: 'running', currentWave: 2 });
    expect(h.instructed(deployment.id).size).toBe(2);

    const aborted = await h.service.abort(deployment.id, 'user:alice', 'found a bug');
    expect(aborted.deployment.state).toBe('aborted');
    const [second] = await waveDevices(deployment, 2);
    await h.installGood(second!, deployment.id, GOOD);
    await h.advance(HOUR);
    expect(h.instructed(deployment.id).size).toBe(2);
    expect((await h.service.devices(deployment.id)).filter((d) => d.reason === 'not installed: the deployment was aborted')).toHaveLength(18);
    expect(h.audits.filter((a) => a.action.startsWith('deployment.')).map((a) => a.action)).toEqual([
      'deployment.create', 'deployment.pause', 'deployment.resume', 'deployment.wave.start', 'deployment.abort',
    ]);
    expect(await code(h.service.resume(deployment.id, 'user:alice'))).toBe('deployment_state');
  });

  it('changes nothing when the audit event of a change cannot be recorded', async () => {
    h = await harness(20);
    const { deployment } = await deploy({ waveSoakSeconds: 600 });
    const [first] = await waveDevices(deployment, 1);
    await h.installGood(first!, deployment.id, GOOD);
    h.failAudit = new Error('the audit log is unavailable');
    await expect(h.service.pause(deployment.id, 'user:alice')).rejects.toThrow('unavailable');
    await expect(h.service.defer(deployment.id, digest('not yet told'), T0 + HOUR, 'freeze', 'user:alice')).rejects.toThrow();
    await expect(h.service.abort(deployment.id, 'user:alice')).rejects.toThrow('unavailable');
    expect((await h.service.get(deployment.id)).deployment).toMatchObject({ state: 'running' });
    expect((await h.service.devices(deployment.id)).filter((d) => d.reason !== undefined)).toEqual([]);
    // A step whose audit event fails (here: the wave widening) stores none of it and sends nothing; the next tick does it.
    const sent = h.instructions.length;
    await h.advance(HOUR);
    expect((await h.service.get(deployment.id)).deployment.currentWave).toBe(1);
    expect(h.instructions).toHaveLength(sent);
    h.failAudit = undefined;
    await h.advance(MINUTE);
    expect((await h.service.get(deployment.id)).deployment.currentWave).toBe(2);
    expect(h.audits.map((a) => a.action)).toEqual(['deployment.create', 'deployment.wave.start']);
  });

  it('refuses a second deployment of the group and stream that another replica created meanwhile', async () => {
    h = await harness(20);
    // Another replica's deployment appears between this one's check and its insert (while it reads the group).
    h.onGroupRead = async () => {
      h.onGroupRead = undefined;
      const other = new SqlDeploymentStore(h.database.db, { engine: h.database.engine });
      expect(await other.insertDeployment({ ...(await deployFixture()), id: 'dep-elsewhere' })).toBe(true);
    };
    const deployFixture = async () => {
      const probe = await harness(1);
      try {
        return (await probe.service.create({ product: 'guardian', stream: 'application', version: '1.1.0', group: 'ahu-gw' }, 'user:bob')).deployment;
      } finally {
        await probe.close();
      }
    };
    const err = await deploy().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'deployment_conflict', details: { deploymentId: 'dep-elsewhere' } });
    expect((await h.service.list()).map((d) => d.id)).toEqual(['dep-elsewhere']);
    expect(h.audits).toEqual([]);
    expect(h.instructions).toEqual([]);
  });

  it('leaves a step to the next tick when another replica changed the deployment meanwhile', async () => {
    h = await harness(20);
    const { deployment } = await deploy({ waveSoakSeconds: 600 });
    const [first] = await waveDevices(deployment, 1);
    await h.installGood(first!, deployment.id, GOOD);
    const sent = h.instructions.length;
    // While this engine's step reads the group (outside its transaction), an operator on another replica aborts.
    h.onGroupRead = async () => {
      h.onGroupRead = undefined;
      const other = new SqlDeploymentStore(h.database.db, { engine: h.database.engine });
      const current = (await other.getDeployment(deployment.id))!;
      await other.saveDeployment({ ...current, state: 'aborted', updatedAt: h.clock.now });
    };
    await h.advance(11 * MINUTE);
    expect((await h.service.get(deployment.id)).deployment).toMatchObject({ state: 'aborted', currentWave: 1 });
    expect(h.instructions).toHaveLength(sent);
    expect(h.audits.map((a) => a.action)).toEqual(['deployment.create']);
  });

  it('is idempotent: ticking again at the same time sends nothing more', async () => {
    h = await harness(20);
    await deploy();
    await h.service.tick();
    const sent = h.instructions.length;
    await h.service.tick();
    await h.service.tick();
    expect(h.instructions.length).toBe(sent);
  });

  it('ticks on its own timer once started, and stops', async () => {
    h = await harness(2, 'ahu-gw');
    const { deployment } = await deploy({ waves: [50, 100] });
    const startedAt = h.clock.now;
    h.service.start();
    expect(h.time.dueTimes()).toEqual([startedAt + MINUTE]);
    for (const id of await waveDevices(deployment, 1)) await h.installGood(id, deployment.id, GOOD);
    h.groups.get('ahu-gw')!.push(deviceIdOf(77));
    h.time.advanceTo(startedAt + MINUTE);
    // The tick runs on promises alone (SQLite is synchronous): it has re-armed the timer when done.
    for (let i = 0; i < 100 && h.time.dueTimes().length === 0; i++) await new Promise((r) => setImmediate(r));
    expect((await h.service.devices(deployment.id)).some((d) => d.deviceId === deviceIdOf(77))).toBe(true);
    expect(h.time.dueTimes()).toEqual([startedAt + 2 * MINUTE]);
    h.service.stop();
    expect(h.time.dueTimes()).toEqual([]);
  });

  it('re-sends a waiting device its instruction before the director lets it expire', async () => {
    h = await harness(2);
    const { deployment } = await deploy({ waves: [100], maintenanceWindows: [{ start: '02:00', end: '04:00', timeZone: 'UTC' }] });
    expect(h.instructions).toHaveLength(2);
    await h.advance(11 * HOUR);
    expect(h.instructions).toHaveLength(2);
    await h.advance(HOUR);
    expect(h.instructions).toHaveLength(4);
    expect(h.instructions.slice(2).every((i) => i.instruction.installNow === false && i.instruction.deploymentId === deployment.id)).toBe(true);
  });
});

describe('maintenance windows', () => {
  const NIGHT = { start: '02:00', end: '04:00', timeZone: 'UTC' };

  it('platform autoApply: outside a window devices only download; when it opens they are told to install', async () => {
    h = await harness(4);
    const { deployment } = await deploy({ waves: [100], maintenanceWindows: [NIGHT], autoApply: true }, '20.20.0', 'platform');
    expect(h.instructions.map((i) => i.instruction.installNow)).toEqual([false, false, false, false]);
    await h.advance(13 * HOUR + 59 * MINUTE); // 01:59 UTC
    expect(h.instructions.filter((i) => i.instruction.installNow)).toHaveLength(0);
    await h.advance(MINUTE); // 02:00
    expect(h.instructions.filter((i) => i.instruction.installNow).map((i) => i.deviceId).sort()).toEqual(await waveDevices(deployment, 1));
    await h.service.tick();
    expect(h.instructions.filter((i) => i.instruction.installNow)).toHaveLength(4);
    for (const id of await waveDevices(deployment, 1)) {
      await h.report(id, deployment.id, 'installed', { running: '20.20.0' });
      h.attest(id, '1.0.0', [{ component: 'runtime', digest: RUNTIME_20_20 }, { component: 'guardian-bundle', digest: BUNDLE_1_0 }]);
      await h.report(id, deployment.id, 'healthy', { running: '20.20.0' });
    }
    expect((await h.service.get(deployment.id)).deployment.state).toBe('completed');
    expect((await h.service.versionReport('ahu-gw', 'platform')).mismatches).toEqual([]);
  });

  it('follows the window’s time zone and weekdays', async () => {
    h = await harness(1);
    // Mondays 13:00-14:00 in Berlin (UTC+1 in March): T0 is Monday 12:00 UTC = 13:00 Berlin.
    await deploy({ waves: [100], maintenanceWindows: [{ days: [1], start: '13:00', end: '14:00', timeZone: 'Europe/Berlin' }], autoApply: true }, '20.20.0', 'platform');
    expect(h.instructions[0]!.instruction.installNow).toBe(true);
  });

  it('application releases install in a window only once an engineer starts them there', async () => {
    h = await harness(3);
    const { deployment } = await deploy({ waves: [100], maintenanceWindows: [NIGHT] });
    expect(await code(h.service.startInstalls(deployment.id, 'user:alice'))).toBe('outside_maintenance_window');
    await h.advance(14 * HOUR); // 02:00: the window is open, but nobody started the installs
    expect(h.instructions.filter((i) => i.instruction.installNow)).toHaveLength(0);
    const started = await h.service.startInstalls(deployment.id, 'user:alice');
    expect(started.deployment.installsStartedUntil).toBe(T0 + 16 * HOUR);
    expect(h.instructions.filter((i) => i.instruction.installNow)).toHaveLength(3);
    expect(h.audits.find((a) => a.action === 'deployment.installs.start')).toMatchObject({ actor: 'user:alice', detail: { until: T0 + 16 * HOUR } });
  });
});

describe('deferral', () => {
  it('skips a deferred device until its time, lets the waves go on, and completes only after it installed', async () => {
    h = await harness(4);
    const { deployment } = await deploy({ waves: [50, 100] });
    const wave2 = await waveDevices(deployment, 2);
    const held = wave2[0]!;
    const dev = await h.service.defer(deployment.id, held, T0 + 2 * HOUR, 'customer change freeze', 'user:alice');
    expect(dev).toMatchObject({ state: 'deferred', deferredUntil: T0 + 2 * HOUR });
    for (const id of await waveDevices(deployment, 1)) await h.installGood(id, deployment.id, GOOD);
    await h.service.tick();
    expect((await h.service.get(deployment.id)).deployment.currentWave).toBe(2);
    expect(h.instructed(deployment.id).has(held)).toBe(false);
    await h.installGood(wave2[1]!, deployment.id, GOOD);
    expect((await h.service.get(deployment.id)).deployment.state).toBe('running');

    await h.advance(2 * HOUR);
    expect(h.instructed(deployment.id).has(held)).toBe(true);
    await h.installGood(held, deployment.id, GOOD);
    expect((await h.service.get(deployment.id)).deployment.state).toBe('completed');
    expect(h.audits.find((a) => a.action === 'deployment.device.defer')).toMatchObject({ detail: { deviceId: held, reason: 'customer change freeze' } });
  });

  it('refuses to defer a device already told to install, or into the past', async () => {
    h = await harness(2);
    const { deployment } = await deploy({ waves: [100] });
    const [a] = await waveDevices(deployment, 1);
    expect(await code(h.service.defer(deployment.id, a!, T0 + HOUR, 'freeze', 'user:alice'))).toBe('deployment_state');
    expect(await code(h.service.defer(deployment.id, digest('x'), T0 + HOUR, 'freeze', 'user:alice'))).toBe('device_not_in_deployment');
    expect(await code(h.service.defer('dep-none', a!, T0 + HOUR, 'freeze', 'user:alice'))).toBe('deployment_not_found');
    const h2 = await harness(2);
    try {
      const d2 = (await h2.service.create({ product: 'guardian', stream: 'application', version: '1.1.0', group: 'ahu-gw', policy: { waves: [50, 100] } }, 'user:alice')).deployment;
      const later = (await h2.service.devices(d2.id)).find((x) => x.wave === 2)!.deviceId;
      expect(await code(h2.service.defer(d2.id, later, T0 - 1, 'freeze', 'user:alice'))).toBe('deployment_invalid');
    } finally {
      await h2.close();
    }
  });
});
