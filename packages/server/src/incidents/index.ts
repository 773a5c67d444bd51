export type { Incident, IncidentInput, IncidentLog } from './incident-log.ts';
export { SqliteIncidentLog, type SqliteIncidentLogOptions } from './sqlite-incident-log.ts';
