import type { AuditErrorCode } from '../../audit/audit-error.ts';

/** Every audit error is about the server's own key or files: nothing a caller can fix. */
export const auditHttpStatus: Record<AuditErrorCode, number> = {
  audit_key_missing: 500,
  audit_key_mismatch: 500,
  audit_key_invalid: 500,
  audit_key_insecure: 500,
  audit_key_required: 500,
  audit_anchor_unwritable: 500,
  audit_database_invalid: 500,
};
