export { startGuardian, GUARDIAN_VERSION, GuardianError, type GuardianHandle, type GuardianStats } from './guardian.ts';
export { loadGuardianConfig, validateGuardianConfig, ConfigError, type GuardianConfig, type EquipmentConfig } from './config/config.ts';
export { FileKeyStore, type KeyStore } from './identity/index.ts';
export { Outbox } from './queue/outbox.ts';
export { Uplink } from './uplink/uplink.ts';
