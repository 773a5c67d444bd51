/**
 * Verifying a server's audit chain without the server (`shellguard audit verify --db`): a copy of
 * the SQLite file opened read-only, or a PostgreSQL database given by its URL (only read), with the
 * key and anchor files given by the operator.
 */
// The one place outside db/ that opens a database itself: read-only, which openDatabase does not do.
import Database from 'better-sqlite3';
import type { SqlDatabase } from '../db/sql-database.ts';
import { openPostgresDatabase } from '../db/postgres-database.ts';
import { openSqliteSqlDatabase } from '../db/sqlite-sql-database.ts';
import type { AuditVerification } from './audit-log.ts';
import { AuditError } from './audit-error.ts';
import { readAuditKeyFile } from './audit-key.ts';
import { readAnchorLines } from './anchor-file.ts';
import { verifyChainAsync } from './chain-verification.ts';
import { readChainKeying, storedAuditEvents } from './sql-audit-log.ts';

export interface OfflineAuditCheck {
  /**
   * shellguard.sqlite (with its -wal file beside it, if the copy was taken from a running server),
   * or a `postgres://` URL of the server's PostgreSQL database.
   */
  databaseFile: string;
  keyFile: string;
  /** audit-anchors.log, or a webhook receiver's copy; without it a cut-off tail is not detected. */
  anchorFile?: string;
}

const isPostgresUrl = (location: string) => /^postgres(ql)?:\/\//i.test(location);

function openReadOnly(location: string): SqlDatabase {
  if (isPostgresUrl(location)) return openPostgresDatabase({ url: location, maxConnections: 1, applicationName: 'shellguard-audit-verify' });
  return openSqliteSqlDatabase(new Database(location, { readonly: true, fileMustExist: true }));
}

/** Where the check looked, for messages: a URL without its password. */
function shown(location: string): string {
  if (!isPostgresUrl(location)) return location;
  try {
    const url = new URL(location);
    url.password = '';
    return url.toString();
  } catch {
    return 'the PostgreSQL database';
  }
}

export async function verifyAuditDatabase(check: OfflineAuditCheck): Promise<AuditVerification> {
  const key = readAuditKeyFile(check.keyFile);
  const where = shown(check.databaseFile);
  let database: SqlDatabase;
  try {
    database = openReadOnly(check.databaseFile);
  } catch (err) {
    throw new AuditError('audit_database_invalid', `cannot open ${where}: ${(err as Error).message}`, { file: where });
  }
  try {
    // The anchors before the events, as the server does (sql-audit-log.ts).
    const anchors = check.anchorFile !== undefined ? { file: check.anchorFile, lines: readAnchorLines(check.anchorFile) } : undefined;
    const tables = new Set((await database.db.introspection.getTables()).map((t) => t.name));
    if (!tables.has('audit_events')) {
      throw new AuditError('audit_database_invalid', `${where} has no audit log: is it a Shellguard server database?`, { file: where });
    }
    const keying = tables.has('audit_chain') ? await readChainKeying(database.db) : undefined;
    return await verifyChainAsync({ events: storedAuditEvents(database.db), key, keying, ...(anchors ? { anchors } : {}) });
  } catch (err) {
    if (err instanceof AuditError) throw err;
    throw new AuditError('audit_database_invalid', `cannot read the audit log of ${where}: ${(err as Error).message}`, { file: where });
  } finally {
    await database.close();
  }
}
