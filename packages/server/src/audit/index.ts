export type { AuditEvent, AuditEventInput, AuditLog, AuditVerification } from './audit-log.ts';
export { SqliteAuditLog, GENESIS_HASH, auditEventHash, type SqliteAuditLogOptions } from './sqlite-audit-log.ts';
export { canonicalJson } from './canonical-json.ts';
