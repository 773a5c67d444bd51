/**
 * The control plane on one machine: embedded broker (mutual TLS), ingest, SQLite store and the
 * HTTPS API, started together and stopped in the order that loses nothing (API and broker first,
 * so no new data arrives; then ingest flushes; then the store closes).
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import {
  ControlKinds, controlTopic, decodeDeviceReport, encodeAndonInstruction, errorMessage, listenErrorOf, parseControlTopic,
  systemClock, type AndonInstruction, type Clock,
} from '@shellguard/protocol';
import { auditConfigOf, authConfigOf, deviceQuotasOf, ingestLimitsOf, type ServerConfig } from './config/config.ts';
import { loadProfiles } from './config/profile-catalog.ts';
import { openServerDatabase, sqlUnitOfWork } from './db/index.ts';
import { openTelemetryStore } from './telemetry/index.ts';
import { Ingest, type IngestStats } from './ingest/ingest.ts';
import { eachBatch, eachSample } from './ingest/ingest-listeners.ts';
import { RegistryDeviceDirectory } from './ingest/registry-device-directory.ts';
import type { BrokerStats } from './broker/index.ts';
import { startSelectedBroker, type SelectedBroker } from './broker/start-selected-broker.ts';
import { loadApiCertificate, openPki } from './pki/index.ts';
import { AssetMoves, CachedAssetCatalog, SqlSiteRegistry } from './registry/index.ts';
import { ApiTokens, SessionService, SqlApiTokenStore, SqlSessionStore, SqlUserStore, UsersService } from './auth/index.ts';
import { buildApi, type RateLimit } from './api/index.ts';
import { openAuditLog, webhookAnchorSink, type OpenedAuditLog } from './audit/index.ts';
import { EvidenceCapture, securityIncidents, SqlIncidentLog, telemetryWindowReader } from './incidents/index.ts';
import { OutboxDispatcher, SqlOutboxStore } from './notifications/index.ts';
import { FleetService, sqlFleetStores, type CertificateIssuer } from './fleet/index.ts';
import type { Pki } from './pki/index.ts';
import { AlarmEngine, SqlAlarmStore, WebhookNotifier } from './alarms/index.ts';
import { loadDefaultAlarmRules } from './alarms/default-rules.ts';
import { DEFAULT_BUCKET_MS, DEFAULT_MAX_POINTS, LiveAnalytics, type LiveAnalyticsOptions, type RecommendationEvidence } from './analytics/live/live-analytics.ts';
import { MaintenanceBook } from './analytics/maintenance/maintenance-book.ts';
import { SqlMaintenanceStore } from './analytics/maintenance/sql-maintenance-store.ts';
import { assetHealth } from './analytics/health/asset-health.ts';
import { rankPeers } from './analytics/peers/fleet-peers.ts';
import type { AnalyticsApi } from './api/analytics-routes.ts';
import { defaultWebRoot } from './api/web-routes.ts';
import { EventHub, liveHealth, watchStoredSamples } from './live/index.ts';
import { CachedPanelDirectory, PanelSupervisor, ProcedureLibrary, SiteManagers, SqlProcedureStore } from './procedures/index.ts';
import type { ProceduresApi } from './api/procedure-routes.ts';
import type { DemoSimulator } from './api/demo-routes.ts';
import { ImageRepository, OnlineKeyDirectory, SqlImageRepositoryStore, targetBlobsFor } from './updates/index.ts';
import { startUpdateService, type UpdateService } from './updates/update-service.ts';
import { ScaleOutReplica, type LeaderDuties, type ReplicaRole } from './scale-out.ts';
import { DeviceAffinity, SqlReplicaDirectory } from './replicas/index.ts';
import { startFederation, type Federation, type FleetSource } from './federation/index.ts';
import type { FleetKind } from './federation/index.ts';

export interface ServerStats {
  ingest: IngestStats;
  broker: BrokerStats;
  connectedDevices: number;
}

export interface ServerHandle {
  apiPort: number;
  mqttPort: number;
  /** Only on first start: the admin API token in plain text, to show once. Only its hash is stored. */
  adminToken?: string;
  /** Claims, groups, releases, attestation and revocation (also reachable over the API). */
  fleet: FleetService;
  /** The site root CA certificate devices trust. */
  rootPem: string;
  /** The certificate (leaf) the HTTPS API presents: the operator's (api.certFile) or one from the site CA. */
  apiCertificatePem: string;
  /** People who sign in to the dashboard (also reachable over the API, admin only). */
  users: UsersService;
  /** ISA-18.2 alarms evaluated on stored telemetry. */
  alarms: AlarmEngine;
  /** Live anomaly scoring and maintenance recommendations. */
  live: LiveAnalytics;
  maintenance: MaintenanceBook;
  /** Digital methods of procedure: procedure versions, work orders, panels (also reachable over the API). */
  procedures: ProceduresApi;
  /** The TUF image repositories (also reachable over the API): what software is genuine. */
  imageRepository: ImageRepository;
  /** Deployments and the director (issue 11). */
  updates: UpdateService;
  /** This replica's role: always active for one server; with `bus.engine: jetstream`, active or standby. */
  replica(): { role: ReplicaRole; id: string };
  stats(): ServerStats;
  stop(): Promise<void>;
}

export interface StartServerOptions {
  logger: Logger;
  now?: () => number;
  /** Lifetime of operational certificates (default 24 h). */
  certificateValidityHours?: number;
  /** How often the rollout engine advances waves and health windows (default 30 s; tests go faster). */
  rolloutTickMs?: number;
  /** Per-IP limit on the unauthenticated attestation routes (benchmarks raise it; default 200 burst, 50/s). */
  attestationRateLimit?: RateLimit;
  /** The built web dashboard (default packages/web/dist). */
  webRoot?: string;
  /** Time scale and tuning of live analytics (default: minute buckets; the demo's scenarios compress time). */
  analytics?: LiveAnalyticsTuning;
  /** `shellguard demo` only: the simulated panels' doors and breakers, operable from the dashboard. */
  demoSimulator?: DemoSimulator;
}

/** What a caller may tune in live analytics; the server wires its callbacks itself. */
export type LiveAnalyticsTuning = Omit<LiveAnalyticsOptions, 'onScore' | 'onSustained' | 'onAssetSustained' | 'onDegraded' | 'onRecovered'>;

/** The fleet asks the site PKI for operational certificates through this narrow port. */
function certificateIssuer(pki: Pki): CertificateIssuer {
  return {
    signOperationalCertificate: (device, policy) =>
      pki.signOperationalCertificate(device, { validityHours: policy.validityHours, ...(policy.now !== undefined ? { now: policy.now } : {}) }),
    rootPem: () => pki.rootPem,
    generateCrls: (revoked) => pki.generateCrls(revoked),
  };
}

export async function startServer(config: ServerConfig, options: StartServerOptions): Promise<ServerHandle> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  // The one clock of the timer-driven parts: options.now's time, the system's timers.
  const clock: Clock = options.now ? { ...systemClock, now: options.now } : systemClock;
  // The site PKI must exist already (`shellguard ca init`): a new root would lock out every guardian.
  // It is opened before anything is created, so a wrong caDir leaves no trace.
  const pki = await openPki(config.caDir, { clock: now });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // A fresh TLS certificate from the current issuing CA at every start: it follows CA rotation by
  // itself, and clients that trust the root verify it through the chain we present.
  const serverCert = await pki.issueServerCertificate({ ...config.tlsNames, validityDays: 365, now: new Date(now()) });
  const tls = { certPem: serverCert.chainPem, keyPem: serverCert.keyPem };
  // An operator's certificate (e.g. the enterprise CA's) for the API and dashboard only: the broker
  // keeps the site certificate, which guardians verify against the site root. Checked before the database opens.
  const apiCertificate = config.api.certFile && config.api.keyFile
    ? loadApiCertificate({ certFile: config.api.certFile, keyFile: config.api.keyFile }, { now: now(), names: config.tlsNames })
    : undefined;
  for (const warning of apiCertificate?.warnings ?? []) logger.warn({ certFile: config.api.certFile }, warning);
  const apiTls = apiCertificate ? { certPem: apiCertificate.chainPem, keyPem: apiCertificate.keyPem } : tls;

  // The online TUF keys (snapshot, timestamp), created on first start; a key file others can read stops the start here.
  const onlineKeys = OnlineKeyDirectory.open(path.join(config.dataDir, 'tuf-online-keys'));

  // The embedded SQLite file or PostgreSQL (config `database`), every domain's tables migrated
  // once here, before any store is built (issue 12).
  const database = await openServerDatabase(config, {
    // The error's message only: pg's error object can carry connection details.
    onIdleError: (err) => logger.warn({ err: err.message }, 'a pooled PostgreSQL connection failed; its work is retried on a new one'),
  });
  // Scale-out (config `bus`): several replicas on one PostgreSQL database share the devices and
  // hand what they store to JetStream; one of them at a time evaluates it (scale-out.ts).
  const replicaId = `${hostname()}:${config.dataDir}`;
  let scaleOut: ScaleOutReplica | undefined;
  if (config.bus?.engine === 'jetstream' && config.database?.engine === 'postgres') {
    try {
      scaleOut = await ScaleOutReplica.connect({ bus: config.bus, databaseUrl: config.database.url, replicaId, logger, clock });
    } catch (err) {
      await database.close();
      throw err;
    }
  }
  const notifier = new WebhookNotifier({
    webhooks: config.alarms?.webhooks ?? [], clock,
    onDeliveryFailed: (failure) => {
      if (failure.final) logger.warn({ webhook: failure.webhook, deliveryId: failure.deliveryId, attempts: failure.attempt, reason: failure.reason }, 'alarm webhook delivery failed; giving up');
    },
  });
  // The audit chain is keyed with a key outside the database and its head anchored to a file and
  // the webhooks (ARCHITECTURE.md §2). A missing or wrong key file stops the start here, first.
  let auditTrail: OpenedAuditLog;
  try {
    auditTrail = await openAuditLog(database, auditConfigOf(config), {
      clock, sink: webhookAnchorSink(notifier),
      onAnchorError: (err) => logger.error({ err: errorMessage(err) }, 'could not write or send an audit anchor; will retry'),
    });
  } catch (err) {
    await database.close();
    throw err;
  }
  if (auditTrail.keyCreated) logger.info({ keyFile: auditConfigOf(config).keyFile }, 'audit key created: back it up together with the database');
  const audit = auditTrail.log;
  const limits = ingestLimitsOf(config);
  const store = await openTelemetryStore(database, {
    now,
    retention: { default: config.telemetry?.retention ?? {}, sites: config.telemetry?.sites ?? {} },
    ...(config.telemetry?.readWorkers !== undefined ? { readWorkers: config.telemetry.readWorkers } : {}),
    // Batch rows outlive every sample ingest would still accept, so a pruned batch is never stored twice.
    dedupKeepMs: limits.maxAgeMs + limits.maxFutureSkewMs + 86_400_000,
  });
  store.startMaintenance({ onError: (err) => logger.error({ err: errorMessage(err) }, 'telemetry compaction failed; will retry') });
  const registry = new SqlSiteRegistry(database.db, database.engine, {
    clock, onFlushError: (err) => logger.warn({ err: errorMessage(err) }, 'could not write guardians\' last-seen times; will retry'),
  });
  registry.startFlushing();
  // Asset profiles for lookups that cannot wait for a query (alarm rules, condition points, peers).
  const assetCatalog = new CachedAssetCatalog(registry, { now, onError: (err) => logger.warn({ err: errorMessage(err) }, 'could not read the asset catalog; will retry') });
  await assetCatalog.refresh();
  const tokens = new ApiTokens(new SqlApiTokenStore(database.db, { engine: database.engine }), { now });
  const adminToken = await tokens.ensureAdminToken();
  const authConfig = authConfigOf(config);
  const userStore = new SqlUserStore(database.db);
  const sessions = new SessionService({ store: new SqlSessionStore(database.db), users: userStore, policy: authConfig, now });
  const users = new UsersService({ store: userStore, sessions, policy: authConfig, now });
  // The ingest and the fleet act through the broker, and the broker feeds the ingest: tie the knot late.
  const brokerRef: { current?: SelectedBroker } = {};
  // Incidents and tickets reach outside systems through a transactional outbox: the notice commits
  // with the incident, and the dispatcher delivers it, signed, after a restart too.
  const notificationEndpoints = config.notifications?.webhooks ?? [];
  const outbox = new SqlOutboxStore(database.db, { now, endpoints: notificationEndpoints });
  const notifications = new OutboxDispatcher({
    // Stable across restarts (a restarted server takes its own claims back at once), distinct per replica.
    store: outbox, endpoints: notificationEndpoints, clock, claimant: `${hostname()}:${config.dataDir}`,
    onDeliveryFailed: (f) => {
      if (f.final) logger.warn({ webhook: f.webhook, deliveryId: f.deliveryId, idempotencyKey: f.idempotencyKey, attempts: f.attempt, reason: f.reason }, 'notification webhook delivery dead-lettered');
    },
    onStoreError: (err, webhook) => logger.error({ webhook, err: errorMessage(err) }, 'notification outbox unreadable; will retry'),
  });
  const incidents = new SqlIncidentLog(database.db, { engine: database.engine, now, audit, outbox, onAnnounced: () => notifications.kick() });
  notifications.start();
  // Revoked or quarantined devices are dropped from the broker at once (and refused on reconnect).
  const disconnect = (deviceId: string) => brokerRef.current?.disconnectDevice(deviceId);
  // Live events for the dashboard: the domains tell the hub what changed; it reads and sends on its own timers.
  const events = new EventHub({
    clock,
    snapshots: {
      latest: (id) => store.latest(id),
      fleet: () => fleet.fleetView(),
      recommendations: () => maintenance.recommendations(),
      panels: () => ({ panels: supervisor.panelBoard(), stops: supervisor.siteStops() }),
      health: liveHealth({
        ingest: () => ingest.stats(), connectedDevices: () => brokerRef.current?.connectedDevices().length ?? 0,
        alarms: () => alarms.list(), now,
      }),
    },
    onError: (err, what) => logger.warn({ err: errorMessage(err), what }, 'could not read a live event snapshot'),
  });
  const fleet = new FleetService({
    stores: sqlFleetStores(database.db, database.engine),
    // A claim, a quarantine or a pass commits with its audit event and incident, or none of them does.
    uow: sqlUnitOfWork(database, (tx, hooks) => ({ ...sqlFleetStores(tx, database.engine), audit: audit.recorderIn(tx), incidents: incidents.raiserIn(tx, hooks) })),
    issuer: certificateIssuer(pki), now,
    certificateValidityHours: options.certificateValidityHours ?? 24,
    onRevoked: disconnect,
    onQuarantined: disconnect,
    onChanged: (deviceId) => {
      events.fleetChanged();
      // An external broker keeps per-device rights: a claim, pass, quarantine release or expiry changes them.
      brokerRef.current?.deviceStandingChanged(deviceId);
    },
  });

  // TUF image repositories, one per product and stream: root and targets signed offline, snapshot
  // and timestamp signed here, and re-signed before they expire.
  const imageRepository = new ImageRepository({
    // Target bytes: files in dataDir on SQLite, the database itself on PostgreSQL (updates/target-blobs.ts).
    store: new SqlImageRepositoryStore(database.db, { engine: database.engine, blobs: targetBlobsFor(database, path.join(config.dataDir, 'tuf-targets')) }), keys: onlineKeys, clock,
    onRefreshError: (err, repo) => logger.error({ err: errorMessage(err), product: repo.product, stream: repo.stream }, 'could not re-sign an expiring TUF timestamp or snapshot; will retry'),
  });
  if (!scaleOut) imageRepository.start(); // re-signing is once per site: the leader's (scale-out)
  // The director and the rollout engine: what each device should run, told in signed instructions.
  const updateService = await startUpdateService({
    database, pki, repository: imageRepository, fleet, audit, clock, logger,
    publishToDevice: (topic, payload) => brokerRef.current ? brokerRef.current.publishToDevice(topic, payload, 0) : Promise.reject(new Error('broker not started')),
    ...(options.rolloutTickMs !== undefined ? { tickIntervalMs: options.rolloutTickMs } : {}),
  });
  if (scaleOut) updateService.deployments.stop(); // rollouts tick on the leader only

  const profiles = loadProfiles();
  const alarms = new AlarmEngine({
    store: new SqlAlarmStore(database.db),
    // An alarm's change commits with its history; an operator's action with its audit event too.
    unitOfWork: sqlUnitOfWork(database, (tx) => ({ alarms: new SqlAlarmStore(tx), audit: audit.recorderIn(tx) })),
    clock, notifier,
    onPersistError: (err, f) => logger.error({ err: errorMessage(err), what: f.what, attempt: f.attempt, pending: f.pending, dropped: f.final }, f.final ? 'alarm changes could not be stored and were dropped' : 'could not store alarm changes; will retry'),
    onAlarmChanged: (alarm) => events.alarmChanged(alarm),
    assetProfile: (site, asset) => assetCatalog.profileOf(site, asset),
    profiles: (id) => profiles.get(id),
    // A scale-out replica starts as a standby: it shows the stored alarms until it leads.
    active: scaleOut === undefined,
  });
  const defineDefaultRules = async () => {
    const definedRules = await loadDefaultAlarmRules(alarms);
    if (definedRules > 0) logger.info({ rules: definedRules }, 'default alarm rules defined');
  };
  if (scaleOut) {
    await alarms.load();
  } else {
    await alarms.start();
    await defineDefaultRules();
  }

  // Digital methods of procedure: work released to panels, every door and breaker edge judged
  // against the current step, Andon instructions to the guardian that drives each panel's tower.
  const procedureStore = new SqlProcedureStore(database.db);
  const library = new ProcedureLibrary({ store: procedureStore, audit, now });
  const panelDirectory = new CachedPanelDirectory(() => registry.listAssets(), now, undefined, (err) => logger.warn({ err: errorMessage(err) }, 'could not read the panels; will retry'));
  await panelDirectory.refresh();
  const managers = new SiteManagers(config.procedures?.managers ?? {}, users, (err) => logger.warn({ err: errorMessage(err) }, 'could not list site managers'));
  const sendAndon = (site: string, instruction: Omit<AndonInstruction, 'v'>): void => {
    registry.assetOwner(site, instruction.panel).then((deviceId) => {
      if (!deviceId || !brokerRef.current) return; // the next refresh sends it once the panel's guardian is known and online
      // QoS 0, as the batch acks: the refresh every 10 s resends, and the guardian decides intrusions itself.
      // (QoS 1 publishes from the broker itself stalled after a few under aedes 1.2.)
      return brokerRef.current.publishToDevice(controlTopic(deviceId, 'down', ControlKinds.andon), encodeAndonInstruction(instruction), 0);
    }).catch((err: unknown) => {
      logger.warn({ site, panel: instruction.panel, err: errorMessage(err) }, 'could not send an Andon instruction; the refresh sends it again');
    });
  };
  const supervisor = new PanelSupervisor({
    store: procedureStore, library, audit, directory: panelDirectory, now,
    suppression: alarms,
    signal: sendAndon,
    managerOf: (site) => managers.managerOf(site),
    incidents: securityIncidents(incidents),
    lastKnownPanels: async () => Promise.all((await registry.listAssets({ type: 'panel' })).map(async (a) => ({
      site: a.site, asset: a.id,
      values: (await registry.listPoints(a.site, a.id)).flatMap((p): [string, number | boolean | null][] => {
        const id = store.findPointId(a.site, a.id, p.name);
        const v = id === undefined ? undefined : store.latest(id);
        // The store keeps binary points as 0/1; the supervisor judges edges of booleans.
        return v ? [[p.name, p.kind === 'binary' && typeof v.value === 'number' ? v.value !== 0 : v.value]] : [];
      }),
    }))),
    onChanged: () => events.panelsChanged(),
    onError: (err, what) => logger.error({ err: errorMessage(err), what }, 'procedures: could not complete a change; see the step log'),
  });
  if (!scaleOut) await supervisor.start();
  // The panel's and feed's telemetry from minutes before to minutes after each DMOP incident.
  const evidence = new EvidenceCapture({
    store: incidents, read: telemetryWindowReader(store), clock,
    onError: (err, e) => logger.warn({ err: errorMessage(err), evidenceId: e?.id, incidentId: e?.incidentId }, 'could not capture incident evidence; will retry'),
  });
  if (!scaleOut) evidence.start();

  const isConditionPoint = (site: string, asset: string, point: string): boolean => {
    const profile = profiles.get(assetCatalog.profileOf(site, asset) ?? '');
    return profile?.points.some((p) => p.name === point && p.condition) ?? false;
  };
  // Predictive maintenance: per-point minute means -> streaming detector and drift score ->
  // anomaly alarms, and sustained deviations -> recommendations with evidence.
  const bucketMs = options.analytics?.bucketMs ?? DEFAULT_BUCKET_MS;
  const maintenance = new MaintenanceBook({
    store: new SqlMaintenanceStore(database.db), now, pointId: (site, asset, point) => store.findPointId(site, asset, point), onChanged: () => events.recommendationsChanged(),
    chartBucketMs: bucketMs, chartLeadMs: 60 * bucketMs,
  });
  const hasConditionPoints = (site: string, asset: string): boolean =>
    profiles.get(assetCatalog.profileOf(site, asset) ?? '')?.points.some((p) => p.condition) ?? false;
  const recommend = (evidence: RecommendationEvidence) => maintenance.recommend(evidence).then(
    (rec) => logger.info({
      recommendation: rec.id, method: rec.method, site: evidence.site, asset: evidence.asset, point: evidence.point, zScore: evidence.zScore,
      ...(rec.moves ? { moved: rec.moves.slice(0, 3).map((m) => `${m.point} ${m.z.toFixed(1)} σ`) } : {}),
    }, 'maintenance recommended'),
    (err: unknown) => logger.error({ err: errorMessage(err), site: evidence.site, asset: evidence.asset, point: evidence.point }, 'could not record a maintenance recommendation'),
  );
  const live = new LiveAnalytics({
    ...config.analytics,
    ...options.analytics,
    onScore: (site, asset, point, ts, score) => alarms.evaluateScore(site, asset, point, ts, score),
    onSustained: (evidence) => {
      // Only wear indicators become work: a drifting air temperature follows weather or load.
      if (isConditionPoint(evidence.site, evidence.asset, evidence.point)) recommend(evidence);
    },
    // Asset-level: the points that moved together need not be wear indicators themselves (a
    // fouled valve opens further), but the equipment must be one that wears.
    onAssetSustained: (evidence) => { if (hasConditionPoints(evidence.site, evidence.asset)) recommend(evidence); },
    onDegraded: (h) => logger.warn({ pointsWaiting: h.pointsWaiting, bucketsSkipped: h.bucketsSkipped, scoreShare: h.scoreShare, reason: h.degradedReason },
      'live analytics is over its scoring budget: it scores fewer points, each in turn, until it catches up'),
    onRecovered: (h) => logger.info({ bucketsSkipped: h.bucketsSkipped }, 'live analytics keeps up with its scoring budget again'),
  });
  // Every second, whatever the bucket: closes buckets nobody follows and scores the points that
  // waited for the budget.
  const liveFlush = clock.setInterval(() => live.flush(now()), 1_000).unref();
  {
    const m = live.stats().detectorMemory;
    const points = options.analytics?.maxPoints ?? config.analytics?.maxPoints ?? DEFAULT_MAX_POINTS;
    logger.info({ maxPoints: points, detectorMemoryMiB: Math.round(m.budgetBytes / 1024 ** 2), contextsPerPoint: m.contextsPerPoint, bytesPerPoint: m.bytesPerPoint },
      m.contextsPerPoint === null ? 'live analytics: its detector as given, outside the memory budget'
        : `live analytics: up to ${points} points, each detector at most ${m.contextsPerPoint} contexts (~${Math.round((m.bytesPerPoint ?? 0) / 1024)} KiB), within the detector memory budget`);
  }
  const analytics: AnalyticsApi = {
    health: (site) => assetHealth({ points: (s) => live.snapshot(s), alarms: (f) => alarms.list(f) }, site),
    peers: (profile) => rankPeers({
      points: () => live.snapshot(),
      recentMean: (s, a, p, w) => live.recentMean(s, a, p, w),
      profileOf: (s, a) => assetCatalog.profileOf(s, a),
    }, profile),
    scores: (site, asset) => live.scoreHistory(site, asset),
    maintenance,
    relearn: async (site, asset, actor) => {
      const done = live.relearn(site, asset);
      if (!done) return undefined;
      await audit.record({ actor, action: 'analytics.relearn', target: `asset:${site}/${asset}`, detail: { ...done } });
      logger.info({ site, asset, actor, ...done }, 'asset declared normal again: its models relearn from now');
      return done;
    },
  };

  // Many sites, one fleet (config `federation`): what this site lets flow, or the centre's view.
  const round = (v: number) => Number(v.toPrecision(4));
  const fleetSources: Record<FleetKind, FleetSource> = {
    assets: async () => (await registry.listAssets()).map((a) => ({
      key: `${a.site}/${a.id}`, body: { site: a.site, id: a.id, name: a.name, type: a.type, profile: a.profile, area: a.area, deviceId: a.deviceId },
    })),
    // The record without its last value (it changes with every sample) and its timers.
    alarms: async () => alarms.list().map((a) => ({
      key: a.key, body: {
        id: a.id, key: a.key, ruleId: a.ruleId, kind: a.kind, level: a.level, site: a.site, asset: a.asset, point: a.point,
        priority: a.priority, description: a.description, state: a.state, active: a.active, acknowledged: a.acknowledged,
        shelved: a.shelved !== null, suppressed: a.suppressed, outOfService: a.outOfService !== null, annunciated: a.annunciated,
        activeSince: a.activeSince, changedAt: a.changedAt,
      },
    })),
    devices: async () => (await fleet.fleetView()).map((d) => ({
      key: d.deviceId, body: {
        deviceId: d.deviceId, site: d.site, group: d.group, state: d.state, stateChangedAt: d.stateChangedAt,
        swversion: d.swversion ?? null, attestation: d.lastAttestation?.result ?? null, certificateNotAfter: d.certificateNotAfter ?? null,
      },
    })),
    incidents: async () => (await incidents.list({ limit: 500 })).map((i) => ({
      key: String(i.id), body: {
        id: i.id, openedAt: i.openedAt, status: i.status, kind: i.kind, severity: i.severity, site: i.site ?? null, asset: i.asset ?? null,
        deviceId: i.deviceId ?? null, assignee: i.assignee ?? null, reason: i.reason, summary: i.summary,
      },
    })),
    // Each point's hour level, for fleet peers across sites (rounded: it moves every minute).
    points: async () => live.snapshot().flatMap((p) => {
      const mean = live.recentMean(p.site, p.asset, p.point);
      return mean === undefined ? [] : [{
        key: `${p.site}/${p.asset}/${p.point}`,
        body: { site: p.site, asset: p.asset, point: p.point, profile: assetCatalog.profileOf(p.site, p.asset) ?? null, recentMean: round(mean) },
      }];
    }),
  };
  let federation: Federation | undefined;

  const recordDeviceReport = (deviceId: string, payload: Buffer): void => {
    let report;
    try {
      report = decodeDeviceReport(payload);
    } catch (err) {
      logger.warn({ deviceId, err: errorMessage(err) }, 'refused a malformed device report');
      return;
    }
    fleet.recordReport(deviceId, report).then(
      (stored) => { if (!stored) logger.debug({ deviceId }, 'device report dropped by the rate limit'); },
      (err: unknown) => logger.warn({ deviceId, err: errorMessage(err) }, 'could not store a device report'),
    );
  };
  const quotas = deviceQuotasOf(config);
  const markStoredPoints = watchStoredSamples(events, (site, asset, point) => store.findPointId(site, asset, point));
  // The fleet's word on a device's site (a query: ingest keeps the answer for the connection).
  const claimedSite = async (deviceId: string) => (await fleet.getClaim(deviceId))?.site;
  const ingest = new Ingest({
    telemetry: store,
    devices: new RegistryDeviceDirectory(registry, claimedSite),
    logger: logger.child({ part: 'ingest' }),
    clock,
    limits,
    quotas,
    incidents,
    // Evaluated on what was stored, once: redeliveries never raise an alarm twice. Doors and
    // breakers first: a wrong panel reaches its tower before bulk telemetry is evaluated.
    // Scale-out: handed to the bus instead, and evaluated by the leader (leaderDuties below).
    listeners: scaleOut ? [] : [
      eachBatch((site, asset, samples) => supervisor.onSamples(site, asset, samples)),
      eachSample((site, asset, sample) => alarms.evaluate(site, asset, sample.point, sample)),
      (batches) => live.ingestBatches(batches),
      markStoredPoints,
    ],
    birthListeners: scaleOut
      ? [scaleOut.birthListener, ({ deviceId, site, birth, at }) => assetCatalog.assetBorn(deviceId, site, birth, at)]
      : [
        ({ site, birth }) => alarms.setAssetProfile(site, birth.asset, birth.profile),
        ({ site, birth }) => panelDirectory.assetBorn({ site, id: birth.asset, type: birth.type }),
        ({ deviceId, site, birth, at }) => assetCatalog.assetBorn(deviceId, site, birth, at),
      ],
    ...(scaleOut ? { handOff: scaleOut.handOff } : {}),
    publishToDevice: (deviceId, topic, payload) => {
      registry.recordDeviceSeen(deviceId, now());
      brokerRef.current?.publishToDevice(topic, payload, 0).catch((err: unknown) => {
        logger.warn({ deviceId, err: errorMessage(err) }, 'could not send a batch ack; the guardian will redeliver');
      });
    },
  });
  /** What is open before the broker and the API listen: closed by stop(), or at once if either cannot listen. */
  const closeStorage = async (): Promise<void> => {
    events.close();
    await federation?.close();
    await affinity?.stop(); // the other replicas take this one's devices at once
    await scaleOut?.stop(); // stands down first: the engines below stop with nothing feeding them
    await ingest.close(); // its last hand-offs still reach the bus
    await scaleOut?.closeBus();
    await supervisor.stop();
    await evidence.stop();
    await notifications.stop();
    clock.clearInterval(liveFlush);
    updateService.stop();
    await imageRepository.stop();
    await alarms.stop(); // its last changes, with their audit events, before the stop anchor
    await auditTrail.close(); // the stop anchor, while the webhooks still take deliveries
    notifier.close();
    await registry.close();
    await store.close();
    await database.close();
  };
  // Several replicas on one external broker split the devices among themselves, each device's
  // traffic to one replica, so its batches reach the bus in the order it sent them
  // (replicas/device-affinity.ts). With embedded brokers each device talks to one replica anyway.
  const affinity = scaleOut && config.mqtt.external
    ? new DeviceAffinity({
      directory: new SqlReplicaDirectory(database.db), replicaId, clock,
      onError: (err) => logger.warn({ err: errorMessage(err) }, 'could not write this replica\'s heartbeat or read the others\'; will retry'),
    })
    : undefined;
  try {
    await affinity?.start();
    if (config.federation) federation = await startFederation(config.federation, { db: database.db, logger, clock, sources: fleetSources });
  } catch (err) {
    await closeStorage();
    throw err;
  }
  // A site exports from the replica that evaluates (the leader, with several replicas).
  if (!scaleOut) federation?.exporter?.start();
  // The embedded broker, or an external Mosquitto with mqtt.external (broker/start-selected-broker.ts).
  const broker = await startSelectedBroker(config.mqtt, { pki, fleet, now, everyDevice: affinity !== undefined }, {
    host: config.mqtt.host,
    port: config.mqtt.port,
    tls: { certPem: tls.certPem, keyPem: tls.keyPem, caPems: [pki.rootPem] },
    logger,
    clock,
    onPublish: (deviceId, topic, payload) => {
      if (affinity && !affinity.owns(deviceId)) return; // another replica's device: it stores and acknowledges
      const control = parseControlTopic(topic);
      if (control?.kind === ControlKinds.report) recordDeviceReport(deviceId, payload);
      else if (control?.kind === ControlKinds.update) updateService.onDeviceStatus(deviceId, payload);
      else ingest.accept(deviceId, topic, payload);
    },
    // Every CONNECT: claimed, not revoked, not quarantined, and this exact certificate not revoked.
    isDeviceAllowed: (deviceId, certSerial) => fleet.isDeviceAllowed(deviceId, certSerial),
    quotas,
    onClientDisconnected: (deviceId) => ingest.deviceDisconnected(deviceId),
    // A guardian that (re)connects learns its panels' states once it has subscribed.
    onClientConnected: () => { clock.setTimeout(() => supervisor.refresh(), 1_000).unref(); },
    // The latest update instruction once the device listens for it (sent at CONNECT, it would be lost).
    onClientSubscribed: (deviceId, topics) => {
      if (topics.includes(controlTopic(deviceId, 'down', ControlKinds.update))) updateService.onDeviceSubscribed(deviceId);
    },
  }).catch(async (err: unknown) => {
    await closeStorage();
    throw err;
  });
  brokerRef.current = broker;
  const replicaStatus = (): { role: ReplicaRole; id: string; replicas?: string[]; leftToOthers?: number } =>
    ({ ...(scaleOut?.status() ?? { role: 'active', id: replicaId }), ...affinity?.status() });
  /** What the leading replica does (scale-out only): see scale-out.ts. */
  const leaderDuties = (): LeaderDuties => {
    const quietly = async (what: string, step: () => Promise<void> | void) => {
      try {
        await step();
      } catch (err) {
        logger.warn({ err: errorMessage(err), what }, 'standing down: a step failed');
      }
    };
    return {
      async takeOver() {
        // Active first, so the reload names the alarms the last leader had not created yet.
        alarms.setActive(true);
        await alarms.reload();
        await alarms.start();
        await defineDefaultRules();
        await assetCatalog.refresh();
        await panelDirectory.refresh();
        await supervisor.start();
        evidence.start();
        imageRepository.start();
        updateService.deployments.start();
        federation?.exporter?.start();
      },
      async standDown() {
        alarms.setActive(false);
        await quietly('alarms', () => alarms.settled());
        await quietly('panels', () => supervisor.stop());
        await quietly('evidence', () => evidence.stop());
        await quietly('TUF re-signing', () => imageRepository.stop());
        updateService.deployments.stop();
        await quietly('fleet export', () => federation?.exporter?.stop());
      },
      async evaluate(message, id, maybeSeen) {
        if (message.kind === 'birth') {
          const { site, birth } = message;
          alarms.setAssetProfile(site, birth.asset, birth.profile);
          panelDirectory.assetBorn({ site, id: birth.asset, type: birth.type });
          assetCatalog.assetBorn(message.deviceId, site, birth, message.at);
          return;
        }
        const { site, asset, samples } = message.batch;
        // Alarms exactly once: the batch's id commits with the alarm changes it caused.
        const fresh = await alarms.evaluateOnce(id, () => {
          for (const sample of samples) alarms.evaluate(site, asset, sample.point, sample);
          live.ingestBatches([message.batch]);
        }, { maybeSeen });
        if (fresh) supervisor.onSamples(site, asset, samples);
      },
      refreshStandby: () => alarms.reload(),
    };
  };
  const stats = (): ServerStats => ({
    ingest: ingest.stats(),
    broker: broker.stats(),
    connectedDevices: broker.connectedDevices().length,
  });
  const api = await buildApi({
    store, registry, tokens, tokenAdmin: tokens, logger: logger.child({ part: 'api' }), now, fleet, audit, incidents, alarms, analytics,
    // Guardians present their operational certificates (from the site CA) to read the TUF routes.
    tls: { ...apiTls, clientCaPems: [pki.rootPem] },
    deployments: updateService.deployments,
    updates: { repository: imageRepository, rotateOnlineKeys: () => onlineKeys.rotate(), isDeviceAllowed: (id, serial) => fleet.isDeviceAllowed(id, serial) },
    // An operator's move of an asset commits with its audit event, and only to a guardian of its site.
    assetMoves: new AssetMoves({
      uow: sqlUnitOfWork(database, (tx) => ({ registry: new SqlSiteRegistry(tx, database.engine, { clock }), audit: audit.recorderIn(tx) })),
      claimedSite,
    }),
    ...(options.attestationRateLimit ? { attestationRateLimit: options.attestationRateLimit } : {}),
    healthCounters: () => ({ ...ingest.stats(), replica: replicaStatus(), ...(federation ? { federation: federation.status() } : {}), connectedDevices: broker.connectedDevices().length, broker: broker.stats(), analytics: live.stats() }),
    events, webRoot: options.webRoot ?? defaultWebRoot(),
    users, sessions,
    procedures: { library, supervisor },
    ...(federation?.central ? { central: federation.central } : {}),
    ...(options.demoSimulator ? { demoSimulator: options.demoSimulator } : {}),
  });
  try {
    await api.listen({ host: config.api.host, port: config.api.port });
  } catch (err) {
    await api.close();
    await broker.close();
    await closeStorage();
    throw listenErrorOf(err, { what: 'the HTTPS API', host: config.api.host, port: config.api.port, setting: 'api.port in server.yaml, or --api-port for shellguard demo' });
  }
  if (scaleOut) {
    const duties = leaderDuties();
    await scaleOut.start(duties, (batch) => void markStoredPoints([batch]));
  }
  const address = api.server.address();
  const apiPort = typeof address === 'object' && address ? address.port : config.api.port;
  logger.info({ database: database.engine, api: `https://${config.api.host}:${apiPort}`, mqtt: `mqtts://${config.mqtt.host}:${broker.port}` }, 'server started');

  let stopped = false;
  return {
    apiPort,
    mqttPort: broker.port,
    ...(adminToken ? { adminToken } : {}),
    fleet,
    rootPem: pki.rootPem,
    apiCertificatePem: apiCertificate?.certPem ?? serverCert.certPem,
    users,
    alarms,
    live,
    maintenance,
    procedures: { library, supervisor },
    imageRepository,
    updates: updateService,
    replica: replicaStatus,
    stats,
    async stop() {
      if (stopped) return;
      stopped = true;
      await api.close();
      await broker.close();
      await closeStorage();
      logger.info('server stopped');
    },
  };
}
