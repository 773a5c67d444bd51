/**
 * `shellguard demo`: a whole virtual site on one machine — site CA, server (broker, ingest, store,
 * HTTPS API), simulated equipment with slowly developing faults, and guardians polling it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FileKeyStore, startGuardian, validateGuardianConfig, type GuardianHandle } from '@shellguard/guardian';
import { issueDeviceCertificate, openCaDirectory, startServer } from '@shellguard/server';
import { startSimulatedSite, type SimulatedAsset } from '@shellguard/sim';
import { createLogger, untilSignalled } from '../logging.ts';

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

function split<T>(items: T[], parts: number): T[][] {
  const out: T[][] = Array.from({ length: Math.min(parts, items.length) }, () => []);
  items.forEach((item, i) => out[i % out.length]!.push(item));
  return out;
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  const dir = path.resolve(opts.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const logFile = path.join(dir, 'demo.log');
  const logger = createLogger('demo', logFile);
  const out = (line: string) => process.stdout.write(`${line}\n`);

  out(`Shellguard demo — state in ${dir}, logs in ${logFile}`);
  const caDir = path.join(dir, 'ca');
  const ca = await openCaDirectory(caDir, { commonName: 'Shellguard demo site CA' });
  const server = await startServer({
    dataDir: path.join(dir, 'server'),
    caDir,
    mqtt: { host: '127.0.0.1', port: opts.mqttPort },
    api: { host: '127.0.0.1', port: opts.apiPort },
    tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
  }, { logger: logger.child({ part: 'server' }) });
  const tokenFile = path.join(dir, 'admin-token');
  if (server.adminToken) writeFileSync(tokenFile, `${server.adminToken}\n`, { mode: 0o600 });
  const token = existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : '(the admin token was shown when this demo folder was first created)';

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

  const guardians: GuardianHandle[] = [];
  const groups = split(sim.assets, opts.guardians);
  for (const [i, assets] of groups.entries()) {
    const gdir = path.join(dir, `guardian-${i + 1}`);
    mkdirSync(gdir, { recursive: true, mode: 0o700 });
    const keys = await FileKeyStore.open(gdir);
    // Enrolment for now: the demo CA signs the guardian's CSR directly. Attestation-gated
    // issuance replaces exactly this step.
    const certFile = path.join(gdir, 'guardian.crt');
    writeFileSync(certFile, await issueDeviceCertificate(ca, await keys.createCsr(), { validityHours: 24 }));
    const config = validateGuardianConfig({
      site: SITE,
      dataDir: gdir,
      server: { mqttUrl: `mqtts://127.0.0.1:${server.mqttPort}`, caFile: path.join(caDir, 'ca.crt'), certFile },
      equipment: assets.map((a: SimulatedAsset) => ({
        asset: a.id, name: a.name, area: a.area, profile: a.profile, host: a.host, port: a.port, unitId: a.unitId,
      })),
    }, 'demo', dir);
    guardians.push(await startGuardian(config, { logger: logger.child({ part: `guardian-${i + 1}` }) }));
  }

  const api = `https://127.0.0.1:${server.apiPort}/api/v1`;
  out('');
  out(`  site ${SITE}: ${sim.assets.length} simulated assets, ${guardians.length} guardians, broker mqtts://127.0.0.1:${server.mqttPort} (client certificates required)`);
  out(`  API      ${api}   (OpenAPI: ${api}/openapi.json)`);
  out(`  token    ${token}`);
  out(`  try      curl --cacert ${path.join(caDir, 'ca.crt')} -H "Authorization: Bearer $(cat ${tokenFile})" ${api}/assets`);
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
    const line = `  ingest ${rate.toFixed(0).padStart(6)} points/s · stored ${s.ingest.samplesStored} · queued batches ${queued} · guardians online ${s.connectedDevices}/${guardians.length} · refused writes to equipment: ${sim.writesReceived()}`;
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
