/**
 * The server's audit log as configured: the chain keyed with the key file, anchored to the anchor
 * file and the sink. The key rule (ARCHITECTURE.md §2, issue 7):
 *   - a database that has never adopted a key, and no key file: a new key is created (0600);
 *   - a database that has adopted a key: that key file must be there and hold that key, or the
 *     server refuses to start and says what to restore. A new key is never made silently: it
 *     would leave every event and anchor written so far unverifiable.
 */
import { existsSync } from 'node:fs';
import { systemClock, type Clock } from '@shellguard/protocol';
import type { SqlDatabase } from '../db/sql-database.ts';
import type { AuditConfig } from '../config/config.ts';
import { AuditError } from './audit-error.ts';
import { createAuditKeyFile, readAuditKeyFile, type AuditKey } from './audit-key.ts';
import type { AnchorSink } from './audit-anchor.ts';
import { AnchorFile } from './anchor-file.ts';
import { AuditAnchoring } from './audit-anchoring.ts';
import { SqlAuditLog, readChainKeying } from './sql-audit-log.ts';

export interface OpenAuditLogOptions {
  /** Time stamps of events and anchors, and the anchor timers (default systemClock). */
  clock?: Clock;
  /** Where anchors go besides the file (the webhooks). */
  sink?: AnchorSink;
  /** A periodic anchor could not be written or published (it is retried). */
  onAnchorError?: (err: unknown) => void;
  random?: (n: number) => Buffer;
}

export interface OpenedAuditLog {
  log: SqlAuditLog;
  anchoring: AuditAnchoring;
  /** True when this start created the key file: back it up together with the database. */
  keyCreated: boolean;
  /** Writes the stop anchor and closes the anchor file; call (and await) before closing the database. */
  close(): Promise<void>;
}

function loadKey(config: AuditConfig, recordedKeyId: string | undefined, random?: (n: number) => Buffer): { key: AuditKey; created: boolean } {
  const file = config.keyFile;
  if (!existsSync(file)) {
    if (recordedKeyId !== undefined) {
      throw new AuditError('audit_key_missing', `the audit chain in this database is keyed (key id ${recordedKeyId}) but its key file ${file} `
        + `is missing. Restore ${file} from the backup of this server's data (or point audit.keyFile at it); a new key would leave `
        + 'every recorded event unverifiable, so none is created', { file, keyId: recordedKeyId });
    }
    return { key: createAuditKeyFile(file, random), created: true };
  }
  const key = readAuditKeyFile(file, { requirePrivate: true });
  if (recordedKeyId !== undefined && key.id !== recordedKeyId) {
    throw new AuditError('audit_key_mismatch', `the audit key file ${file} holds key id ${key.id}, but the audit chain in this database `
      + `was written with key id ${recordedKeyId}. Restore the original ${file} from backup; do not replace it with a new key`,
    { file, keyId: key.id, expectedKeyId: recordedKeyId });
  }
  return { key, created: false };
}

/**
 * Opens the audit log of `database`, whose tables are migrated already (db/schema.ts), and writes
 * the start anchor. Rejects with an AuditError when the key file is missing or wrong, or the anchor
 * file cannot be written.
 */
export async function openAuditLog(database: Pick<SqlDatabase, 'db' | 'engine'>, config: AuditConfig, options: OpenAuditLogOptions = {}): Promise<OpenedAuditLog> {
  const clock = options.clock ?? systemClock;
  const now = () => clock.now();
  const { key, created } = loadKey(config, (await readChainKeying(database.db))?.keyId, options.random);
  const file = AnchorFile.open(config.anchorFile);
  let anchoring: AuditAnchoring | undefined;
  let log: SqlAuditLog;
  try {
    log = await SqlAuditLog.open(database.db, { engine: database.engine, now, key, anchors: file, onRecorded: () => anchoring?.eventRecorded() });
    const opened = log;
    anchoring = new AuditAnchoring({
      head: () => opened.head(), keyedFromSeq: log.keyedFromSeq, key, file,
      everyEvents: config.anchorEveryEvents, intervalMs: config.anchorIntervalMs, clock,
      ...(options.sink ? { sink: options.sink } : {}),
      ...(options.onAnchorError ? { onError: options.onAnchorError } : {}),
    });
    await anchoring.start();
  } catch (err) {
    file.close();
    throw err;
  }
  const started = anchoring;
  return { log, anchoring: started, keyCreated: created, close: () => started.stop() };
}
