export type {
  DmopIncidentDetail, EvidenceRequest, EvidenceSeries, EvidenceState, EvidenceTarget, Incident, IncidentChange, IncidentChangeKind,
  IncidentComment, IncidentEvidence, IncidentFilter, IncidentInput, IncidentLog, IncidentRaiser, IncidentReview, IncidentSeverity, IncidentTicket,
  IncidentTickets,
} from './incident-log.ts';
export { DMOP_INCIDENT_KINDS, INCIDENT_SEVERITIES, MAX_ASSIGNEE_LENGTH, MAX_COMMENT_LENGTH, MAX_NOTE_LENGTH } from './incident-log.ts';
export { checkTransition, INCIDENT_STATUSES, INCIDENT_TRANSITIONS, isIncidentStatus, type IncidentStatus, type IncidentTransition } from './incident-status.ts';
export { INCIDENT_ERROR_CODES, IncidentError, type IncidentErrorCode } from './incident-error.ts';
export {
  INCIDENT_OPENED_TOPIC, INCIDENT_UPDATED_TOPIC, isAnnounced, openedEntry, updatedEntry, type IncidentOutbox, type IncidentOutboxEntry, type IncidentUrl,
} from './incident-outbox.ts';
export { EvidenceCapture, type EvidenceCaptureOptions, type EvidenceRun, type EvidenceStore, type TelemetryWindowReader } from './incident-evidence.ts';
export { telemetryWindowReader, type TelemetryWindowReaderOptions } from './telemetry-window-reader.ts';
export { SqlIncidentLog, type SqlIncidentLogOptions, type TransactionalAudit, type TransactionalOutbox } from './sql-incident-log.ts';
export { INCIDENT_MIGRATIONS } from './incident-schema.ts';
export { securityIncidents, type SecurityIncidentOpener, type SecurityIncidentRequest } from './security-incidents.ts';
