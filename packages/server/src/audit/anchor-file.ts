/**
 * The anchor file: one signed anchor per line, only ever appended to. It is opened with O_APPEND
 * (every write lands at the end, whatever another writer did) and each line is fsync'd before
 * the anchor counts as written. It should live where the database's attacker is less likely to
 * reach (another disk, a WORM mount, a log shipper's input); its default is beside the database.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import path from 'node:path';
import { AuditError } from './audit-error.ts';
import { fsyncDirectory } from './fsync-directory.ts';

export class AnchorFile {
  readonly path: string;
  private fd: number | undefined;

  private constructor(file: string, fd: number) {
    this.path = file;
    this.fd = fd;
  }

  /** Opens (creating, mode 0600) for appending. */
  static open(file: string): AnchorFile {
    try {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      const created = !existsSync(file);
      const fd = openSync(file, 'a', 0o600);
      if (created) fsyncDirectory(path.dirname(file));
      const anchors = new AnchorFile(file, fd);
      anchors.endTornLine();
      return anchors;
    } catch (err) {
      throw new AuditError('audit_anchor_unwritable', `cannot open the audit anchor file ${file}: ${(err as Error).message}`, { file });
    }
  }

  /** Appends one line and makes it durable before returning. */
  append(line: string): void {
    if (this.fd === undefined) throw new AuditError('audit_anchor_unwritable', `the audit anchor file ${this.path} is closed`, { file: this.path });
    writeSync(this.fd, `${line}\n`);
    fsyncSync(this.fd);
  }

  /** The lines written so far (by anyone), or null when the file does not exist. */
  readLines(): string[] | null {
    return readAnchorLines(this.path);
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  /**
   * A crash in the middle of a write can leave a last line without its newline; end it, so the
   * next anchor is a line of its own and verification reports the torn one by itself.
   */
  private endTornLine(): void {
    const size = fstatSync(this.fd!).size;
    if (size === 0) return;
    const last = Buffer.alloc(1);
    const reader = openSync(this.path, 'r');
    try {
      readSync(reader, last, 0, 1, size - 1);
    } finally {
      closeSync(reader);
    }
    if (last[0] !== 0x0a) this.append('');
  }
}

/** The lines of an anchor file, empty ones included (index + 1 = line number), or null when it does not exist. */
export function readAnchorLines(file: string): string[] | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return text.split('\n');
}
