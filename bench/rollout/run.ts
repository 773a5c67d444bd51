/**
 * bench/rollout: time and bytes to move N guardians (default 1,000) to a new release, in waves,
 * through the whole trust path — the director's signed instruction over MQTT/mTLS, a TUF refresh
 * and verified download over HTTPS with the device's operational certificate, an A/B install,
 * a restart, re-attestation with the new measurements and telemetry stored, then commit — beside
 * a baseline in the same run: the same N devices' worth of plain HTTPS downloads of the same
 * bundle (no TUF, no director, no attestation).
 *
 * The guardians are test/support/simulated-guardian.ts: the real updater, slots, TUF client,
 * attestation and uplink, without equipment polling, all in this process with the server, so
 * the CPU figure is the whole system's. The release is padded with incompressible bytes to the
 * size of the real application bundle (scripts/build: shellguard-guardian-app-*.tar.gz).
 *
 *   node --import tsx bench/rollout/run.ts [--guardians 1000] [--bundle-bytes 295000] [--waves 1,10,50,100] [--health 300]
 */
import https from 'node:https';
import path from 'node:path';
import type { Measurement } from '@shellguard/protocol';
import { SimulatedGuardian } from '../../test/support/simulated-guardian.ts';
import { PRODUCT, SITE, makeBundle, startUpdateSite, until } from '../../test/support/update-site.ts';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1]! : fallback;
};
const N = Number(flag('guardians', '1000'));
const BUNDLE_BYTES = Number(flag('bundle-bytes', '295000'));
const WAVES = flag('waves', '1,10,50,100').split(',').map(Number);
const HEALTH_SECONDS = Number(flag('health', '300'));
const GROUP = 'bench-fleet';

function bar(label: string, done: number, total: number, extra = ''): void {
  if (!process.stderr.isTTY) return;
  const width = 30;
  const filled = Math.round((done / Math.max(total, 1)) * width);
  process.stderr.write(`\r${label.padEnd(22)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${extra}   `);
  if (done >= total) process.stderr.write('\n');
}

async function inBatches<T>(items: T[], size: number, label: string, fn: (x: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map(fn));
    bar(label, Math.min(i + size, items.length), items.length);
  }
}

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

async function main(): Promise<void> {
  const site = await startUpdateSite('sg-bench-rollout-', { rolloutTickMs: 1_000 });
  const { server } = site;
  try {
    const initial = await makeBundle(site.dir, '1.0.0', [], BUNDLE_BYTES);
    await server.fleet.defineGroup({ id: GROUP, site: SITE, minSecureVersion: '0.1.0' }, 'bench');
    const bytes = { tuf: 0, control: 0, requests: 0 };
    const fleet = Array.from({ length: N }, (_, i) => new SimulatedGuardian({
      site: site.sim, dir: path.join(site.dir, `g${i}`), profiles: ['ups-generic'], initialBundle: initial.bytes, initialVersion: '1.0.0',
      trustedRoots: site.trustedRoots, bytes, healthPollMs: 500,
    }));
    await inBatches(fleet, 25, 'installing guardians', (g) => g.install());
    const perDevice: Measurement[] = (await fleet[0]!.measure()).filter((m) => m.component === 'config' || m.component === 'profiles');
    await server.fleet.registerRelease({ group: GROUP, swname: PRODUCT, swversion: '1.0.0', components: [...initial.manifest.components, ...perDevice] }, 'bench');
    for (const g of fleet) await server.fleet.claim({ deviceId: g.deviceId, site: SITE, group: GROUP }, 'bench');
    await inBatches(fleet, 20, 'starting guardians', (g) => g.boot());
    const release = await site.publish('1.1.0', [], BUNDLE_BYTES);
    const targets = await server.imageRepository.listTargets(PRODUCT, 'application');
    const target = targets.find((t) => t.custom.version === '1.1.0')!;

    // Baseline: the same bundle N times over plain HTTPS (keep-alive, 20 at a time, as the rollout's waves overlap).
    const agent = new https.Agent({ keepAlive: true, maxSockets: 20, ca: server.rootPem });
    const url = `${site.sim.apiUrl}/api/v1/tuf/${PRODUCT}/application/targets/${target.sha256}.${target.name}`;
    const get = () => new Promise<number>((resolve, reject) => {
      https.get(url, { agent, headers: { authorization: `Bearer ${server.adminToken}` } }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => { n += c.length; }).on('end', () => resolve(n)).on('error', reject);
      }).on('error', reject);
    });
    let baselineBytes = 0;
    const b0 = performance.now();
    for (let i = 0; i < N; i += 20) {
      const got = await Promise.all(Array.from({ length: Math.min(20, N - i) }, get));
      baselineBytes += got.reduce((a, x) => a + x, 0);
      bar('baseline downloads', Math.min(i + 20, N), N);
    }
    const baselineMs = performance.now() - b0;
    agent.destroy();

    // The rollout.
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const { deployment } = await server.updates.deployments.create({
      product: PRODUCT, stream: 'application', version: '1.1.0', group: GROUP,
      policy: { waves: WAVES, healthWindowSeconds: HEALTH_SECONDS, failureThreshold: 0.05, waveSoakSeconds: 0 },
    }, 'bench');
    const waveDone: number[] = [];
    const done = await until('the rollout to complete', async () => {
      const view = await server.updates.deployments.get(deployment.id);
      for (const w of view.progress.waves) if (w.complete && waveDone[w.wave - 1] === undefined) waveDone[w.wave - 1] = performance.now() - t0;
      bar('rollout (healthy)', view.progress.healthy, view.progress.devices, `wave ${view.deployment.currentWave}/${view.deployment.waveCount}`);
      if (view.deployment.state === 'halted') throw new Error(`halted: ${view.deployment.haltedReason}`);
      return view.deployment.state === 'completed' ? view : undefined;
    }, 60 * 60_000);
    const rolloutMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const report = await server.updates.deployments.versionReport(GROUP, 'application');

    const sizes = done.progress.waves.map((w) => w.devices);
    console.log(`bench/rollout: ${N} simulated guardians, bundle ${release.bytes.length} bytes, waves ${WAVES.join('/')} (${sizes.join(' + ')} devices), one process (server + guardians) on this machine`);
    console.log(`  rollout     ${(rolloutMs / 1000).toFixed(1)} s to 100 % healthy (${done.progress.healthy}/${done.progress.devices}); waves done at ${waveDone.map((x) => `${(x / 1000).toFixed(1)} s`).join(', ')}`);
    console.log(`              ${(N / (rolloutMs / 1000)).toFixed(1)} devices/s; CPU ${(cpu.user / 1e6).toFixed(1)} s user + ${(cpu.system / 1e6).toFixed(1)} s system`);
    console.log(`  bytes       TUF metadata + targets ${mb(bytes.tuf)} in ${bytes.requests} requests (${(bytes.tuf / N / 1024).toFixed(1)} KiB/device; bundle ${(release.bytes.length / 1024).toFixed(1)} KiB);`);
    console.log(`              director instructions + statuses ${mb(bytes.control)} (${(bytes.control / N).toFixed(0)} B/device)`);
    console.log(`  baseline    ${N} plain HTTPS downloads of the bundle: ${(baselineMs / 1000).toFixed(1)} s, ${mb(baselineBytes)}`);
    console.log(`  version report: ${report.devices.length} devices, ${report.mismatches.length} mismatches`);
    await Promise.all(fleet.map((g) => g.stop()));
  } finally {
    await site.close();
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
