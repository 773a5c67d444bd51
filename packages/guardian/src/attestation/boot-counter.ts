/**
 * The boot counter reported as the EAT `bootcount` (RFC 9711 §4.3.3): how many times this
 * guardian has started with this data directory. It is persisted in `<dataDir>/bootcount` and
 * replaced atomically (temp file + rename), so a power cut leaves either the old or the new count.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';

export const BOOT_COUNT_FILE = 'bootcount';

/** The stored count, or 0 if none (or unreadable: a lost count must not stop the guardian). */
export function readBootCount(dataDir: string): number {
  let text: string;
  try {
    text = readFileSync(path.join(dataDir, BOOT_COUNT_FILE), 'utf8').trim();
  } catch {
    return 0;
  }
  const n = Number(text);
  return /^\d+$/.test(text) && Number.isSafeInteger(n) ? n : 0;
}

/** Adds one start to the counter and returns the new count. Call once per guardian start. */
export function incrementBootCount(dataDir: string): number {
  const next = readBootCount(dataDir) + 1;
  writeFileAtomically(path.join(dataDir, BOOT_COUNT_FILE), `${next}\n`);
  return next;
}

/** Writes a file so that readers see the old or the new content, never a half-written one. */
export function writeFileAtomically(file: string, content: string, mode = 0o600): void {
  const temp = `${file}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
}
