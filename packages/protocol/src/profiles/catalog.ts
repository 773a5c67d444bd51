/**
 * A profile catalog: the profiles a guardian, the server or the simulator knows, keyed by id,
 * each with the file it came from (attestation measures the profile files a guardian uses).
 *
 * Pure, like the rest of this package (ARCHITECTURE.md §1): the packages that run somewhere read
 * the files (their `loadProfileCatalog` over node:fs) and hand the text here, so which files
 * count, in which order, how they parse and what a duplicate id means are decided once.
 */
import { fileURLToPath } from 'node:url';
import { ProtocolError } from '../errors.ts';
import { parseProfile, type EquipmentProfile } from './profile.ts';

/**
 * Where the profiles shipped with Shellguard are: `packages/protocol/profiles/` in the tree,
 * `<bundle>/protocol/profiles/` in a built bundle (scripts/build/bundle.ts keeps this URL).
 * Only a location; nothing here reads it.
 */
export const BUILTIN_PROFILE_DIR = fileURLToPath(new URL('../../profiles/', import.meta.url));

/** One profile file as read: its path (for messages and measurement) and its text. */
export interface ProfileSource {
  file: string;
  text: string;
}

export interface CatalogEntry {
  profile: EquipmentProfile;
  /** The file it was read from (attestation measures the profiles a guardian uses). */
  file: string;
}

export type ProfileCatalog = Map<string, CatalogEntry>;

/** Whether a folder entry is a profile file (`*.yaml`). */
export function isProfileFileName(name: string): boolean {
  return name.endsWith('.yaml');
}

/** The profile files among a folder's entries, in the order a catalog reads them. */
export function profileFileNames(names: Iterable<string>): string[] {
  return [...names].filter(isProfileFileName).sort();
}

/** Parses every source strictly (parseProfile); an id defined twice is refused, not overridden. */
export function parseProfileCatalog(sources: Iterable<ProfileSource>): ProfileCatalog {
  const out: ProfileCatalog = new Map();
  for (const { file, text } of sources) {
    const profile = parseProfile(text, file);
    if (out.has(profile.id)) throw new ProtocolError('profile_duplicate', `profile id ${profile.id} is defined twice (${file})`);
    out.set(profile.id, { profile, file });
  }
  return out;
}

/** The profiles of a catalog, keyed by id. */
export function catalogProfiles(catalog: ProfileCatalog): Map<string, EquipmentProfile> {
  return new Map([...catalog].map(([id, e]) => [id, e.profile]));
}
