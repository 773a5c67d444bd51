/** Many sites, one fleet (issue 12): what sites export, and the centre's view of them. */
export { FLEET_KINDS, decodeFleetRecord, encodeFleetRecord, fleetFlowSubject, fleetRecordId, fleetSubject, isFleetKind, type FleetKind, type FleetRecord } from './fleet-record.ts';
export { SiteExporter, type FleetSource, type SiteExporterOptions, type SiteExporterStats } from './site-exporter.ts';
export type { CentralRecord, CentralSiteSummary, CentralStore } from './central-store.ts';
export { SqlCentralStore } from './sql-central-store.ts';
export { CENTRAL_MIGRATIONS } from './central-schema.ts';
export { CentralView, type CentralSite, type CentralViewOptions } from './central-view.ts';
export { siteFederationLayout, startFederation, type Federation, type FederationDeps } from './start-federation.ts';
