/**
 * The parts `shellguard demo` runs on (issue 12, "Running it"): the embedded store and broker by
 * default, or PostgreSQL (`--database postgres://…`) and Debian's Mosquitto 2 (`--broker
 * mosquitto`, started here on its own free loopback port with a generated configuration in the
 * demo's folder, stopped with the demo), and with `--replicas N` a nats-server and N server
 * replicas sharing the site.
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { ShellguardError, errorMessage } from '@shellguard/protocol';
import {
  DEBIAN_DYNAMIC_SECURITY_PLUGIN, DEBIAN_MOSQUITTO, NatsServerProcess, freeLoopbackPort, generateMosquittoConfig, openPki, openPostgresDatabase, startMosquitto,
  type MosquittoProcess, type ServerConfig,
} from '@shellguard/server';

export type DemoBroker = 'embedded' | 'mosquitto';
export const DEMO_BROKERS: readonly DemoBroker[] = ['embedded', 'mosquitto'];

export type DemoPartsErrorCode = 'demo_replicas_need_scale_out' | 'demo_nats_not_started' | 'demo_mosquitto_missing' | 'demo_mosquitto_not_started' | 'demo_database_url' | 'demo_database_unreachable' | 'demo_database_not_empty';

export class DemoPartsError extends ShellguardError<DemoPartsErrorCode> {}

/** The URL without its password, for printing. */
export function redactedDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** `database` of the server's config for `--database` (absent: the embedded SQLite file). */
export function demoDatabaseConfig(url: string | undefined): ServerConfig['database'] {
  if (url === undefined) return { engine: 'sqlite' };
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !['postgres:', 'postgresql:'].includes(parsed.protocol) || parsed.pathname.length < 2) {
    throw new DemoPartsError('demo_database_url', '--database must be a PostgreSQL URL, postgres://user@host:port/database (e.g. postgres://postgres@127.0.0.1:5432/shellguard_scaleout)');
  }
  return { engine: 'postgres', url };
}

/** A server start that failed on `--database`, said so with what to do; any other error unchanged. */
export function databaseStartError(err: unknown, url: string): unknown {
  const message = errorMessage(err);
  const code = (err as { code?: unknown } | undefined)?.code;
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  const codes = [code, cause].filter((c): c is string => typeof c === 'string');
  const unreachable = codes.some((c) => ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', '3D000', '28P01', '28000'].includes(c))
    || /ECONNREFUSED|does not exist|password authentication|no pg_hba\.conf entry|connect ETIMEDOUT|getaddrinfo/i.test(message);
  if (!unreachable) return err;
  return new DemoPartsError('demo_database_unreachable',
    `the demo could not use the PostgreSQL database ${redactedDatabaseUrl(url)} (${message}): start PostgreSQL (scripts/start-services.sh), `
    + 'create the database (createdb -h 127.0.0.1 -U postgres NAME, or scripts/scale-out.sh, which does both), or fix --database', { url: redactedDatabaseUrl(url) });
}

/**
 * The demo starts from a clean slate (a new site PKI and admin token): a database holding tables
 * from an earlier run is refused before anything starts, and an unreachable one said so.
 */
export async function checkDemoDatabase(url: string): Promise<void> {
  const database = openPostgresDatabase({ url, maxConnections: 1, applicationName: 'shellguard-demo-check' });
  let tables: number;
  try {
    tables = await database.postgres!.withClient(async (client) => {
      const r = await client.query<{ n: string }>("SELECT count(*) AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')");
      return Number(r.rows[0]!.n);
    });
  } catch (err) {
    throw databaseStartError(err, url);
  } finally {
    await database.close();
  }
  if (tables > 0) {
    throw new DemoPartsError('demo_database_not_empty',
      `the database ${redactedDatabaseUrl(url)} already holds ${tables} tables, e.g. a site from an earlier demo; every demo starts from a clean slate: `
      + 'give it an empty database (scripts/scale-out.sh --fresh drops and recreates shellguard_scaleout)', { url: redactedDatabaseUrl(url) });
  }
}

export interface DemoMosquitto {
  mqtt: ServerConfig['mqtt'];
  process: MosquittoProcess;
  configFile: string;
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts Debian's Mosquitto for the demo: a TLS certificate from the site PKI, the dynamic-security
 * plugin, the site CA and its CRLs, all in `<dir>/mosquitto`; the server keeps cafile and crlfile
 * current and signals mosquitto through its pid file.
 */
/** Each server replica's name on the broker (its client certificate's CN). */
export function replicaBrokerUsername(replica: number): string {
  return replica === 1 ? 'shellguard-server' : `shellguard-server-${replica}`;
}

export async function startDemoMosquitto(dir: string, caDir: string, replicas = 1): Promise<DemoMosquitto> {
  for (const [file, what] of [[DEBIAN_MOSQUITTO, 'mosquitto'], [DEBIAN_DYNAMIC_SECURITY_PLUGIN, 'its dynamic-security plugin']] as const) {
    if (!existsSync(file)) {
      throw new DemoPartsError('demo_mosquitto_missing',
        `--broker mosquitto needs Debian's Mosquitto 2 (${what} at ${file} is missing): install it (sudo apt-get install mosquitto, or scripts/install-test-deps.sh), or run the demo without --broker for the embedded broker`, { file });
    }
  }
  const pki = await openPki(caDir);
  const certificate = await pki.issueServerCertificate({ hostnames: ['localhost'], ips: ['127.0.0.1'], validityDays: 30 });
  const port = await freeLoopbackPort();
  const files = generateMosquittoConfig({
    dir: path.join(dir, 'mosquitto'), host: '127.0.0.1', port,
    serverCertificate: { chainPem: certificate.chainPem, keyPem: certificate.keyPem },
    trustAnchorPems: [pki.rootPem], crlPems: await pki.generateCrls([]),
    serverUsernames: Array.from({ length: replicas }, (_, i) => replicaBrokerUsername(i + 1)),
    // Started as root, mosquitto would drop to the `mosquitto` account, which cannot read the demo's folder.
    user: userInfo().username,
    logFile: path.join(dir, 'mosquitto', 'mosquitto.log'),
  });
  const process = await startMosquitto({ configFile: files.configFile, host: '127.0.0.1', port }).catch((err: unknown) => {
    throw new DemoPartsError('demo_mosquitto_not_started', `--broker mosquitto: ${errorMessage(err)}\n(configuration in ${files.configFile}; run the demo without --broker for the embedded broker)`, { configFile: files.configFile });
  });
  const url = `mqtts://127.0.0.1:${port}`;
  return {
    mqtt: {
      host: '127.0.0.1', port: 0,
      external: { url, username: 'shellguard-server', caFile: files.caFile, crlFile: files.crlFile, pidFile: files.pidFile },
    },
    process, configFile: files.configFile, url,
    stop: () => process.stop(),
  };
}

export interface DemoBus {
  bus: NonNullable<ServerConfig['bus']>;
  nats: NatsServerProcess;
  stop(): Promise<void>;
}

/**
 * `--replicas N` (N > 1): several server replicas share the site, which needs PostgreSQL
 * (`--database`), an external broker (`--broker mosquitto`) and a bus: Debian's nats-server with
 * JetStream, started here on its own free loopback port with its store in `<dir>/nats`.
 */
export async function startDemoBus(dir: string, replicas: number, database: ServerConfig['database'], broker: DemoBroker): Promise<DemoBus | undefined> {
  if (replicas <= 1) return undefined;
  if (database?.engine !== 'postgres' || broker !== 'mosquitto') {
    throw new DemoPartsError('demo_replicas_need_scale_out',
      '--replicas above 1 needs --database postgres://… and --broker mosquitto: replicas share one database and one broker (scripts/scale-out.sh sets both)');
  }
  const nats = await NatsServerProcess.start({ name: 'shellguard-demo', dir: path.join(dir, 'nats') }).catch((err: unknown) => {
    throw new DemoPartsError('demo_nats_not_started', `--replicas: could not start nats-server (${errorMessage(err)}); install it (sudo apt-get install nats-server, or scripts/install-test-deps.sh)`);
  });
  return { bus: { engine: 'jetstream', url: nats.url, stream: 'SG', partitions: 32 }, nats, stop: () => nats.stop() };
}

