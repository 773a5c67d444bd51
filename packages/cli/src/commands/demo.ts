/**
 * `shellguard demo`: a whole virtual site on one machine — site CA, server (broker, ingest, store,
 * HTTPS API and web dashboard), simulated equipment with a developing fault (time-compressed by
 * default, see demo-scenario.ts), and guardians polling it.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import {
  FileKeyStore, GUARDIAN_SWNAME, GUARDIAN_VERSION, loadGuardianConfig, measureGuardianConfig, startGuardian, type GuardianHandle,
} from '@shellguard/guardian';
import { initPki, startServer, type ServerConfig } from '@shellguard/server';
import type { Measurement } from '@shellguard/protocol';
import { guardianEquipmentFor, startSimulatedSite, type SimulatedAsset, type SimulatedSite, type SiteProtocols } from '@shellguard/sim';
import type { Logger } from 'pino';
import { createLogger, untilSignalled } from '../logging.ts';
import { prepareDemoDir } from './demo-dir.ts';
import { DEMO_SCENARIOS, type DemoScenarioName } from './demo-scenario.ts';
import {
  checkDemoDatabase, databaseStartError, demoDatabaseConfig, DemoPartsError, redactedDatabaseUrl, replicaBrokerUsername, startDemoBus, startDemoMosquitto,
  type DemoBroker, type DemoBus, type DemoMosquitto,
} from './demo-parts.ts';
import { createDashboardAdmin, operatorApiCertificate, trustLines } from './demo-access.ts';
import { createDemoPeople, demoSimulator, seedDemoProcedure, type DemoDmop, type DemoPeople } from './demo-dmop.ts';

export interface DemoOptions {
  dir: string;
  assets: number;
  guardians: number;
  apiPort: number;
  mqttPort: number;
  simPort: number;
  duration?: number;
  /** What happens on the site (`shellguard demo` defaults to bearing-wear; `none`: slow faults in real time). */
  scenario?: DemoScenarioName;
  /** An operator's certificate chain and key for the API and dashboard (both or neither), and its CA. */
  apiCert?: string;
  apiKey?: string;
  apiCa?: string;
  /** Signed webhooks for incidents and tickets (the outbox), e.g. a test's receiver. */
  webhooks?: NonNullable<ServerConfig['notifications']>['webhooks'];
  /** `--database`: a PostgreSQL URL to store everything in (default: the embedded SQLite file in dir). */
  database?: string;
  /** `--broker`: the embedded broker (default), or Debian's Mosquitto 2 started on its own free loopback port. */
  broker?: DemoBroker;
  /** `--replicas`: server replicas sharing the site (default 1; more need `database` and `broker: 'mosquitto'`). */
  replicas?: number;
  /** `--protocols`: mixed (BACnet/IP, SNMPv3, Redfish and Modbus, as a real site) or modbus (every asset over Modbus TCP). */
  protocols?: SiteProtocols;
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

/** A running demo site: everything `shellguard demo` starts, for the command and for browser tests. */
export interface RunningDemo {
  dir: string;
  logFile: string;
  server: Awaited<ReturnType<typeof startServer>>;
  sim: SimulatedSite;
  /** The Mosquitto process of `broker: 'mosquitto'` (stopped by stop()). */
  mosquitto?: DemoMosquitto;
  /** `replicas` > 1: the replicas after the first (`server`), and the bus they share. */
  replicas: Awaited<ReturnType<typeof startServer>>[];
  bus?: DemoBus;
  guardians: GuardianHandle[];
  /** https://host:port of the API and dashboard. */
  origin: string;
  token: string;
  tokenFile: string;
  /** The CA a client verifies the API with (the site root, or the operator's CA). */
  apiCaFile: string;
  rootFile: string;
  /** The dashboard's admin user, when the server could create it. */
  admin?: { username: string; password: string };
  /** The engineer, manager and technician of the procedure walk-through, when the server could create them. */
  people?: DemoPeople;
  /** The sample work order released for the first panel (absent if its guardian did not report in time). */
  dmop?: DemoDmop;
  /** What `shellguard demo` prints about the site once it runs. */
  lines: string[];
  /** Stops the server only (as if it went down); guardians and equipment keep running. */
  stopServer(): Promise<void>;
  /** Starts the server again on the same state and ports (after `stopServer`); `server` is the new one. */
  restartServer(): Promise<void>;
  /** Stops the scenario, the guardians, the simulator and the server (state stays in `dir`). */
  stop(): Promise<void>;
}

export interface StartDemoOptions {
  /** Where the scenario announces later events (default: nowhere). */
  announce?: (line: string) => void;
  /** The demo's logger (default: demo.log in the demo folder). */
  logger?: Logger;
}

/**
 * Starts the whole site: a new site PKI, the server with its broker and API, the simulated
 * equipment, guardians claimed, measured and attested, the scenario, and the dashboard's admin.
 */
export async function startDemo(opts: DemoOptions, options: StartDemoOptions = {}): Promise<RunningDemo> {
  // Every demo starts from a clean slate: a new site PKI, a new admin token, new guardians. Only
  // a folder the demo made itself is emptied; any other non-empty folder is refused.
  const dir = prepareDemoDir(opts.dir);
  const logFile = path.join(dir, 'demo.log');
  const logger = options.logger ?? createLogger('demo', logFile);
  const lines: string[] = [];
  const out = (line: string) => lines.push(line);
  const scenario = DEMO_SCENARIOS[opts.scenario ?? 'none'];
  // An operator's certificate for the API and dashboard (`--api-cert`); the broker keeps the site's.
  const operator = operatorApiCertificate(opts, dir);
  const apiHost = operator?.host ?? '127.0.0.1';
  // PostgreSQL (`--database`) is checked before anything starts: reachable, and empty.
  const database = demoDatabaseConfig(opts.database);
  if (database?.engine === 'postgres') await checkDemoDatabase(database.url);
  const caDir = path.join(dir, 'ca');
  // `ca init`, as an operator does it before a server's first start.
  await initPki(caDir, { commonName: 'Shellguard demo site' });
  const rootFile = path.join(caDir, 'root.crt');
  const apiCaFile = operator?.caFile ?? rootFile;
  // With several replicas: the bus they share (checked first: it needs PostgreSQL and Mosquitto).
  const replicaCount = opts.replicas ?? 1;
  const bus = await startDemoBus(dir, replicaCount, database, opts.broker ?? 'embedded');
  // The external broker first: the server connects to it as it starts.
  const mosquitto = opts.broker === 'mosquitto' ? await startDemoMosquitto(dir, caDir, replicaCount).catch(async (err: unknown) => {
    await bus?.stop();
    throw err;
  }) : undefined;
  const stopParts = async () => {
    await mosquitto?.stop();
    await bus?.stop();
  };
  // Equipment first: the server's demo-only controls operate the simulated panels. Every panel
  // has a virtual signal tower (Patlite PNS over TCP) that its guardian drives.
  const sim = await startSimulatedSite({
    site: SITE, assets: opts.assets, basePort: opts.simPort, seed: 1, towers: { basePort: 0 }, protocols: opts.protocols ?? 'modbus',
    onWrite: (asset, attempt) => logger.error({ asset, protocol: attempt.protocol, request: attempt.request }, 'a client tried to write to simulated equipment'),
  }).catch(async (err: unknown) => {
    await stopParts();
    throw err;
  });
  const serverConfig = {
    dataDir: path.join(dir, 'server'),
    caDir,
    database,
    mqtt: mosquitto?.mqtt ?? { host: '127.0.0.1', port: opts.mqttPort },
    api: { host: '127.0.0.1', port: opts.apiPort, ...(operator ? { certFile: operator.certFile, keyFile: operator.keyFile } : {}) },
    tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
    ...(opts.webhooks ? { notifications: { webhooks: opts.webhooks } } : {}),
    ...(bus ? { bus: bus.bus, audit: { keyFile: path.join(dir, 'server', 'audit.key') } } : {}),
  };
  const serverOptions = {
    logger: logger.child({ part: 'server' }), ...(scenario.analytics ? { analytics: scenario.analytics } : {}),
    demoSimulator: demoSimulator(sim, SITE),
  };
  let server = await startServer(serverConfig, serverOptions).catch(async (err: unknown) => {
    await sim.stop();
    await stopParts();
    throw opts.database ? databaseStartError(err, opts.database) : err;
  });
  if (server.adminToken === undefined) {
    // Only a first start on an empty database creates the admin token: this one holds an earlier site.
    await server.stop();
    await sim.stop();
    await stopParts();
    throw new DemoPartsError('demo_database_not_empty',
      `the database ${redactedDatabaseUrl(opts.database ?? '')} already holds a site from an earlier run; the demo starts from a clean slate: `
      + 'give it an empty database (scripts/scale-out.sh --fresh drops and recreates shellguard_scaleout)');
  }
  // More replicas: each its own folder, API port and name on the broker; the audit key and the
  // online TUF keys are the first one's (replicas must share them: docs/scale-out.md).
  const replicas: Awaited<ReturnType<typeof startServer>>[] = [];
  for (let i = 2; i <= replicaCount; i++) {
    const dataDir = path.join(dir, `server-${i}`);
    cpSync(path.join(serverConfig.dataDir, 'tuf-online-keys'), path.join(dataDir, 'tuf-online-keys'), { recursive: true });
    try {
      replicas.push(await startServer({
        ...serverConfig, dataDir,
        mqtt: { ...serverConfig.mqtt, ...(mosquitto ? { external: { ...mosquitto.mqtt.external!, username: replicaBrokerUsername(i) } } : {}) },
        api: { ...serverConfig.api, port: opts.apiPort === 0 ? 0 : opts.apiPort + i - 1 },
      }, { logger: logger.child({ part: `server-${i}` }) }));
    } catch (err) {
      for (const r of replicas) await r.stop();
      await server.stop();
      await sim.stop();
      await stopParts();
      throw err;
    }
  }
  const tokenFile = path.join(dir, 'admin-token');
  const token = server.adminToken;
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });

  // Enrolment as an operator does it: claim each guardian's id into the group, register the
  // release it runs (reference values), then the guardian attests and gets its 24 h certificate.
  await server.fleet.defineGroup({ id: GROUP, site: SITE, minSecureVersion: GUARDIAN_VERSION }, DEMO_ACTOR);
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
      server: {
        mqttUrl: `mqtts://127.0.0.1:${server.mqttPort}`, apiUrl: `https://${apiHost}:${server.apiPort}`, caFile: rootFile,
        ...(operator ? { apiCaFile: operator.caFile } : {}),
      },
      // Each asset over its own protocol; the simulator's SNMPv3 keys and BMC password go to files beside the config.
      equipment: assets.map((a: SimulatedAsset) => guardianEquipmentFor(a, path.join(gdir, 'secrets'))),
      // The guardian is the panel controller of its panels: door and breakers at 25 ms, the tower its only output.
      panels: assets.filter((a: SimulatedAsset) => a.tower).map((a: SimulatedAsset) => ({ asset: a.id, tower: a.tower })),
    }));
    await server.fleet.claim({ deviceId: keys.deviceId, site: SITE, group: GROUP }, DEMO_ACTOR);
    manifests.push(await measureGuardianConfig(loadGuardianConfig(configFile), configFile));
    configFiles.push(configFile);
  }
  await server.fleet.registerRelease({ group: GROUP, swname: GUARDIAN_SWNAME, swversion: GUARDIAN_VERSION, components: mergeManifests(manifests) }, DEMO_ACTOR);

  const guardians: GuardianHandle[] = [];
  for (const [i, configFile] of configFiles.entries()) {
    guardians.push(await startGuardian(loadGuardianConfig(configFile), { logger: logger.child({ part: `guardian-${i + 1}` }), configFile }));
  }

  // The scenario's clock starts now: guardians are attested and polling.
  const scenarioRun = scenario.start(sim, options.announce ?? (() => {}));
  const origin = `https://${apiHost}:${server.apiPort}`;
  const access = await createDashboardAdmin({ server: origin, token, caFile: apiCaFile, dir });
  const people = await createDemoPeople({ server: origin, token, caFile: apiCaFile, dir });
  const dmop = people ? await seedDemoProcedure(server, sim, SITE, people, origin) : undefined;
  const api = `${origin}/api/v1`;
  out('');
  out(`  parts    store ${database?.engine === 'postgres' ? `PostgreSQL ${redactedDatabaseUrl(database.url)}` : `embedded SQLite (${path.join(serverConfig.dataDir, 'shellguard.sqlite')})`}`
    + ` · broker ${mosquitto ? `Mosquitto (${mosquitto.url}, pid ${mosquitto.process.pid}, config ${mosquitto.configFile})` : 'embedded'}`
    + ` · ${replicaCount === 1 ? '1 server replica' : `${replicaCount} server replicas, bus JetStream ${bus!.nats.url} (pid ${bus!.nats.pid ?? '?'}, store ${bus!.nats.storeDir})`}`);
  // The lead is taken asynchronously (the first replica loads its state before it evaluates): say
  // which replica leads once one does, rather than a moment before.
  if (replicaCount > 1) await untilOneLeads([server, ...replicas], 60_000);
  for (const [i, r] of [server, ...replicas].entries()) {
    if (replicaCount > 1) out(`  replica ${i + 1}  https://${apiHost}:${r.apiPort}/   ${r.replica().role}`);
  }
  out(`  site ${SITE}: ${sim.assets.length} simulated assets, ${guardians.length} guardians, broker mqtts://127.0.0.1:${server.mqttPort} (client certificates required)`);
  out(`  web      ${origin}/`);
  for (const line of trustLines({ dashboardUrl: `${origin}/`, rootFile, rootPem: server.rootPem, apiCertificatePem: server.apiCertificatePem, ...(operator ? { operator } : {}) })) out(line);
  for (const line of access.lines) out(line);
  if (people) out(`  people   ${Object.entries(people).map(([role, p]) => `${role} ${p.username} / ${p.password}`).join(' · ')}   (kept in ${path.join(dir, 'people')})`);
  for (const line of dmop?.lines ?? []) out(line);
  out(`  API      ${api}   (OpenAPI: ${api}/openapi.json)`);
  out(`  token    ${token}`);
  out(`  try      curl --cacert ${apiCaFile} -H "Authorization: Bearer $(cat ${tokenFile})" ${api}/assets`);
  out(`           curl --cacert ${apiCaFile} -H "Authorization: Bearer $(cat ${tokenFile})" ${api}/fleet`);
  out('');
  out('  guardian                                                          claim      attestation         certificate until');
  for (const d of await server.fleet.fleetView()) {
    const a = d.lastAttestation;
    const attest = a ? `${a.result}${a.reason ? ` (${a.reason})` : ''} ${new Date(a.at).toISOString().slice(11, 19)}` : 'never';
    const until = d.certificateNotAfter ? new Date(d.certificateNotAfter).toISOString().replace('T', ' ').slice(0, 16) : '-';
    out(`  ${d.deviceId}  ${d.state.padEnd(10)} ${attest.padEnd(19)} ${until} UTC`);
  }
  out('');
  if (scenarioRun.lines.length > 0) {
    for (const line of scenarioRun.lines) out(line);
    out('');
  }

  let stopped = false;
  let serverDown = false;
  // The same ports on a restart: guardians' configs and the dashboard's URL name them.
  serverConfig.mqtt.port = server.mqttPort;
  serverConfig.api.port = server.apiPort;
  const demo: RunningDemo = {
    dir, logFile, server, sim, guardians, ...(mosquitto ? { mosquitto } : {}), replicas, ...(bus ? { bus } : {}), origin, token, tokenFile, apiCaFile, rootFile, lines,
    ...(access.admin ? { admin: access.admin } : {}),
    ...(people ? { people } : {}),
    ...(dmop ? { dmop } : {}),
    async stopServer() {
      if (serverDown) return;
      serverDown = true;
      await server.stop();
    },
    async restartServer() {
      if (!serverDown) await server.stop();
      server = await startServer(serverConfig, serverOptions);
      demo.server = server;
      serverDown = false;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      scenarioRun.stop();
      for (const g of guardians) await g.stop();
      await sim.stop();
      for (const r of replicas) await r.stop();
      if (!serverDown) await server.stop();
      await stopParts();
    },
  };
  return demo;
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const isTty = process.stdout.isTTY === true;
  out(`Shellguard demo — state in ${path.resolve(opts.dir)}`);
  const demo = await startDemo(opts, { announce: (line) => out(isTty ? `\n${line}` : line) });
  const { server, sim, guardians, dir } = demo;
  out(`  logs in ${demo.logFile}`);
  for (const line of demo.lines) out(line);

  // Every replica stores its share of the devices: the site's rate is their sum.
  const storedByAll = () => [demo.server, ...demo.replicas].reduce((n, r) => n + r.stats().ingest.samplesStored, 0);
  let lastSamples = storedByAll();
  let lastTime = Date.now();
  let ticks = 0;
  // The fleet view and the recommendations are read from the database; the status line shows the counts of the previous tick.
  let attested = 0;
  let openRecommendations = 0;
  const live = setInterval(() => {
    server.fleet.fleetView().then((view) => {
      attested = view.filter((d) => d.state === 'claimed' && d.lastAttestation?.result === 'pass').length;
    }, () => undefined);
    server.maintenance.recommendations({ status: 'open' }).then((recs) => { openRecommendations = recs.length; }, () => undefined);
    const now = Date.now();
    const s = server.stats();
    const stored = storedByAll();
    const rate = ((stored - lastSamples) * 1000) / Math.max(1, now - lastTime);
    lastSamples = stored;
    lastTime = now;
    const queued = guardians.reduce((n, g) => n + g.stats().queue.pendingBatches, 0);
    const line = `  ingest ${rate.toFixed(0).padStart(6)} points/s · stored ${stored} · queued batches ${queued} · guardians attested ${attested}/${guardians.length}, online ${s.connectedDevices} · alarms active ${server.alarms.list({}).filter((a) => a.active).length} · recommendations ${openRecommendations} · writes to equipment: ${sim.writesReceived()}`;
    ticks += 1;
    if (isTty) process.stdout.write(`\r${line.padEnd(140)}`);
    else if (ticks % 10 === 0) out(line);
  }, 1000);

  const stopAfter = opts.duration ? new Promise<string>((r) => setTimeout(() => r('duration'), opts.duration! * 1000)) : new Promise<string>(() => {});
  const reason = await Promise.race([untilSignalled(), stopAfter]);
  clearInterval(live);
  out(`\nstopping (${reason})`);
  await demo.stop();
  out('stopped; state kept in ' + dir);
}

/** Waits (at most `timeoutMs`) until one of the replicas reports itself active. */
async function untilOneLeads(replicas: readonly { replica(): { role: string } }[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!replicas.some((r) => r.replica().role === 'active') && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
