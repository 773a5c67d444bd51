export {
  startGuardian, measureGuardianConfig, GUARDIAN_VERSION, GuardianError, type GuardianHandle, type GuardianStats, type StartGuardianOptions,
} from './guardian.ts';
export { loadGuardianConfig, validateGuardianConfig, ConfigError, type GuardianConfig, type EquipmentConfig } from './config/config.ts';
export { FileKeyStore, type KeyStore } from './identity/index.ts';
export { GUARDIAN_SWNAME, EnrolmentRefused } from './attestation/index.ts';
export { writeCrashReport } from './reports/reporter.ts';
export { Outbox } from './queue/outbox.ts';
export { Uplink } from './uplink/uplink.ts';
export { enrol, type Enrolment, type EnrolOptions } from './attestation/index.ts';
