export {
  startGuardian, measureGuardianConfig, GUARDIAN_VERSION, GuardianError, type GuardianHandle, type GuardianStats, type StartGuardianOptions,
} from './guardian.ts';
export { loadGuardianConfig, validateGuardianConfig, ConfigError, DEFAULT_DOOR_POLL_MS, type GuardianConfig, type EquipmentConfig, type PanelConfig } from './config/config.ts';
export { loadProfileCatalog } from './config/profile-catalog.ts';
export { FileKeyStore, type KeyStore } from './identity/index.ts';
export { GUARDIAN_SWNAME, EnrolmentRefused } from './attestation/index.ts';
export { writeCrashReport } from './reports/reporter.ts';
export { Outbox } from './queue/outbox.ts';
export { Uplink } from './uplink/uplink.ts';
export { PanelController, type PanelControllerState, type AndonTower, type LocalAlarm } from './panel/panel-controller.ts';
export { enrol, type Enrolment, type EnrolOptions } from './attestation/index.ts';
export { PnsTowerClient, type PnsTowerClientOptions, type TowerLogger } from './outputs/pns-tower-client.ts';
export { TowerAllowList, type TowerAssignment, type TowerAllowListOptions } from './outputs/tower-allow-list.ts';
export { TowerError, type TowerErrorCode, type TowerErrorDetails } from './outputs/tower-error.ts';
export { Updater, UpdateRefused, compareVersions, directorKeyFromChain, type ImageSource, type HealthProbe, type UpdatePhase, type UpdaterOptions } from './updates/updater.ts';
export { SlotStore, initialSlotState, MAX_TRIAL_BOOTS, SLOT_STATE_FILE, type SlotState, type StreamSlots, type SlotName } from './updates/slots.ts';
export { TufImageSource, type TufImageSourceOptions } from './updates/tuf-image-source.ts';
export { HttpsFetcher } from './updates/https-fetcher.ts';
export { TufClient } from './updates/tuf-client.ts';
export { TufError } from './updates/tuf-error.ts';
export { healthProbe, createGuardianUpdates, type HealthSignals } from './updates/guardian-updates.ts';
export { writeBundleArchive, extractBundleArchive, readBundleManifest, parseBundleManifest, directoryEntries, type ArchiveEntry } from './updates/bundle-archive.ts';
export { digestFile, digestFileSet, digestTrees } from './attestation/measure.ts';
export { runConformanceCli } from './updates/conformance-cli.ts';
export type { MetadataFetcher } from './updates/fetcher.ts';
export { createDriver, checkProtocolSections } from './drivers/create-driver.ts';
export { pointsOfSet, DriverError, type EquipmentDriver, type DriverContext, type DriverServices, type PointSet, type PollResult, type PollFailure } from './drivers/driver.ts';
export { buildReadPlan, type ReadPlan, type ReadBlock } from './drivers/modbus/read-plan.ts';
