/**
 * Target bytes as files in a directory, one per SHA-256 (the embedded server's choice; see
 * target-blobs.ts).
 *
 * Why files and not BLOBs on SQLite: bundles are tens of megabytes. As BLOBs each upload would pass
 * twice through the WAL of the database every other domain shares (and bloat its backups and
 * checkpoints). As immutable files named by their SHA-256 they stream with a known length,
 * deduplicate by themselves, and are written once: temporary file, fsync, rename, fsync of the
 * directory, so a crash leaves either no file or the whole file. A blob whose metadata then failed
 * to commit is an unreferenced file: harmless (nothing serves a blob that no stored target names)
 * and reclaimable.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fsyncDirectory } from '../audit/fsync-directory.ts';
import { SHA256_HEX, type TargetBlobs } from './target-blobs.ts';

export class FileTargetBlobs implements TargetBlobs {
  /** `blobDir` is created (0700) if missing. */
  constructor(private readonly blobDir: string) {
    mkdirSync(blobDir, { recursive: true, mode: 0o700 });
  }

  async put(bytes: Uint8Array): Promise<{ sha256: string; length: number }> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const file = this.blobPath(sha256);
    if (existsSync(file) && statSync(file).size === bytes.length) return { sha256, length: bytes.length };
    const tmp = path.join(this.blobDir, `.${sha256}.${randomBytes(6).toString('hex')}.tmp`);
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      let offset = 0;
      while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      unlinkSync(tmp);
      throw err;
    }
    closeSync(fd);
    renameSync(tmp, file);
    fsyncDirectory(this.blobDir);
    return { sha256, length: bytes.length };
  }

  async has(sha256: string): Promise<boolean> {
    return SHA256_HEX.test(sha256) && existsSync(this.blobPath(sha256));
  }

  async open(sha256: string): Promise<{ length: number; stream: Readable } | undefined> {
    if (!SHA256_HEX.test(sha256)) return undefined;
    const file = this.blobPath(sha256);
    let length: number;
    try {
      length = statSync(file).size;
    } catch {
      return undefined;
    }
    return { length, stream: createReadStream(file) };
  }

  private blobPath(sha256: string): string {
    return path.join(this.blobDir, sha256);
  }
}
