/**
 * The equipment profiles a guardian can use: the shipped ones, and an operator's folder
 * (`profilesDir`) on top. What counts as a profile file, the order, the strict parse and the
 * duplicate rule are protocol's (profiles/catalog.ts); this is only the reading.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BUILTIN_PROFILE_DIR, parseProfileCatalog, profileFileNames, type ProfileCatalog } from '@shellguard/protocol';

/** Every profile in a folder (default: the shipped ones), keyed by id, with the file each came from. */
export function loadProfileCatalog(dir: string = BUILTIN_PROFILE_DIR): ProfileCatalog {
  return parseProfileCatalog(profileFileNames(readdirSync(dir)).map((name) => {
    const file = path.join(dir, name);
    return { file, text: readFileSync(file, 'utf8') };
  }));
}
