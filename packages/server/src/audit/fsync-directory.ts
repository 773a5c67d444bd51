import { closeSync, fsyncSync, openSync } from 'node:fs';

/**
 * Makes a new directory entry durable: a file's own fsync covers its bytes, not its name
 * (fsync(2): "an explicit fsync() on a file descriptor for the directory is also needed").
 */
export function fsyncDirectory(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
