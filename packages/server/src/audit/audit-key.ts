/**
 * The key of the audit chain: 32 random bytes in a file outside the database (ARCHITECTURE.md §2),
 * used for HMAC-SHA256 (RFC 2104; 32 bytes = the hash's output length, RFC 2104 §3). Whoever can
 * rewrite the database but cannot read this file cannot forge a hash the verifier accepts.
 *
 * The key never reaches the database, a log line or an API answer: the database stores only its
 * {@link AuditKey.id}, a MAC of a fixed label, so a wrong key is recognised without revealing it.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { inspect } from 'node:util';
import { AuditError } from './audit-error.ts';
import { fsyncDirectory } from './fsync-directory.ts';

export const AUDIT_KEY_BYTES = 32;
const KEY_ID_LABEL = 'shellguard/audit-key-id/v1';
const KEY_FILE_PATTERN = /^[0-9a-f]{64}$/;

/**
 * The port the chain is keyed through. A file key implements it today; an HSM or TPM can later,
 * as long as `mac` stays synchronous (events are recorded inside SQLite transactions).
 */
export interface AuditKey {
  /** 16 hex characters identifying the key (not derived in a way that reveals it). */
  readonly id: string;
  /** HMAC-SHA256 of the UTF-8 message, lowercase hex. */
  mac(message: string): string;
}

class HmacAuditKey implements AuditKey {
  readonly id: string;
  // A KeyObject, made once: its bytes are not enumerable, printable or serialisable.
  readonly #key: KeyObject;

  constructor(bytes: Buffer) {
    this.#key = createSecretKey(bytes);
    this.id = this.mac(KEY_ID_LABEL).slice(0, 16);
  }

  mac(message: string): string {
    return createHmac('sha256', this.#key).update(message, 'utf8').digest('hex');
  }

  toJSON(): { id: string } {
    return { id: this.id };
  }

  [inspect.custom](): string {
    return `AuditKey { id: '${this.id}' }`;
  }
}

export function auditKeyFromBytes(bytes: Buffer): AuditKey {
  if (bytes.length !== AUDIT_KEY_BYTES) throw new AuditError('audit_key_invalid', `an audit key is ${AUDIT_KEY_BYTES} bytes, not ${bytes.length}`);
  return new HmacAuditKey(bytes);
}

/** A random key that lives only as long as the process: for in-memory databases (tests). */
export function ephemeralAuditKey(random: (n: number) => Buffer = randomBytes): AuditKey {
  return auditKeyFromBytes(random(AUDIT_KEY_BYTES));
}

export interface ReadAuditKeyOptions {
  /**
   * Refuse a file that group or others may read (as ssh does for private keys). The server sets
   * it; an operator checking a copy offline does not need to.
   */
  requirePrivate?: boolean;
}

/** Reads a key file: 64 hex characters, optionally followed by a newline. */
export function readAuditKeyFile(file: string, options: ReadAuditKeyOptions = {}): AuditKey {
  let text: string;
  try {
    if (options.requirePrivate && process.platform !== 'win32' && (statSync(file).mode & 0o077) !== 0) {
      throw new AuditError('audit_key_insecure', `the audit key file ${file} may be read by other users: run chmod 600 ${file}`, { file });
    }
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof AuditError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AuditError('audit_key_missing', `the audit key file ${file} does not exist`, { file });
    }
    throw new AuditError('audit_key_invalid', `cannot read the audit key file ${file}: ${(err as Error).message}`, { file });
  }
  const hex = text.trim();
  if (!KEY_FILE_PATTERN.test(hex)) {
    throw new AuditError('audit_key_invalid', `the audit key file ${file} must hold ${AUDIT_KEY_BYTES * 2} lowercase hex characters`, { file });
  }
  return auditKeyFromBytes(Buffer.from(hex, 'hex'));
}

/**
 * Creates a new key file, mode 0600, and returns the key. Refuses to overwrite an existing file
 * (O_EXCL): replacing a key would make every event written with it unverifiable.
 */
export function createAuditKeyFile(file: string, random: (n: number) => Buffer = randomBytes): AuditKey {
  const bytes = random(AUDIT_KEY_BYTES);
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeSync(fd, `${bytes.toString('hex')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  fsyncDirectory(dir);
  return auditKeyFromBytes(bytes);
}
