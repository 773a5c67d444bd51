/** Test-only helpers of @shellguard/server (`@shellguard/server/testing`); never imported by src. */
export { SQL_ENGINES, createTestDatabase, testPostgresUrl, type TestDatabase } from './sql-engines.ts';
export { sqliteTelemetryStore } from './telemetry-store.ts';

// Internals that benches (bench/) and root tests measure or drive directly; not public API.
export { decodeChunk, describeChunk, encodeChunk, type SampleColumns } from '../telemetry/codec/chunk-codec.ts';
export { ContextualAnomaly, DEFAULT_CONTEXTUAL_ANOMALY, contextualAnomalyFactory } from '../analytics/detectors/contextual-anomaly.ts';
export { windowedGaussian } from '../analytics/detectors/windowed-gaussian.ts';
export { EvidenceVerifier, type VerifiedEvidence } from '../fleet/evidence-verifier.ts';
// The fleet on the embedded engine, as bench/attest builds it (a FleetService needs its stores and a unit of work).
export { migrateServerDatabase, openSqliteSqlDatabase, sqlUnitOfWork } from '../db/index.ts';
export { sqlFleetStores } from '../fleet/sql-fleet-stores.ts';
export { NatsServerProcess } from '../bus/nats-server-process.ts';
export { TcpLink } from '../bus/testing/tcp-link.ts';
export { ownerOf } from '../replicas/device-affinity.ts';
export { shellguardFactory, DEFAULT_SHELLGUARD } from '../analytics/detectors/shellguard.ts';
export { resonanceFactory, DEFAULT_RESONANCE, Resonance, type ResonanceConfig } from '../analytics/detectors/resonance.ts';
export { dualVigilanceFactory, DEFAULT_DUAL_VIGILANCE, DualVigilance, type DualVigilanceConfig } from '../analytics/detectors/dual-vigilance.ts';
export { ensembleFactory, DEFAULT_ENSEMBLE, type EnsembleConfig } from '../analytics/detectors/ensemble.ts';
export { symmetricEigen } from '../analytics/detectors/multivariate.ts';
export { seededUniform } from './seeded-uniform.ts';
