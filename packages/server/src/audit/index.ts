export {
  AUDIT_PROBLEM_CODES, type AuditEvent, type AuditEventInput, type AuditLog, type AuditProblem, type AuditProblemCode, type AuditRecorder,
  type AuditVerification,
} from './audit-log.ts';
export { AuditError, type AuditErrorCode } from './audit-error.ts';
export { SqlAuditLog, type SqlAuditLogOptions } from './sql-audit-log.ts';
export { AUDIT_MIGRATIONS } from './audit-schema.ts';
export { GENESIS_HASH, auditEventHash, keyedEventHash } from './event-hash.ts';
export { canonicalJson } from './canonical-json.ts';
export { createAuditKeyFile, ephemeralAuditKey, readAuditKeyFile, type AuditKey } from './audit-key.ts';
export { ANCHOR_WEBHOOK_TYPE, parseAnchorLine, webhookAnchorSink, type AnchorSink, type AuditAnchor } from './audit-anchor.ts';
export { AuditAnchoring } from './audit-anchoring.ts';
export { openAuditLog, type OpenAuditLogOptions, type OpenedAuditLog } from './open-audit-log.ts';
export { verifyAuditDatabase, type OfflineAuditCheck } from './offline-verification.ts';
