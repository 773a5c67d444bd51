/**
 * kill -9 at every phase of an install leaves the device on a working slot, and once it is
 * started again it finishes the update (or stays on the old release) by itself.
 *
 * Each case is one guardian process (test/support/simulated-guardian-process.ts: the real
 * updater, slots, TUF client and uplink) told by a real server's director to install a good
 * release; it stops at one phase, the test kills it with SIGKILL there, checks what is on disk,
 * and starts it again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileKeyStore, SlotStore, parseBundleManifest, type UpdatePhase } from '@shellguard/guardian';
import { SimulatedGuardian } from '../support/simulated-guardian.ts';
import { PRODUCT, SITE, makeBundle, startUpdateSite, until, type ReleaseBundle, type UpdateSite } from '../support/update-site.ts';

const PROCESS_SCRIPT = fileURLToPath(new URL('../support/simulated-guardian-process.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROFILES = ['ups-generic'];
const PHASES: UpdatePhase[] = ['verified', 'downloading', 'downloaded', 'unpacking', 'unpacked', 'trial-begun', 'health-check', 'committed'];

let lastStderr = '';

function startProcess(optionsFile: string, killAt?: UpdatePhase): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', PROCESS_SCRIPT, optionsFile], {
    cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(killAt ? { SG_KILL_AT: killAt } : {}) },
  });
  // Kept for the failure message: what the guardian process said last.
  const keep = (c: Buffer) => { lastStderr = (lastStderr + c.toString()).slice(-4000); };
  child.stderr?.on('data', keep);
  child.stdout?.on('data', keep);
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** A slot a launcher could start: complete (its manifest parses and its code is there). */
function assertWorkingSlot(slots: SlotStore, versions: Map<string, ReleaseBundle>): string {
  const s = slots.read().streams.application;
  const dir = slots.slotDir('application', s.active);
  const manifest = parseBundleManifest(JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')));
  expect(readFileSync(path.join(dir, 'guardian.mjs'), 'utf8')).toContain(manifest.version);
  expect(versions.has(manifest.version)).toBe(true);
  // The committed slot is always complete too: it is where a failed trial goes back to.
  const committed = slots.slotDir('application', s.committed);
  expect(existsSync(path.join(committed, 'manifest.json'))).toBe(true);
  return manifest.version;
}

describe('kill -9 at every phase of an install', () => {
  let site: UpdateSite;
  let initial: ReleaseBundle;

  beforeAll(async () => {
    site = await startUpdateSite('sg-install-kill-', { rolloutTickMs: 250 });
    initial = await makeBundle(site.dir, '1.0.0');
    site.bundles.set('1.0.0', initial);
    await site.publish('1.1.0');
  }, 120_000);

  afterAll(async () => {
    await site?.close();
  });

  for (const phase of PHASES) {
    it(`at ${phase}: the device keeps a working slot, and after a restart it finishes on 1.1.0`, async () => {
      const { server } = site;
      const group = `kill-${phase}`;
      const dir = path.join(site.dir, group);
      const guardian = new SimulatedGuardian({ site: site.sim, dir, profiles: PROFILES, initialBundle: initial.bytes, initialVersion: '1.0.0', trustedRoots: site.trustedRoots });
      await guardian.install();
      await server.fleet.defineGroup({ id: group, site: SITE, minSecureVersion: '0.1.0' }, 'test');
      const m = await guardian.measure();
      await server.fleet.registerRelease({ group, swname: PRODUCT, swversion: '1.0.0', components: m }, 'test');
      await server.fleet.claim({ deviceId: guardian.deviceId, site: SITE, group }, 'test');
      const optionsFile = path.join(site.dir, `${group}.json`);
      writeFileSync(optionsFile, JSON.stringify({
        site: site.sim, dir, profiles: PROFILES, initialVersion: '1.0.0', trustedRoots: site.trustedRoots, initialBundle: initial.bytes.toString('base64'),
      }));

      let child = startProcess(optionsFile, phase);
      try {
        // Whether or not it is connected yet: the director re-sends the latest instruction on every connect.
        const { deployment } = await server.updates.deployments.create({
          product: PRODUCT, stream: 'application', version: '1.1.0', group, policy: { waves: [100], healthWindowSeconds: 120 },
        }, 'test');
        await until(`the install to reach ${phase}`, () => (existsSync(path.join(dir, `reached-${phase}`)) ? true : undefined), 90_000)
          .catch((err: unknown) => { throw new Error(`${(err as Error).message}; the guardian process said: ${lastStderr}`); });
        child.kill('SIGKILL');
        await exited(child);

        // What a power cut at this instant leaves: a slot state that parses and an active slot that is complete.
        const slots = new SlotStore(path.join(dir, 'data'), path.join(dir, 'install', 'slots'));
        const runningAfterKill = assertWorkingSlot(slots, site.bundles);
        const expectTrial = ['trial-begun', 'health-check'].includes(phase);
        expect(slots.read().streams.application.trial !== null).toBe(expectTrial);
        expect(runningAfterKill).toBe(expectTrial || phase === 'committed' ? '1.1.0' : '1.0.0');

        // Started again (systemd would): it finishes the update from where the state says it is.
        child = startProcess(optionsFile);
        const view = await until('the device to be healthy on 1.1.0', async () => {
          const [d] = await server.updates.deployments.devices(deployment.id);
          return d?.state === 'healthy' ? d : undefined;
        }, 120_000);
        expect(view.running).toBe('1.1.0');
        await until('the slot to be committed', () => (slots.read().streams.application.trial === null && slots.read().streams.application.committed === slots.read().streams.application.active ? true : undefined), 30_000);
        expect(assertWorkingSlot(slots, site.bundles)).toBe('1.1.0');
        const keys = await FileKeyStore.open(path.join(dir, 'data'));
        expect(keys.deviceId).toBe(guardian.deviceId);
      } finally {
        child.kill('SIGKILL');
        await exited(child);
      }
    }, 300_000);
  }
});
