/**
 * The profiles shipped with Shellguard, read from `packages/protocol/profiles/*.yaml`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { ProtocolError } from '../errors.ts';
import { parseProfile, type EquipmentProfile } from './profile.ts';

export const BUILTIN_PROFILE_DIR = fileURLToPath(new URL('../../profiles/', import.meta.url));

export interface CatalogEntry {
  profile: EquipmentProfile;
  /** The file it was read from (attestation measures the profiles a guardian uses). */
  file: string;
}

/** Loads every `*.yaml` profile in a folder, keyed by profile id, with the file each came from. */
export function loadProfileCatalog(dir: string = BUILTIN_PROFILE_DIR): Map<string, CatalogEntry> {
  const out = new Map<string, CatalogEntry>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    const full = path.join(dir, file);
    const profile = parseProfile(readFileSync(full, 'utf8'), full);
    if (out.has(profile.id)) throw new ProtocolError('profile_duplicate', `profile id ${profile.id} is defined twice (${full})`);
    out.set(profile.id, { profile, file: full });
  }
  return out;
}

/** Loads every `*.yaml` profile in a folder, keyed by profile id. */
export function loadProfiles(dir: string = BUILTIN_PROFILE_DIR): Map<string, EquipmentProfile> {
  return new Map([...loadProfileCatalog(dir)].map(([id, e]) => [id, e.profile]));
}
