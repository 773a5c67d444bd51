/**
 * The equipment profiles the server knows (alarm rules and analytics read points through them).
 * What counts as a profile file, the order, the strict parse and the duplicate rule are
 * protocol's (profiles/catalog.ts); this is only the reading.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BUILTIN_PROFILE_DIR, catalogProfiles, parseProfileCatalog, profileFileNames, type EquipmentProfile } from '@shellguard/protocol';

/** Every profile in a folder (default: the shipped ones), keyed by id. */
export function loadProfiles(dir: string = BUILTIN_PROFILE_DIR): Map<string, EquipmentProfile> {
  return catalogProfiles(parseProfileCatalog(profileFileNames(readdirSync(dir)).map((name) => {
    const file = path.join(dir, name);
    return { file, text: readFileSync(file, 'utf8') };
  })));
}
