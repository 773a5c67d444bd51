/**
 * Verifying a copy of a server's database without the server (`shellguard audit verify --db`):
 * the database opened read-only, the key and anchor files given by the operator.
 */
// The one place outside db/ that opens a database itself: read-only, which openDatabase does not do.
import Database from 'better-sqlite3';
import type { AuditVerification } from './audit-log.ts';
import { AuditError } from './audit-error.ts';
import { readAuditKeyFile } from './audit-key.ts';
import { readAnchorLines } from './anchor-file.ts';
import { verifyChain, type ChainKeying, type StoredAuditEvent } from './chain-verification.ts';
import { CHAIN_KEYING_SQL, STORED_EVENTS_SQL } from './sqlite-audit-log.ts';

export interface OfflineAuditCheck {
  /** shellguard.sqlite (with its -wal file beside it, if the copy was taken from a running server). */
  databaseFile: string;
  keyFile: string;
  /** audit-anchors.log, or a webhook receiver's copy; without it a cut-off tail is not detected. */
  anchorFile?: string;
}

export function verifyAuditDatabase(check: OfflineAuditCheck): AuditVerification {
  const key = readAuditKeyFile(check.keyFile);
  let db: Database.Database;
  try {
    db = new Database(check.databaseFile, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new AuditError('audit_database_invalid', `cannot open ${check.databaseFile}: ${(err as Error).message}`, { file: check.databaseFile });
  }
  try {
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name));
    if (!tables.has('audit_events')) {
      throw new AuditError('audit_database_invalid', `${check.databaseFile} has no audit log: is it a Shellguard server database?`, { file: check.databaseFile });
    }
    const keying = tables.has('audit_chain') ? db.prepare(CHAIN_KEYING_SQL).get() as ChainKeying | undefined : undefined;
    return verifyChain({
      events: db.prepare(STORED_EVENTS_SQL).iterate() as IterableIterator<StoredAuditEvent>,
      key,
      keying,
      ...(check.anchorFile !== undefined ? { anchors: { file: check.anchorFile, lines: readAnchorLines(check.anchorFile) } } : {}),
    });
  } catch (err) {
    if (err instanceof AuditError) throw err;
    throw new AuditError('audit_database_invalid', `cannot read the audit log of ${check.databaseFile}: ${(err as Error).message}`, { file: check.databaseFile });
  } finally {
    db.close();
  }
}
