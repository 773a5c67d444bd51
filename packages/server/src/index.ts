export { startServer, type ServerHandle, type ServerStats, type StartServerOptions } from './server.ts';
export { loadServerConfig, validateServerConfig, ServerConfigError, type ServerConfig } from './config/config.ts';
export * from './pki/index.ts';
export { startBroker, type Broker, type BrokerOptions } from './broker/index.ts';
export { Ingest, type IngestStats } from './ingest/ingest.ts';
export { openDatabase } from './db/index.ts';
export { SqliteTelemetryStore, type TelemetryStore } from './telemetry/index.ts';
