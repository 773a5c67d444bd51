/**
 * The server's configuration: one YAML file, validated at start with clear errors. Every section
 * refuses fields it does not know (a misspelt key is a mistake to report, never a default to
 * fall back on silently).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ShellguardError } from '@shellguard/protocol';
import { FLEET_KINDS, isFleetKind, type FleetKind } from '../federation/fleet-record.ts';
import { DEFAULT_DETECTOR_MEMORY_BYTES, DEFAULT_MAX_POINTS } from '../analytics/live/live-analytics.ts';
import { ensembleBytesAtCap, MIN_CONTEXTS_PER_POINT } from '../analytics/detectors/detector-memory.ts';
import { NotificationError, parseNotificationEndpoints, type NotificationEndpoint } from '../notifications/index.ts';
import { EXTERNAL_BROKER_FIELDS, parseExternalBrokerConfig, type ExternalBrokerConfig } from '../broker/mosquitto/external-broker-config.ts';

export class ServerConfigError extends ShellguardError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('config_invalid', message, details);
  }
}

export interface ListenConfig {
  host: string;
  port: number;
}

/** Which sample times ingest believes (ARCHITECTURE.md §2: ingest refuses implausible times). */
export interface IngestLimits {
  /** A sample stamped further ahead of the server's clock than this is refused (ms). */
  maxFutureSkewMs: number;
  /**
   * A sample older than this is refused (ms). Long enough that a guardian's outbox drains after a
   * long outage: the default, 35 days, outlasts the outbox's own default capacity at 1 Hz.
   */
  maxAgeMs: number;
  /** A guardian whose clock differs from the server's by more than this is flagged (ms). */
  clockWarnMs: number;
}

/** What one guardian may make the server hold (ARCHITECTURE.md §2: quotas). */
export interface DeviceQuotas {
  /** Largest MQTT packet the broker's parser accepts; larger ones end the connection first. */
  maxPacketBytes: number;
  /** Distinct points (series) one asset may have. */
  maxPointsPerAsset: number;
  /** Distinct points (series) all the assets of one guardian may have together. */
  maxPointsPerDevice: number;
  /** Assets one guardian may report. */
  maxAssetsPerDevice: number;
  /** Sustained MQTT messages per second per guardian; beyond it the broker stops reading its socket. */
  messagesPerSecond: number;
  /** Messages a guardian may send at once above the sustained rate. */
  messageBurst: number;
}

export interface AuditConfig {
  /** The key of the audit chain (HMAC-SHA256): outside the database. Default <dataDir>/audit.key. */
  keyFile: string;
  /** Append-only file of signed anchors (count and head hash). Default <dataDir>/audit-anchors.log. */
  anchorFile: string;
  /** An anchor is written after this many events (default 100)... */
  anchorEveryEvents: number;
  /** ...or this long after the last one when events were added (ms, default 60 s). */
  anchorIntervalMs: number;
}

/** How long telemetry is kept, per resolution (ms). */
export interface RetentionConfig {
  rawMs: number;
  minuteMs: number;
  hourMs: number;
}

export interface TelemetryConfig {
  /** The default for every site. */
  retention: Partial<RetentionConfig>;
  /** Per-site overrides. */
  sites: Record<string, Partial<RetentionConfig>>;
  /** Threads that answer reads on their own connections (default 1). */
  readWorkers?: number;
}

/** The HTTPS listener of the API and the web dashboard. */
export interface ApiListenConfig extends ListenConfig {
  /**
   * An operator-provided certificate (PEM, leaf first, then its chain) and key, e.g. from the
   * enterprise CA browsers already trust. Without them the listener uses a certificate from the
   * site's issuing CA (trust the site root to use it).
   */
  certFile?: string;
  keyFile?: string;
}

/** People's sign-in to the web dashboard. */
export interface AuthConfig {
  /** A session ends after this long without a request (ms, default 30 min)... */
  sessionIdleMs: number;
  /** ...and this long after sign-in whatever happens (ms, default 12 h). */
  sessionMaxMs: number;
  /** Failed sign-ins in a row that lock an account (default 5)... */
  maxFailedSignIns: number;
  /** ...for this long (ms, default 15 min). */
  lockoutMs: number;
}

export const DEFAULT_AUTH: AuthConfig = {
  sessionIdleMs: 30 * 60_000,
  sessionMaxMs: 12 * 3_600_000,
  maxFailedSignIns: 5,
  lockoutMs: 15 * 60_000,
};

export function authConfigOf(config: Pick<ServerConfig, 'auth'>): AuthConfig {
  return { ...DEFAULT_AUTH, ...config.auth };
}

/**
 * Where the server's data lives (issue 12): the embedded SQLite file in dataDir (default), or a
 * PostgreSQL server that several replicas and sites' central servers can share.
 */
export type DatabaseConfig =
  | { engine: 'sqlite' }
  | {
    engine: 'postgres';
    /** postgres://user[:password]@host:port/database — never logged (it may hold a password). */
    url: string;
    /** Pool size per server process (default 10). */
    maxConnections?: number;
  };

/**
 * The bus between ingest and its consumers (issue 12): none (one server: ingest calls them
 * directly), or NATS JetStream, for several replicas on one PostgreSQL database: every replica
 * stores what it receives and hands it to the bus, and one replica at a time (the leader) evaluates.
 */
export type BusConfig =
  | { engine: 'embedded' }
  | {
    engine: 'jetstream';
    /** nats://host:port (never logged: it may hold credentials). */
    url: string;
    /** Prefix of this server's JetStream streams and consumers (default SG); one per site. */
    stream: string;
    /**
     * Alarm evaluation partitions (default 32): each asset's batches stay in order within one, and
     * one message per partition is evaluated at a time (their commits share transactions).
     */
    partitions: number;
  };

/**
 * Many sites, one fleet (issue 12): a site server exports what is configured to flow to its
 * site's JetStream (a leaf node of the centre's); a central server sources every site's export
 * and keeps the fleet view. Site data stays at its site unless listed in `flow`.
 */
export type FederationConfig =
  | {
    role: 'site';
    /** This site's id in the fleet: 1-31 of a-z 0-9 -, its JetStream domain is site-<id>. */
    site: string;
    /** The site's nats-server (never logged). */
    url: string;
    flow: FleetKind[];
    /** How often state is compared and changes exported (default 5 s). */
    intervalMs: number;
  }
  | {
    role: 'central';
    /** The central nats-server (never logged). */
    url: string;
    /** The sites whose exports the centre sources. */
    sites: string[];
  };

export interface ServerConfig {
  /** Where the database (when embedded) and the server's own TLS key live. */
  dataDir: string;
  /** Default: `{ engine: 'sqlite' }`, the file dataDir/shellguard.sqlite. */
  database?: DatabaseConfig;
  /** Default: `{ engine: 'embedded' }` (no bus). */
  bus?: BusConfig;
  /** Default: none (a site on its own). */
  federation?: FederationConfig;
  /** The site PKI folder made by `shellguard ca init`: trust anchor for devices, issuer of certificates. */
  caDir: string;
  /** The embedded broker's listener; with `external`, an external Mosquitto takes its place (issue 12). */
  mqtt: ListenConfig & { external?: ExternalBrokerConfig };
  api: ApiListenConfig;
  /** Names and addresses the server's TLS certificate is valid for. */
  tlsNames: { hostnames: string[]; ips: string[] };
  alarms?: {
    /** Signed webhooks notified of every annunciated alarm change (and of audit anchors). */
    webhooks: { id: string; url: string; secret: string }[];
  };
  /** Defaults: DEFAULT_INGEST_LIMITS. */
  ingest?: Partial<IngestLimits>;
  /** Defaults: DEFAULT_DEVICE_QUOTAS. */
  quotas?: Partial<DeviceQuotas>;
  /** Live analytics' bounds (defaults: 20,000 points, 8 GiB of detector memory between them). */
  analytics?: AnalyticsLimits;
  /** Defaults: files in dataDir (see AuditConfig). */
  audit?: Partial<AuditConfig>;
  /** Defaults: raw 90 days, minute roll-ups 400 days, hour roll-ups 10 years; one read worker. */
  telemetry?: TelemetryConfig;
  /** Defaults: DEFAULT_AUTH. */
  auth?: Partial<AuthConfig>;
  /** Signed webhooks fed by the transactional outbox: incidents and tickets (generic JSON or PagerDuty Events v2). */
  notifications?: { webhooks: NotificationEndpoint[] };
  procedures?: {
    /** The manager of each site (a username), to whom DMOP security tickets are assigned; default: the first enabled manager. */
    managers: Record<string, string>;
  };
}

/** server.yaml `analytics:` — how much of the server live analytics may hold. */
export interface AnalyticsLimits {
  /** Points scored at most; samples of further points are counted and not scored. */
  maxPoints?: number;
  /** Memory the per-point detectors may hold between them at their caps, bytes (server.yaml: `detectorMemoryMiB`). */
  detectorMemoryBytes?: number;
}

const SECOND = 1000;
const DAY = 86_400 * SECOND;

export const DEFAULT_INGEST_LIMITS: IngestLimits = {
  maxFutureSkewMs: 300 * SECOND,
  maxAgeMs: 35 * DAY,
  clockWarnMs: 60 * SECOND,
};

export const DEFAULT_DEVICE_QUOTAS: DeviceQuotas = {
  // A full batch (protocol MAX_SAMPLES_PER_BATCH samples) is well under this.
  maxPacketBytes: 1 << 20,
  maxPointsPerAsset: 1_000,
  // A gateway box reads a few dozen devices of a few hundred points each; every point costs the
  // server a few KB (ids, latest value) plus, while live analytics scores it, its detector's share
  // of the analytics memory budget (`analytics.detectorMemoryMiB`, which bounds all points together).
  maxPointsPerDevice: 5_000,
  maxAssetsPerDevice: 500,
  messagesPerSecond: 2_000,
  messageBurst: 10_000,
};

export function auditDefaults(dataDir: string): AuditConfig {
  return {
    keyFile: path.join(dataDir, 'audit.key'),
    anchorFile: path.join(dataDir, 'audit-anchors.log'),
    anchorEveryEvents: 100,
    anchorIntervalMs: 60 * SECOND,
  };
}

/** The limits in force: the configured ones over the defaults. */
export function ingestLimitsOf(config: Pick<ServerConfig, 'ingest'>): IngestLimits {
  return { ...DEFAULT_INGEST_LIMITS, ...config.ingest };
}

export function deviceQuotasOf(config: Pick<ServerConfig, 'quotas'>): DeviceQuotas {
  return { ...DEFAULT_DEVICE_QUOTAS, ...config.quotas };
}

export function auditConfigOf(config: Pick<ServerConfig, 'audit' | 'dataDir'>): AuditConfig {
  return { ...auditDefaults(config.dataDir), ...config.audit };
}

type Obj = Record<string, unknown>;

/** Reads one document, naming the file and the field in every error. */
class Reader {
  constructor(private readonly source: string, private readonly baseDir: string) {}

  fail(at: string, message: string): never {
    throw new ServerConfigError(`${this.source}: ${at}: ${message}`, { source: this.source, field: at });
  }

  /** A mapping with only the `known` keys; an absent section is an empty one. */
  section(at: string, v: unknown, known: readonly string[]): Obj {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(at, 'must be a mapping (key: value)');
    const o = v as Obj;
    for (const k of Object.keys(o)) {
      if (!known.includes(k)) this.fail(at === '' ? k : `${at}.${k}`, `unknown field (known: ${known.join(', ')})`);
    }
    return o;
  }

  dir(at: string, v: unknown): string {
    if (typeof v !== 'string' || v === '') this.fail(at, 'is required: a folder path');
    return path.resolve(this.baseDir, v);
  }

  optionalFile(at: string, v: unknown): string | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') this.fail(at, 'must be a file path');
    return path.resolve(this.baseDir, v);
  }

  listen(at: string, v: unknown, defaultPort: number, extra: readonly string[] = []): ListenConfig & Record<string, unknown> {
    const o = this.section(at, v, ['host', 'port', ...extra]);
    const host = o.host ?? '127.0.0.1';
    if (typeof host !== 'string' || host === '') this.fail(`${at}.host`, 'must be an address to listen on, e.g. 127.0.0.1');
    const port = o.port ?? defaultPort;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) this.fail(`${at}.port`, 'must be a port number 0-65535');
    return { host, port, ...Object.fromEntries(extra.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) };
  }

  strings(at: string, v: unknown, fallback: string[]): string[] {
    if (v === undefined) return fallback;
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && s !== '')) this.fail(at, 'must be a list of strings');
    return v as string[];
  }

  /** A whole number in [min, max], or undefined when absent. */
  int(at: string, v: unknown, min: number, max: number): number | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(at, `must be a whole number from ${min} to ${max}`);
    return v;
  }
}

/** Drops undefined members, so `{ ...defaults, ...configured }` keeps the defaults. */
function defined<T extends object>(o: { [K in keyof T]: T[K] | undefined }): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function databaseConfig(r: Reader, v: unknown): DatabaseConfig {
  const o = r.section('database', v, ['engine', 'url', 'maxConnections']);
  const engine = o.engine ?? 'sqlite';
  if (engine === 'sqlite') {
    for (const k of ['url', 'maxConnections']) if (o[k] !== undefined) r.fail(`database.${k}`, 'applies to engine: postgres only');
    return { engine };
  }
  if (engine !== 'postgres') r.fail('database.engine', 'must be sqlite (embedded, the default) or postgres');
  const url = o.url;
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (typeof url !== 'string' || !parsed || !['postgres:', 'postgresql:'].includes(parsed.protocol) || parsed.pathname.length < 2) {
    // The value is not echoed: it may hold a password.
    r.fail('database.url', 'is required for engine: postgres, as postgres://user@host:port/database');
  }
  const maxConnections = r.int('database.maxConnections', o.maxConnections, 1, 1000);
  return { engine, url, ...(maxConnections !== undefined ? { maxConnections } : {}) };
}

function natsUrl(r: Reader, at: string, url: unknown, message = 'is required, as nats://host:port'): string {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  // The value is not echoed: it may hold credentials.
  if (typeof url !== 'string' || !parsed || parsed.protocol !== 'nats:' || parsed.hostname === '') r.fail(at, message);
  return url;
}

function busConfig(r: Reader, v: unknown, database: DatabaseConfig): BusConfig {
  const o = r.section('bus', v, ['engine', 'url', 'stream', 'partitions']);
  const engine = o.engine ?? 'embedded';
  if (engine === 'embedded') {
    for (const k of ['url', 'stream', 'partitions']) if (o[k] !== undefined) r.fail(`bus.${k}`, 'applies to engine: jetstream only');
    return { engine };
  }
  if (engine !== 'jetstream') r.fail('bus.engine', 'must be embedded (the default) or jetstream');
  if (database.engine !== 'postgres') r.fail('bus.engine', 'jetstream is for several replicas, which share one database: set database.engine: postgres');
  const url = natsUrl(r, 'bus.url', o.url, 'is required for engine: jetstream, as nats://host:port');
  const stream = o.stream ?? 'SG';
  if (typeof stream !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(stream)) r.fail('bus.stream', 'must be 1 to 32 letters, digits, "_" or "-"');
  const partitions = r.int('bus.partitions', o.partitions, 1, 256) ?? 32;
  return { engine, url, stream, partitions };
}

const FLEET_SITE = /^[a-z0-9][a-z0-9-]{0,30}$/;

function federationConfig(r: Reader, v: unknown): FederationConfig | undefined {
  if (v === undefined) return undefined;
  const o = r.section('federation', v, ['role', 'site', 'url', 'flow', 'intervalSeconds', 'sites']);
  const siteId = (at: string, s: unknown): string => {
    if (typeof s !== 'string' || !FLEET_SITE.test(s)) r.fail(at, 'must be a site id: 1 to 31 lower-case letters, digits or "-"');
    return s;
  };
  if (o.role === 'site') {
    for (const k of ['sites']) if (o[k] !== undefined) r.fail(`federation.${k}`, 'applies to role: central only');
    const site = siteId('federation.site', o.site);
    const url = natsUrl(r, 'federation.url', o.url);
    const flow = o.flow;
    if (!Array.isArray(flow) || flow.length === 0 || !flow.every((k) => isFleetKind(k)) || new Set(flow).size !== flow.length) {
      r.fail('federation.flow', `must list what flows to the centre, each once, from: ${FLEET_KINDS.join(', ')} (site data stays at its site unless listed)`);
    }
    const seconds = r.int('federation.intervalSeconds', o.intervalSeconds, 1, 3600) ?? 5;
    return { role: 'site', site, url, flow: flow as FleetKind[], intervalMs: seconds * 1000 };
  }
  if (o.role === 'central') {
    for (const k of ['site', 'flow', 'intervalSeconds']) if (o[k] !== undefined) r.fail(`federation.${k}`, 'applies to role: site only');
    const url = natsUrl(r, 'federation.url', o.url);
    const sites = o.sites;
    if (!Array.isArray(sites) || sites.length === 0) r.fail('federation.sites', 'must list the sites the centre sources');
    const ids = (sites as unknown[]).map((s, i) => siteId(`federation.sites[${i}]`, s));
    if (new Set(ids).size !== ids.length) r.fail('federation.sites', 'lists a site twice');
    return { role: 'central', url, sites: ids };
  }
  return r.fail('federation.role', 'must be site (export to a centre) or central (the fleet view of sites)');
}

export function validateServerConfig(doc: unknown, source: string, baseDir: string): ServerConfig {
  const r: Reader = new Reader(source, baseDir);
  const d = r.section('', doc ?? {}, ['dataDir', 'caDir', 'database', 'mqtt', 'api', 'tls', 'alarms', 'ingest', 'quotas', 'audit', 'telemetry', 'auth', 'procedures', 'notifications', 'bus', 'federation', 'analytics']);
  const database = databaseConfig(r, d.database);
  const bus = busConfig(r, d.bus, database);
  const federation = federationConfig(r, d.federation);
  const tls = r.section('tls', d.tls, ['hostnames', 'ips']);
  const alarms = r.section('alarms', d.alarms, ['webhooks']);
  const webhooksRaw: unknown = alarms.webhooks ?? [];
  if (!Array.isArray(webhooksRaw)) r.fail('alarms.webhooks', 'must be a list of {id, url, secret}');
  const webhooks = (webhooksRaw as unknown[]).map((w, i) => {
    const at = `alarms.webhooks[${i}]`;
    const o = r.section(at, w, ['id', 'url', 'secret']);
    const str = (k: string): string => {
      const v = o[k];
      if (typeof v !== 'string' || v === '') r.fail(`${at}.${k}`, 'is required');
      return v;
    };
    const url = str('url');
    if (!/^https?:\/\//.test(url)) r.fail(`${at}.url`, 'must be an http(s) URL');
    const secret = str('secret');
    if (secret.length < 16) r.fail(`${at}.secret`, 'must be at least 16 characters (it signs every notification)');
    return { id: str('id'), url, secret };
  });

  const ingest = r.section('ingest', d.ingest, ['maxFutureSkewSeconds', 'maxAgeDays', 'clockWarnSeconds']);
  const seconds = (at: string, v: unknown, min: number, max: number) => {
    const n = r.int(at, v, min, max);
    return n === undefined ? undefined : n * SECOND;
  };
  const quotas = r.section('quotas', d.quotas, [
    'maxPacketBytes', 'maxPointsPerAsset', 'maxPointsPerDevice', 'maxAssetsPerDevice', 'messagesPerSecond', 'messageBurst',
  ]);
  const audit = r.section('audit', d.audit, ['keyFile', 'anchorFile', 'anchorEveryEvents', 'anchorIntervalSeconds']);
  const analytics = r.section('analytics', d.analytics, ['maxPoints', 'detectorMemoryMiB']);
  const detectorMemoryMiB = r.int('analytics.detectorMemoryMiB', analytics.detectorMemoryMiB, 1, 16 * 1024 * 1024);
  const maxPoints = r.int('analytics.maxPoints', analytics.maxPoints, 1, 10_000_000);
  {
    const budget = detectorMemoryMiB === undefined ? DEFAULT_DETECTOR_MEMORY_BYTES : detectorMemoryMiB * 1024 * 1024;
    const points = maxPoints ?? DEFAULT_MAX_POINTS;
    const need = ensembleBytesAtCap(MIN_CONTEXTS_PER_POINT);
    if (budget / points < need) {
      r.fail('analytics.detectorMemoryMiB', `${Math.floor(budget / 1024 / 1024)} MiB for ${points} points is ${Math.floor(budget / points)} bytes a point; `
        + `each needs at least ${Math.ceil(need)}: raise it to ${Math.ceil((need * points) / 1024 / 1024)} or lower analytics.maxPoints`);
    }
  }

  const telemetry = r.section('telemetry', d.telemetry, ['retention', 'sites', 'readWorkers']);
  const retention = (at: string, v: unknown): Partial<RetentionConfig> => {
    const o = r.section(at, v, ['rawDays', 'minuteDays', 'hourDays']);
    const days = (k: string) => {
      const n = r.int(`${at}.${k}`, o[k], 1, 36_500);
      return n === undefined ? undefined : n * DAY;
    };
    return defined<RetentionConfig>({ rawMs: days('rawDays'), minuteMs: days('minuteDays'), hourMs: days('hourDays') });
  };
  const sitesRaw = r.section('telemetry.sites', telemetry.sites, Object.keys((telemetry.sites ?? {}) as Obj));
  const sites: Record<string, Partial<RetentionConfig>> = {};
  for (const [site, v] of Object.entries(sitesRaw)) sites[site] = retention(`telemetry.sites.${site}`, v);
  const readWorkers = r.int('telemetry.readWorkers', telemetry.readWorkers, 0, 16);

  const dataDir = r.dir('dataDir', d.dataDir);
  const apiListen = r.listen('api', d.api, 8443, ['certFile', 'keyFile']);
  const api: ApiListenConfig = { host: apiListen.host, port: apiListen.port };
  const certFile = r.optionalFile('api.certFile', apiListen.certFile);
  const keyFile = r.optionalFile('api.keyFile', apiListen.keyFile);
  if ((certFile === undefined) !== (keyFile === undefined)) r.fail(certFile ? 'api.keyFile' : 'api.certFile', 'api.certFile and api.keyFile go together: give both or neither');
  if (certFile && keyFile) Object.assign(api, { certFile, keyFile });
  const auth = r.section('auth', d.auth, ['sessionIdleMinutes', 'sessionMaxHours', 'maxFailedSignIns', 'lockoutMinutes']);
  const notifications = r.section('notifications', d.notifications, ['webhooks']);
  let notificationWebhooks: NotificationEndpoint[];
  try {
    notificationWebhooks = parseNotificationEndpoints(notifications.webhooks ?? [], 'notifications.webhooks', { baseDir });
  } catch (err) {
    if (err instanceof NotificationError) r.fail(String(err.details.field), String(err.details.problem));
    throw err;
  }
  const procedures = r.section('procedures', d.procedures, ['managers']);
  const managersRaw = r.section('procedures.managers', procedures.managers, Object.keys((procedures.managers ?? {}) as Obj));
  const managers: Record<string, string> = {};
  for (const [site, v] of Object.entries(managersRaw)) {
    if (typeof v !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(v)) r.fail(`procedures.managers.${site}`, 'must be a username');
    managers[site] = v;
  }
  const minutes = (at: string, v: unknown, max: number) => {
    const n = r.int(at, v, 1, max);
    return n === undefined ? undefined : n * 60_000;
  };
  return {
    dataDir,
    caDir: r.dir('caDir', d.caDir),
    database,
    bus,
    ...(federation ? { federation } : {}),
    mqtt: (({ host, port, external }) => ({
      host, port,
      ...(external !== undefined ? { external: parseExternalBrokerConfig(r.section('mqtt.external', external, EXTERNAL_BROKER_FIELDS), baseDir, (f, m) => r.fail(`mqtt.external.${f}`, m)) } : {}),
    }))(r.listen('mqtt', d.mqtt, 8883, ['external'])),
    api,
    tlsNames: {
      hostnames: r.strings('tls.hostnames', tls.hostnames, ['localhost']),
      ips: r.strings('tls.ips', tls.ips, ['127.0.0.1']),
    },
    alarms: { webhooks },
    procedures: { managers },
    notifications: { webhooks: notificationWebhooks },
    ingest: defined<IngestLimits>({
      maxFutureSkewMs: seconds('ingest.maxFutureSkewSeconds', ingest.maxFutureSkewSeconds, 1, 86_400),
      maxAgeMs: (() => {
        const days = r.int('ingest.maxAgeDays', ingest.maxAgeDays, 1, 3650);
        return days === undefined ? undefined : days * DAY;
      })(),
      clockWarnMs: seconds('ingest.clockWarnSeconds', ingest.clockWarnSeconds, 1, 86_400),
    }),
    quotas: defined<DeviceQuotas>({
      maxPacketBytes: r.int('quotas.maxPacketBytes', quotas.maxPacketBytes, 4096, 256 << 20),
      maxPointsPerAsset: r.int('quotas.maxPointsPerAsset', quotas.maxPointsPerAsset, 1, 1_000_000),
      maxPointsPerDevice: r.int('quotas.maxPointsPerDevice', quotas.maxPointsPerDevice, 1, 100_000_000),
      maxAssetsPerDevice: r.int('quotas.maxAssetsPerDevice', quotas.maxAssetsPerDevice, 1, 1_000_000),
      messagesPerSecond: r.int('quotas.messagesPerSecond', quotas.messagesPerSecond, 1, 10_000_000),
      messageBurst: r.int('quotas.messageBurst', quotas.messageBurst, 1, 100_000_000),
    }),
    analytics: defined<AnalyticsLimits>({
      maxPoints,
      detectorMemoryBytes: detectorMemoryMiB === undefined ? undefined : detectorMemoryMiB * 1024 * 1024,
    }),
    audit: defined<AuditConfig>({
      keyFile: r.optionalFile('audit.keyFile', audit.keyFile),
      anchorFile: r.optionalFile('audit.anchorFile', audit.anchorFile),
      anchorEveryEvents: r.int('audit.anchorEveryEvents', audit.anchorEveryEvents, 1, 1_000_000),
      anchorIntervalMs: seconds('audit.anchorIntervalSeconds', audit.anchorIntervalSeconds, 1, 86_400),
    }),
    auth: defined<AuthConfig>({
      sessionIdleMs: minutes('auth.sessionIdleMinutes', auth.sessionIdleMinutes, 24 * 60),
      sessionMaxMs: (() => {
        const h = r.int('auth.sessionMaxHours', auth.sessionMaxHours, 1, 24 * 30);
        return h === undefined ? undefined : h * 3_600_000;
      })(),
      maxFailedSignIns: r.int('auth.maxFailedSignIns', auth.maxFailedSignIns, 1, 100),
      lockoutMs: minutes('auth.lockoutMinutes', auth.lockoutMinutes, 24 * 60),
    }),
    telemetry: {
      retention: retention('telemetry.retention', telemetry.retention),
      sites,
      ...(readWorkers !== undefined ? { readWorkers } : {}),
    },
  };
}

export function loadServerConfig(file: string): ServerConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ServerConfigError(`cannot read server config ${file}: ${(err as Error).message}`, { source: file });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ServerConfigError(`${file}: not valid YAML: ${(err as Error).message}`, { source: file });
  }
  return validateServerConfig(doc, file, path.dirname(path.resolve(file)));
}
