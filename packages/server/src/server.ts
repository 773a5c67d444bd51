/**
 * The control plane on one machine: embedded broker (mutual TLS), ingest, SQLite store and the
 * HTTPS API, started together and stopped in the order that loses nothing (API and broker first,
 * so no new data arrives; then ingest flushes; then the store closes).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import { errorMessage } from '@shellguard/protocol';
import type { ServerConfig } from './config/config.ts';
import { openDatabase } from './db/index.ts';
import { SqliteTelemetryStore } from './telemetry/index.ts';
import { Ingest, type IngestStats, type IngestStorage } from './ingest/ingest.ts';
import { startBroker, type Broker, type BrokerStats } from './broker/index.ts';
import { issueServerCertificate, loadCa, type IssuedKeyPair, type SiteCa } from './pki/index.ts';
import { SqliteSiteRegistry } from './registry/index.ts';
import { ApiTokens } from './auth/index.ts';
import { buildApi } from './api/index.ts';

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
  stats(): ServerStats;
  stop(): Promise<void>;
}

export interface StartServerOptions {
  logger: Logger;
  now?: () => number;
}

const RENEW_SERVER_CERT_BEFORE_MS = 30 * 24 * 3600 * 1000;

/** The server's own TLS certificate (broker and API), issued by the site CA and renewed well before expiry. */
async function serverTlsIdentity(config: ServerConfig, ca: SiteCa, now: number): Promise<IssuedKeyPair> {
  const dir = path.join(config.dataDir, 'tls');
  const certFile = path.join(dir, 'server.crt');
  const keyFile = path.join(dir, 'server.key');
  if (existsSync(certFile) && existsSync(keyFile)) {
    const certPem = readFileSync(certFile, 'utf8');
    const cert = new X509Certificate(certPem);
    const issuedByCurrentCa = cert.checkIssued(new X509Certificate(ca.certPem));
    if (issuedByCurrentCa && Date.parse(cert.validTo) - now > RENEW_SERVER_CERT_BEFORE_MS) {
      return { certPem, keyPem: readFileSync(keyFile, 'utf8') };
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const issued = await issueServerCertificate(ca, { ...config.tlsNames, validityDays: 365, now: new Date(now) });
  writeFileSync(keyFile, issued.keyPem, { mode: 0o600 });
  writeFileSync(certFile, issued.certPem);
  return issued;
}

export async function startServer(config: ServerConfig, options: StartServerOptions): Promise<ServerHandle> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const ca = loadCa(config.caDir);
  const tls = await serverTlsIdentity(config, ca, now());

  const db = openDatabase(path.join(config.dataDir, 'shellguard.sqlite'));
  const store = new SqliteTelemetryStore(db, { now });
  store.startMaintenance({ onError: (err) => logger.error({ err: errorMessage(err) }, 'telemetry compaction failed; will retry') });
  const registry = new SqliteSiteRegistry(db, { now });
  registry.startFlushing();
  const tokens = new ApiTokens(db, { now });
  const adminToken = tokens.ensureAdminToken();

  // The ingest sends acks through the broker, and the broker feeds the ingest: tie the knot late.
  const brokerRef: { current?: Broker } = {};
  const storage: IngestStorage = {
    storeBatches: (batches) => store.appendBatches(batches),
    recordAssetBirth: (deviceId, site, birth, at) => registry.recordAssetBirth(deviceId, site, birth, at),
    recordDeviceOnline: (deviceId, site, version, at) => registry.recordDeviceOnline(deviceId, site, version, at),
    recordDeviceOffline: (deviceId, at) => registry.recordDeviceOffline(deviceId, at),
    recordDeviceSeen: (deviceId, at) => registry.recordDeviceSeen(deviceId, at),
  };
  const ingest = new Ingest({
    storage,
    logger: logger.child({ part: 'ingest' }),
    now,
    publishToDevice: (deviceId, topic, payload) => {
      registry.recordDeviceSeen(deviceId, now());
      brokerRef.current?.publishToDevice(topic, payload, 0).catch((err: unknown) => {
        logger.warn({ deviceId, err: errorMessage(err) }, 'could not send a batch ack; the guardian will redeliver');
      });
    },
  });
  const broker = await startBroker({
    host: config.mqtt.host,
    port: config.mqtt.port,
    tls: { certPem: tls.certPem, keyPem: tls.keyPem, caPems: [ca.certPem] },
    logger,
    onPublish: (deviceId, topic, payload) => ingest.accept(deviceId, topic, payload),
    onClientDisconnected: (deviceId) => registry.recordDeviceOffline(deviceId, now()),
  });
  brokerRef.current = broker;
  const stats = (): ServerStats => ({
    ingest: ingest.stats(),
    broker: broker.stats(),
    connectedDevices: broker.connectedDevices().length,
  });
  const api = await buildApi({
    store, registry, tokens, logger: logger.child({ part: 'api' }), tls, now,
    healthCounters: () => ({ ...ingest.stats(), connectedDevices: broker.connectedDevices().length, broker: broker.stats() }),
  });
  await api.listen({ host: config.api.host, port: config.api.port });
  const address = api.server.address();
  const apiPort = typeof address === 'object' && address ? address.port : config.api.port;
  logger.info({ api: `https://${config.api.host}:${apiPort}`, mqtt: `mqtts://${config.mqtt.host}:${broker.port}` }, 'server started');

  let stopped = false;
  return {
    apiPort,
    mqttPort: broker.port,
    ...(adminToken ? { adminToken } : {}),
    stats,
    async stop() {
      if (stopped) return;
      stopped = true;
      await api.close();
      await broker.close();
      ingest.close();
      registry.close();
      store.close();
      db.close();
      logger.info('server stopped');
    },
  };
}
