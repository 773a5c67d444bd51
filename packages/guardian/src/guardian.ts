/**
 * The guardian: reads its equipment, queues what it read on disk, and sends it upstream.
 *
 *   equipment --(Modbus, BACnet/IP, SNMP or Redfish; read-only)--> driver --> outbox (SQLite)
 *     --> uplink (MQTT/mTLS) --> server
 *
 * Each asset is polled on its own timer; a slow or dead device never holds up the others.
 * Safety points (door contacts, breakers) are also polled on a fast path and queued the moment
 * they change (ARCHITECTURE.md §3).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import {
  BUILTIN_PROFILE_DIR, ShellguardError, errorMessage, systemClock, type AssetBirth, type CatalogEntry, type Clock,
  type EquipmentProfile, type Measurement, type Sample, type TimerHandle, decodeAndonInstruction,
} from '@shellguard/protocol';
import {
  CertificateKeeper, EnrolmentRefused, GUARDIAN_SWNAME, writeFileAtomically, defaultBundleDirs, enrol, guardianPackageVersion, httpsJsonPost, incrementBootCount, measureGuardian,
} from './attestation/index.ts';
import { Reporter, pendingCrashReports, removeCrashReport, reportFromError } from './reports/reporter.ts';
import type { GuardianConfig, EquipmentConfig } from './config/config.ts';
import { loadProfileCatalog } from './config/profile-catalog.ts';
import { createDriver } from './drivers/create-driver.ts';
import { SnmpTrapReceiver } from './drivers/snmp/trap-receiver.ts';
import type { DriverServices, EquipmentDriver } from './drivers/driver.ts';
import { FileKeyStore } from './identity/file-key-store.ts';
import { Outbox } from './queue/outbox.ts';
import { Uplink, type UplinkStats } from './uplink/uplink.ts';
import { TowerAllowList } from './outputs/tower-allow-list.ts';
import { PanelController, type PanelControllerState } from './panel/panel-controller.ts';
import { createGuardianUpdates, healthProbe, type GuardianUpdates } from './updates/guardian-updates.ts';

export const GUARDIAN_VERSION = guardianPackageVersion();

export class GuardianError extends ShellguardError {}

export interface GuardianStats {
  deviceId: string;
  polls: number;
  pollErrors: number;
  overruns: number;
  samplesRead: number;
  queue: ReturnType<Outbox['stats']>;
  uplink: UplinkStats;
  /** Operational certificate expiry (epoch ms). */
  certificateNotAfter: number | undefined;
}

export interface GuardianHandle {
  deviceId: string;
  stats(): GuardianStats;
  /** The panels this guardian controls: what each tower shows and why. */
  panels(): PanelControllerState[];
  stop(): Promise<void>;
}

interface AssetPoller {
  config: EquipmentConfig;
  profile: EquipmentProfile;
  driver: EquipmentDriver;
  fast: boolean;
  busy: boolean;
  fastBusy: boolean;
  lastFast: Map<string, Sample['value']>;
  timers: TimerHandle[];
  lastErrorLogged: number;
}

export interface StartGuardianOptions {
  logger: Logger;
  /** The YAML file the config came from: it is measured for attestation. */
  configFile: string;
  /** Time, and the timers of polling, renewal, reports and the uplink (default systemClock). */
  clock?: Clock;
  /** For tests and benchmarks: how long the uplink waits for an ack before publishing again. */
  resendAfterMs?: number;
  /**
   * Called when the updater needs this process restarted (into a trial slot, or back to the
   * committed one). The CLI exits so that systemd starts it again; without it, updates are
   * installed but the restart is left to whoever runs the guardian.
   */
  restart?: (reason: string) => void;
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new GuardianError('file_unreadable', `cannot read the ${what} at ${file}: ${errorMessage(err)}`, { file });
  }
}

/** The profiles this guardian's equipment uses, and the files they came from. */
function resolveProfiles(config: GuardianConfig): { profiles: Map<string, EquipmentProfile>; files: string[] } {
  const catalog: Map<string, CatalogEntry> = loadProfileCatalog(BUILTIN_PROFILE_DIR);
  if (config.profilesDir) for (const [id, e] of loadProfileCatalog(config.profilesDir)) catalog.set(id, e);
  const profiles = new Map<string, EquipmentProfile>();
  const files = new Set<string>();
  for (const e of config.equipment) {
    const entry = catalog.get(e.profile);
    if (!entry) {
      throw new GuardianError('profile_unknown', `equipment ${e.asset} names profile "${e.profile}", which is not installed (known: ${[...catalog.keys()].join(', ')})`);
    }
    profiles.set(e.profile, entry.profile);
    files.add(entry.file);
  }
  return { profiles, files: [...files] };
}

/** What attestation measures for this config: the same digests `startGuardian` sends as evidence. */
export async function measureGuardianConfig(config: GuardianConfig, configFile: string): Promise<Measurement[]> {
  const { files } = resolveProfiles(config);
  return measureGuardian({ configFile, profileFiles: files, bundleDirs: defaultBundleDirs() });
}

const ATTESTED_MEASUREMENTS_FILE = 'attested-measurements.json';

async function certificateForStart(keeper: CertificateKeeper, dataDir: string, measured: Measurement[]): Promise<string> {
  let attested: string | undefined;
  try {
    attested = readFileSync(path.join(dataDir, ATTESTED_MEASUREMENTS_FILE), 'utf8');
  } catch {
    attested = undefined;
  }
  if (attested === JSON.stringify(measured)) return keeper.ensureCertificate();
  try {
    return (await keeper.renew()).certChainPem;
  } catch (err) {
    // Refused: the new software is not trusted, and the old certificate must not hide that.
    if (err instanceof EnrolmentRefused) throw err;
    // Server unreachable: keep reading equipment with the stored certificate while it is valid;
    // the keeper keeps retrying, and the broker checks the device again on every connect.
    return keeper.ensureCertificate();
  }
}

export async function startGuardian(config: GuardianConfig, options: StartGuardianOptions): Promise<GuardianHandle> {
  const { logger } = options;
  const clock = options.clock ?? systemClock;
  const now = () => clock.now();
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const keys = await FileKeyStore.open(config.dataDir);
  const caPem = readPem(config.server.caFile, 'site root CA certificate');
  // The API may present an operator's certificate (server api.certFile); the broker never does.
  const apiRequest = config.server.apiCaFile ? { request: httpsJsonPost(readPem(config.server.apiCaFile, 'API CA certificate')) } : {};
  const { profiles } = resolveProfiles(config);
  const bootcount = incrementBootCount(config.dataDir);
  const holder: { uplink?: Uplink; keeper?: CertificateKeeper } = {};
  const updates: GuardianUpdates | undefined = config.updates ? createGuardianUpdates({
    updates: config.updates, dataDir: config.dataDir, deviceId: keys.deviceId, apiUrl: config.server.apiUrl, rootCaPem: caPem,
    apiCaPem: config.server.apiCaFile ? readPem(config.server.apiCaFile, 'API CA certificate') : caPem,
    clientCertificate: () => {
      const held = holder.keeper?.current();
      return held ? { certPem: held.certChainPem, keyPem: keys.tlsPrivateKeyPem() } : undefined;
    },
    publishStatus: (deploymentId, payload) => holder.uplink?.publishUpdateStatus(deploymentId, payload),
    restart: options.restart ?? ((reason) => logger.warn({ reason }, 'the updater asks for a restart; restart the guardian to continue')),
    now, logger: logger.child({ part: 'updater' }),
  }) : undefined;
  // The release this guardian runs: its installed slot's version, or the package's in a run from source.
  const swversion = updates?.runningVersion('application') ?? GUARDIAN_VERSION;
  let startMeasurements: Measurement[] | undefined;
  const keeper = new CertificateKeeper({
    dataDir: config.dataDir,
    keyStore: keys,
    rootCaPem: caPem,
    logger: logger.child({ part: 'attestation' }),
    clock,
    // Measured afresh for every attestation: software changed on disk since the start is caught
    // at the next renewal, not only at the next restart.
    enrol: async () => {
      // The start-up measurement serves the first attestation; every later one measures afresh.
      const measurements = startMeasurements ?? await measureGuardianConfig(config, options.configFile);
      startMeasurements = undefined;
      const enrolment = await enrol({
        apiUrl: config.server.apiUrl, rootCaPem: caPem, keyStore: keys, measurements,
        swname: GUARDIAN_SWNAME, swversion, bootcount, now, ...apiRequest,
      });
      writeFileAtomically(path.join(config.dataDir, ATTESTED_MEASUREMENTS_FILE), JSON.stringify(measurements));
      return enrolment;
    },
    onRenewed: (chainPem) => holder.uplink?.updateCredentials(chainPem),
  });
  // No operational certificate, no connection: attestation must pass first (ARCHITECTURE.md §2).
  // A stored certificate is reused across restarts only while this guardian still runs exactly what
  // it attested with; otherwise it attests again now, so changed software is caught at start.
  holder.keeper = keeper;
  startMeasurements = await measureGuardianConfig(config, options.configFile);
  const measuredAtStart = JSON.stringify(startMeasurements);
  let certPem: string;
  try {
    certPem = await certificateForStart(keeper, config.dataDir, startMeasurements);
  } catch (err) {
    // A trial release the verifier refuses is rolled back here: the committed one still has its certificate.
    if (err instanceof EnrolmentRefused && updates?.inTrial()) updates.rollBackRefused(err);
    throw err;
  }
  startMeasurements = undefined;
  const outbox = new Outbox(path.join(config.dataDir, 'queue.sqlite'), { maxBatches: config.queue.maxBatches });
  const assets: AssetBirth[] = config.equipment.map((e) => {
    const profile = profiles.get(e.profile)!;
    return {
      asset: e.asset, name: e.name, type: profile.type, area: e.area, profile: profile.id,
      points: profile.points.map((p) => ({ name: p.name, unit: p.unit, kind: p.kind, description: p.description })),
    };
  });
  // The guardian's only output: the signal towers of the panels it controls, nothing else.
  const towers = new TowerAllowList((config.panels ?? []).map((p) => ({ panel: p.asset, host: p.tower.host, port: p.tower.port })), {
    logger: logger.child({ part: 'towers' }),
  });
  const panels = new Map((config.panels ?? []).map((p) => [p.asset, new PanelController({
    panel: p.asset, tower: towers.towerFor(p.asset), logger: logger.child({ part: 'panel', panel: p.asset }), now,
  })]));
  const onAndon = (payload: Buffer): void => {
    let instruction;
    try {
      instruction = decodeAndonInstruction(payload);
    } catch (err) {
      logger.warn({ err: errorMessage(err) }, 'ignored a malformed andon instruction');
      return;
    }
    const controller = panels.get(instruction.panel);
    if (!controller) {
      logger.warn({ panel: instruction.panel }, 'ignored an andon instruction for a panel this guardian does not control');
      return;
    }
    controller.onInstruction(instruction);
  };
  const reporter = new Reporter({ send: (payload) => holder.uplink?.publishReport(payload) ?? false, clock, logger: logger.child({ part: 'reports' }) });
  const uplink = new Uplink({
    url: config.server.mqttUrl,
    deviceId: keys.deviceId,
    site: config.site,
    version: swversion,
    tls: { caPem, certPem, keyPem: keys.tlsPrivateKeyPem() },
    outbox,
    assets,
    logger: logger.child({ part: 'uplink' }),
    clock,
    onReady: () => reporter.flush(),
    ...(panels.size > 0 ? { onAndon } : {}),
    ...(updates ? {
      onUpdateInstruction: (payload: Buffer) => {
        updates.updater.onInstruction(payload).catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'update instruction failed'));
      },
    } : {}),
    ...(options.resendAfterMs ? { resendAfterMs: options.resendAfterMs } : {}),
  });
  holder.uplink = uplink;
  // Crash reports left by an earlier run are uploaded, then deleted once sent.
  for (const c of pendingCrashReports(config.dataDir)) reporter.report(c.report, () => removeCrashReport(c.file));
  const counters = { polls: 0, pollErrors: 0, overruns: 0, samplesRead: 0 };
  const services: DriverServices = {};
  // One SNMP trap listener for every SNMP asset (drivers register with it as they are made).
  const snmpTraps = config.snmpTraps ? await SnmpTrapReceiver.start({ ...config.snmpTraps, logger: logger.child({ part: 'snmp-traps' }), clock }) : undefined;
  if (snmpTraps) services.snmpTraps = snmpTraps;

  let stopping = false;
  const enqueue = (asset: string, samples: Sample[]): void => {
    if (samples.length === 0 || stopping) return;
    try {
      const r = outbox.enqueue(asset, samples, now());
      counters.samplesRead += samples.length;
      if (r.overflowed) logger.error({ asset, droppedSeq: r.overflowed.seq, droppedSamples: r.overflowed.samples }, 'telemetry queue is full: dropped the oldest batch; raise queue.maxBatches or restore the uplink');
    } catch (err) {
      logger.error({ asset, err: errorMessage(err) }, 'could not queue telemetry (is the disk full?); these samples are lost');
    }
    uplink.pump();
  };

  // Values a device sends unasked (COV, traps) go the same way as polled ones.
  const pushed = (asset: string, samples: Sample[]): void => {
    if (samples.length === 0 || stopping) return;
    panels.get(asset)?.onSamples(samples);
    enqueue(asset, samples);
  };
  const pollers: AssetPoller[] = config.equipment.map((e) => {
    const profile = profiles.get(e.profile)!;
    const fast = profile.points.some((p) => p.fast) && e.fastPollIntervalMs > 0;
    const driver = createDriver({
      equipment: e, profile, clock, logger: logger.child({ part: 'driver', asset: e.asset, protocol: profile.protocol }),
      onSamples: (samples) => pushed(e.asset, samples), services,
    });
    return { config: e, profile, driver, fast, busy: false, fastBusy: false, lastFast: new Map(), timers: [], lastErrorLogged: 0 };
  });

  // A driver reports device faults as bad samples, never by throwing; what it does throw is a read
  // that a stop closed under it (expected while stopping), or a bug, which must not end the process.
  const pollFailed = (p: AssetPoller, err: unknown): void => {
    if (stopping) return;
    counters.pollErrors += 1;
    logger.error({ asset: p.config.asset, err: err instanceof Error ? err.message : String(err) }, 'a poll failed; the next one tries again');
  };

  const pollOnce = async (p: AssetPoller): Promise<void> => {
    if (p.busy) { counters.overruns += 1; return; }
    p.busy = true;
    try {
      const result = await p.driver.read('all');
      counters.polls += 1;
      if (stopping) return;
      if (result.errors.length > 0) {
        counters.pollErrors += 1;
        if (now() - p.lastErrorLogged > 60_000) {
          p.lastErrorLogged = now();
          reporter.report(reportFromError('error', result.errors[0]!.error, now()));
          logger.warn({ asset: p.config.asset, errors: result.errors.map((e) => `${e.error.code}: ${e.error.message}`) }, 'points could not be read; stored with bad quality');
        }
      }
      for (const s of result.samples) if (p.lastFast.has(s.point)) p.lastFast.set(s.point, s.value);
      panels.get(p.config.asset)?.onSamples(result.samples);
      enqueue(p.config.asset, result.samples);
    } catch (err) {
      pollFailed(p, err);
    } finally {
      p.busy = false;
    }
  };

  const pollFast = async (p: AssetPoller): Promise<void> => {
    if (p.fastBusy || p.busy || !p.fast) return;
    p.fastBusy = true;
    try {
      const result = await p.driver.read('fast');
      const changed = result.samples.filter((s) => s.value !== null && p.lastFast.get(s.point) !== s.value);
      for (const s of result.samples) if (s.value !== null) p.lastFast.set(s.point, s.value);
      // The panel controller sees the change before it is queued: its klaxon does not wait on the uplink.
      panels.get(p.config.asset)?.onSamples(changed);
      enqueue(p.config.asset, changed);
    } catch (err) {
      pollFailed(p, err);
    } finally {
      p.fastBusy = false;
    }
  };

  uplink.start();
  for (const c of panels.values()) c.start();
  // A tower that restarted or missed a frame shows the right state again within 10 s.
  const towerRefresh = panels.size > 0 ? clock.setInterval(() => { for (const c of panels.values()) c.refresh(); }, 10_000) : undefined;
  towerRefresh?.unref();
  for (const p of pollers) {
    const slow = clock.setInterval(() => { void pollOnce(p); }, p.config.pollIntervalMs);
    p.timers.push(slow);
    void pollOnce(p);
    if (p.fast) p.timers.push(clock.setInterval(() => { void pollFast(p); }, p.config.fastPollIntervalMs));
  }
  logger.info({ deviceId: keys.deviceId, assets: pollers.length, site: config.site }, 'guardian started');
  if (updates) {
    const attestedFile = path.join(config.dataDir, ATTESTED_MEASUREMENTS_FILE);
    const probe = healthProbe({
      attestedCurrent: () => {
        try {
          return readFileSync(attestedFile, 'utf8') === measuredAtStart;
        } catch {
          return false;
        }
      },
      reattest: async () => { await keeper.renew(); },
      storedBatches: () => uplink.stats().acknowledgedBatches,
    }, now);
    updates.updater.afterBoot(probe).catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'update health check failed to run'));
  }

  return {
    deviceId: keys.deviceId,
    stats: () => ({ deviceId: keys.deviceId, ...counters, queue: outbox.stats(), uplink: uplink.stats(), certificateNotAfter: keeper.current()?.notAfter }),
    panels: () => [...panels.values()].map((c) => c.state()),
    async stop() {
      stopping = true;
      clock.clearInterval(towerRefresh);
      keeper.stop();
      reporter.stop();
      for (const p of pollers) {
        for (const t of p.timers) clock.clearInterval(t);
        await p.driver.close();
      }
      await snmpTraps?.close();
      await uplink.stop();
      await towers.close();
      outbox.close();
    },
  };
}
