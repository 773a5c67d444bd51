export { SimError } from './errors.ts';
export { ASSET_TYPES, type AssetType, type PointValues, type SimAsset, type FaultKind, type FaultSpec, type ActiveFault } from './physics/types.ts';
export { SiteModel, type SiteModelOptions } from './physics/site-model.ts';
export { DEFAULT_FAULT_RATE, bearingWear, coolantDrift } from './physics/faults.ts';
export { planSite, PROFILE_FOR_TYPE, MIXED_PROFILE_FOR_TYPE, DEFAULT_ASSET_COUNT, type PlannedAsset, type SiteProtocols } from './site/layout.ts';
export { RegisterMap, ModbusException } from './modbus/register-map.ts';
export { EquipmentServer, WRITE_FUNCTION_CODES, findFreePort, type EquipmentServerOptions, type WriteAttempt } from './modbus/equipment-server.ts';
export { startSimulatedSite, type SimulatedSiteOptions, type SimulatedSite, type SimulatedAsset } from './site/simulated-site.ts';
export { type SiteWriteAttempt, type AssetAccess } from './site/asset-servers.ts';
export { guardianEquipmentFor } from './site/guardian-equipment.ts';
export { loadProfiles } from './site/profile-catalog.ts';
export {
  startVirtualTower, applyPnsCommand, initialTowerState,
  type VirtualTower, type VirtualTowerOptions, type TowerState, type ReceivedFrame, type TowerAnswer,
} from './tower/virtual-tower.ts';
export * from './redfish/index.ts';
export { startSnmpAgent, type SnmpAgentOptions, type SimulatedSnmpAgent, type SnmpWriteAttempt, type SimulatedSnmpUser, type SnmpTrapTarget } from './snmp/snmp-agent.ts';
export * from './bacnet/index.ts';
export { faultEpisodes, EPISODE_FAULTS, EPISODE_POINTS, type FaultEpisode, type EpisodeFault, type FaultEpisodeOptions } from './datasets/fault-episodes.ts';
