/**
 * `shellguard demo`: a whole virtual site on one machine — site CA, server (broker, ingest, store,
 * HTTPS API), simulated equipment with slowly developing faults, and guardians polling it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import {
  FileKeyStore, GUARDIAN_SWNAME, GUARDIAN_VERSION, loadGuardianConfig, measureGuardianConfig, startGuardian, type GuardianHandle,
} from '@shellguard/guardian';
import { initPki, startServer } from '@shellguard/server';
import type { Measurement } from '@shellguard/protocol';
import { startSimulatedSite, type SimulatedAsset } from '@shellguard/sim';
import { createLogger, untilSignalled } from '../logging.ts';
import { prepareDemoDir } from './demo-dir.ts';

export interface DemoOptions {
  dir: string;
  assets: number;
  guardians: number;
  apiPort: number;
  mqttPort: number;
  simPort: number;
  duration?: number;
}

const SITE = 'site-1';
const GROUP = 'site-1-guardians';
const DEMO_ACTOR = 'system:demo';

/** One release holding every guardian's measurements: same runtime and bundle, a config digest per guardian. */
function mergeManifests(all: Measurement[][]): Measurement[] {
  const seen = new Map<string, Measurement>();
  for (const m of all.flat()) seen.set(`${m.component}/${m.digest}`, m);
  return [...seen.values()];
}

function split<T>(items: T[], parts: number): T[][] {
  const out: T[][] = Array.from({ length: Math.min(parts, items.length) }, () => []);
  items.forEach((item, i) => out[i % out.length]!.push(item));
  return out;
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  // Every demo starts from a clean slate: a new site PKI, a new admin token, new guardians. Only
  // a folder the demo made itself is emptied; any other non-empty folder is refused.
  const dir = prepareDemoDir(opts.dir);
  const logFile = path.join(dir, 'demo.log');
  const logger = createLogger('demo', logFile);
  const out = (line: string) => process.stdout.write(`${line}\n`);

  out(`Shellguard demo — state in ${dir}, logs in ${logFile}`);
  const caDir = path.join(dir, 'ca');
  // `ca init`, as an operator does it before a server's first start.
  await initPki(caDir, { commonName: 'Shellguard demo site' });
  const rootFile = path.join(caDir, 'root.crt');
  const server = await startServer({
    dataDir: path.join(dir, 'server'),
    caDir,
    mqtt: { host: '127.0.0.1', port: opts.mqttPort },
    api: { host: '127.0.0.1', port: opts.apiPort },
    tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
  }, { logger: logger.child({ part: 'server' }) });
  const tokenFile = path.join(dir, 'admin-token');
  const token = server.adminToken!;
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });

  const sim = await startSimulatedSite({
    site: SITE, assets: opts.assets, basePort: opts.simPort, seed: 1,
    onWrite: (asset) => logger.error({ asset }, 'a client tried to write to simulated equipment'),
  });

  // Slow faults for the predictive-maintenance story: a wearing fan bearing and a drifting coolant temperature.
  const firstOf = (type: string) => sim.assets.find((a) => a.type === type)?.id;
  const ahu = firstOf('ahu');
  const gen = firstOf('generator');
  if (ahu) sim.model.injectFault({ asset: ahu, kind: 'fan-bearing' });
  if (gen) sim.model.injectFault({ asset: gen, kind: 'coolant-drift' });

  // Enrolment as an operator does it: claim each guardian's id into the group, register the
  // release it runs (reference values), then the guardian attests and gets its 24 h certificate.
  server.fleet.defineGroup({ id: GROUP, site: SITE, minSecureVersion: GUARDIAN_VERSION }, DEMO_ACTOR);
  const groups = split(sim.assets, opts.guardians);
  const configFiles: string[] = [];
  const manifests: Measurement[][] = [];
  for (const [i, assets] of groups.entries()) {
    const gdir = path.join(dir, `guardian-${i + 1}`);
    mkdirSync(gdir, { recursive: true, mode: 0o700 });
    const keys = await FileKeyStore.open(gdir);
    const configFile = path.join(gdir, 'guardian.yaml');
    writeFileSync(configFile, toYaml({
      site: SITE,
      dataDir: gdir,
      server: { mqttUrl: `mqtts://127.0.0.1:${server.mqttPort}`, apiUrl: `https://127.0.0.1:${server.apiPort}`, caFile: rootFile },
      equipment: assets.map((a: SimulatedAsset) => ({
        asset: a.id, name: a.name, area: a.area, profile: a.profile, host: a.host, port: a.port, unitId: a.unitId,
      })),
    }));
    server.fleet.claim({ deviceId: keys.deviceId, site: SITE, group: GROUP }, DEMO_ACTOR);
    manifests.push(await measureGuardianConfig(loadGuardianConfig(configFile), configFile));
    configFiles.push(configFile);
  }
  server.fleet.registerRelease({ group: GROUP, swname: GUARDIAN_SWNAME, swversion: GUARDIAN_VERSION, components: mergeManifests(manifests) }, DEMO_ACTOR);

  const guardians: GuardianHandle[] = [];
  for (const [i, configFile] of configFiles.entries()) {
    guardians.push(await startGuardian(loadGuardianConfig(configFile), { logger: logger.child({ part: `guardian-${i + 1}` }), configFile }));
  }

  const api = `https://127.0.0.1:${server.apiPort}/api/v1`;
  out('');
  out(`  site ${SITE}: ${sim.assets.length} simulated assets, ${guardians.length} guardians, broker mqtts://127.0.0.1:${server.mqttPort} (client certificates required)`);
  out(`  API      ${api}   (OpenAPI: ${api}/openapi.json)`);
  out(`  token    ${token}`);
  out(`  try      curl --cacert ${rootFile} -H "Authorization: Bearer $(cat ${tokenFile})" ${api}/assets`);
  out(`           curl --cacert ${rootFile} -H "Authorization: Bearer $(cat ${tokenFile})" ${api}/fleet`);
  out('');
  out('  guardian                                                          claim      attestation         certificate until');
  for (const d of server.fleet.fleetView()) {
    const a = d.lastAttestation;
    const attest = a ? `${a.result}${a.reason ? ` (${a.reason})` : ''} ${new Date(a.at).toISOString().slice(11, 19)}` : 'never';
    const until = d.certificateNotAfter ? new Date(d.certificateNotAfter).toISOString().replace('T', ' ').slice(0, 16) : '-';
    out(`  ${d.deviceId}  ${d.state.padEnd(10)} ${attest.padEnd(19)} ${until} UTC`);
  }
  out('');

  const isTty = process.stdout.isTTY === true;
  let lastSamples = server.stats().ingest.samplesStored;
  let lastTime = Date.now();
  let ticks = 0;
  const live = setInterval(() => {
    const now = Date.now();
    const s = server.stats();
    const rate = ((s.ingest.samplesStored - lastSamples) * 1000) / Math.max(1, now - lastTime);
    lastSamples = s.ingest.samplesStored;
    lastTime = now;
    const queued = guardians.reduce((n, g) => n + g.stats().queue.pendingBatches, 0);
    const attested = s.fleet.filter((d) => d.state === 'claimed' && (d.lastAttestation as { result?: string } | undefined)?.result === 'pass').length;
    const line = `  ingest ${rate.toFixed(0).padStart(6)} points/s · stored ${s.ingest.samplesStored} · queued batches ${queued} · guardians attested ${attested}/${guardians.length}, online ${s.connectedDevices} · alarms active ${server.alarms.list({}).filter((a) => a.active).length} · recommendations ${server.maintenance.recommendations({ status: 'open' }).length} · writes to equipment: ${sim.writesReceived()}`;
    ticks += 1;
    if (isTty) process.stdout.write(`\r${line.padEnd(140)}`);
    else if (ticks % 10 === 0) out(line);
  }, 1000);

  const stopAfter = opts.duration ? new Promise<string>((r) => setTimeout(() => r('duration'), opts.duration! * 1000)) : new Promise<string>(() => {});
  const reason = await Promise.race([untilSignalled(), stopAfter]);
  clearInterval(live);
  out(`\nstopping (${reason})`);
  for (const g of guardians) await g.stop();
  await sim.stop();
  await server.stop();
  out('stopped; state kept in ' + dir);
}
