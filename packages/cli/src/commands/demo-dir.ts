/**
 * The demo's own folder. Every demo starts afresh (a new site PKI, admin token and guardians), so
 * it empties its folder at start — but only a folder it made itself, known by a marker file. A
 * folder with anything else in it is refused, never deleted: `--dir ~` must not cost anyone
 * their home directory.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ShellguardError } from '@shellguard/protocol';

/** Written into every folder the demo creates or adopts; its presence is the only licence to empty it. */
export const DEMO_MARKER_FILE = '.shellguard-demo';

const MARKER_TEXT = 'This folder belongs to `shellguard demo`, which empties it at every start.\n';

export type DemoDirErrorCode = 'demo_dir_foreign' | 'demo_dir_not_a_folder';

export class DemoDirError extends ShellguardError<DemoDirErrorCode> {}

/**
 * Makes `dir` an empty demo folder holding only the marker: creates it if missing, adopts it if
 * empty, empties it if it carries the marker, and refuses anything else. Returns the absolute path.
 */
export function prepareDemoDir(dir: string): string {
  const absolute = path.resolve(dir);
  const marker = path.join(absolute, DEMO_MARKER_FILE);
  if (existsSync(absolute)) {
    if (!statSync(absolute).isDirectory()) {
      throw new DemoDirError('demo_dir_not_a_folder', `${absolute} is not a folder: choose another --dir for the demo`, { dir: absolute });
    }
    const entries = readdirSync(absolute);
    if (entries.length > 0 && !entries.includes(DEMO_MARKER_FILE)) {
      throw new DemoDirError(
        'demo_dir_foreign',
        `${absolute} is not empty and was not made by shellguard demo (no ${DEMO_MARKER_FILE} in it); refusing to delete it: choose another --dir, or an empty or missing folder`,
        { dir: absolute },
      );
    }
    // Ours: remove what the last run left, entry by entry (a symbolic link is removed, not followed).
    for (const entry of entries) {
      if (entry !== DEMO_MARKER_FILE) rmSync(path.join(absolute, entry), { recursive: true, force: true });
    }
  } else {
    mkdirSync(absolute, { recursive: true, mode: 0o700 });
  }
  writeFileSync(marker, MARKER_TEXT, { mode: 0o600 });
  return absolute;
}
