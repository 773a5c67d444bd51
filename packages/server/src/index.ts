export { startServer, type LiveAnalyticsTuning, type ServerHandle, type ServerStats, type StartServerOptions } from './server.ts';
export {
  loadServerConfig, validateServerConfig, ServerConfigError, DEFAULT_DEVICE_QUOTAS, DEFAULT_INGEST_LIMITS, DEFAULT_AUTH,
  type AuditConfig, type AuthConfig, type ApiListenConfig, type DeviceQuotas, type IngestLimits, type ServerConfig,
} from './config/config.ts';
export { loadProfiles } from './config/profile-catalog.ts';
export * from './pki/index.ts';
export { startBroker, type Broker, type BrokerOptions } from './broker/index.ts';
export * from './broker/mosquitto/index.ts';
export { Ingest, type IngestStats } from './ingest/ingest.ts';
export { openDatabase, migrateServerDatabase, type SqlDatabase, type SqlEngine } from './db/index.ts';
export { openPostgresDatabase } from './db/index.ts';
export {
  SqliteTelemetryStore, PostgresTelemetryStore, openTelemetryStore, TELEMETRY_MIGRATIONS, type IncomingBatch, type MaintainedTelemetryStore,
  type TelemetryStore,
} from './telemetry/index.ts';
export { FleetService, AttestationError, FleetError, type CertificateIssuer, type FleetDeviceView, type VersionDrift } from './fleet/index.ts';
export type { RateLimit } from './api/index.ts';
export {
  SqlAuditLog, AuditError, verifyAuditDatabase, type AuditEvent, type AuditEventInput, type AuditLog, type AuditProblem, type AuditVerification,
  type OfflineAuditCheck,
} from './audit/index.ts';
export { ROLES, UsersService, UserError, type Role, type UserView, type UserErrorCode } from './auth/index.ts';
export { SqlIncidentLog, type Incident, type IncidentInput, type IncidentLog } from './incidents/index.ts';
export * from './alarms/index.ts';
export { LiveAnalytics } from './analytics/live/live-analytics.ts';
export { MaintenanceBook, type Recommendation, type WorkOrder } from './analytics/maintenance/maintenance-book.ts';
export { detectorFactories } from './analytics/detectors/catalog.ts';
export type { DetectorFactory, DetectorOptions, StreamingDetector } from './analytics/detectors/detector.ts';
export {
  MultivariateDetector, DEFAULT_MULTIVARIATE, type MultivariateConfig, type MultivariateScore, type MultivariateExplanation, type PointMove,
} from './analytics/detectors/multivariate.ts';
export {
  PanelSupervisor, ProcedureLibrary, ProcedureError, parseProcedureTemplate, sampleProcedure,
  type PanelView, type WorkOrderDetail, type ProcedureTemplate, type ProcedureActor, type WorkOrder as DmopWorkOrder,
} from './procedures/index.ts';
export type { DemoSimulator } from './api/demo-routes.ts';
export {
  ImageRepository, ImageRepositoryError, parseBundleManifest, tufExpires, tufKeyIdOf, tufKeyOf, tufSigner, TUF_SPEC_VERSION,
  type RepositoryDetail, type RepositoryTarget, type ProposedOnlineKeys, type TufKeyJson, type TufPublicKey,
} from './updates/index.ts';
export { Director, type DirectorOptions } from './updates/director/director.ts';
export { SqlDirectorStore } from './updates/director/sql-director-store.ts';
export * from './bus/index.ts';
export * from './federation/index.ts';
export * from './replicas/index.ts';
