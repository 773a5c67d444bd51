/**
 * Measurements of what this guardian runs (RFC 9711 §4.2.16 `measurements`): SHA-256 digests of
 * the runtime binary, the guardian's code, its configuration and the equipment profiles it loaded.
 * The verifier compares them with the reference values of the releases registered for the
 * device's group, so every digest here must be reproducible on another machine from the same
 * release: paths inside a digest are relative and sorted, never absolute.
 *
 * Files are streamed through the hash; a large runtime binary is never held in memory.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Measurement } from '@shellguard/protocol';
// Inlined by the build, so a bundle needs no package.json beside it.
import guardianPackage from '../../package.json' with { type: 'json' };

/** The EAT `swname` of this software (RFC 9711 §4.2.6); releases are registered under it. */
export const GUARDIAN_SWNAME = 'shellguard-guardian';

/** The component names the verifier requires (issue 3). */
export const MeasuredComponents = {
  runtime: 'runtime',
  guardianBundle: 'guardian-bundle',
  config: 'config',
  profiles: 'profiles',
} as const;

export interface MeasureGuardianOptions {
  /** The guardian's configuration file, measured byte for byte. */
  configFile: string;
  /** The equipment profile files the guardian loaded (built-in and site ones). */
  profileFiles: string[];
  /** Code folders measured together as `guardian-bundle`; see defaultBundleDirs(). */
  bundleDirs: string[];
  /** The node binary; default process.execPath. */
  runtimePath?: string;
}

/** Lowercase hex SHA-256 of a file's bytes, streamed. */
export async function digestFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Directory recursion depth we follow at most (a symlink loop must not hang the guardian). */
const MAX_DEPTH = 32;

async function listFiles(root: string, dir: string, depth: number, out: string[]): Promise<void> {
  if (depth > MAX_DEPTH) return;
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    // Follow symlinks: what matters is what node would load through them.
    const kind = entry.isSymbolicLink() ? await stat(full) : entry;
    if (kind.isDirectory()) await listFiles(root, full, depth + 1, out);
    else if (kind.isFile()) out.push(full);
  }
}

/**
 * One digest over a set of named files: SHA-256 of the lines `<name>\0<sha256(content)>\n`,
 * sorted by name. Names are what makes the digest portable (relative paths, basenames).
 */
async function digestNamedFiles(files: { name: string; file: string }[]): Promise<string> {
  const entries: string[] = [];
  for (const { name, file } of files) entries.push(`${name}\0${await digestFile(file)}\n`);
  entries.sort();
  const hash = createHash('sha256');
  for (const e of entries) hash.update(e);
  return hash.digest('hex');
}

/**
 * The file at the root of a built release bundle (scripts/build/release.ts): its BundleManifest,
 * which holds this very digest as the reference value, so it is never measured itself.
 */
export const BUNDLE_MANIFEST_FILE = 'manifest.json';

/** A folder with a bundle manifest at its root is an installed release bundle. */
function isBundleRoot(dir: string): boolean {
  return existsSync(path.join(dir, BUNDLE_MANIFEST_FILE));
}

/**
 * Digest over every regular file under the given folders, so the same release yields the same
 * digest wherever it is installed:
 *  - a source folder is named `<folder's parent basename>/<folder basename>/<relative path>`
 *    (`guardian/src/uplink/uplink.ts`);
 *  - a release bundle root (it has a manifest.json) is named by the path relative to it
 *    (`guardian.mjs`, `protocol/profiles/ahu.yaml`), without the slot folder it is installed in,
 *    and without the manifest itself.
 */
export async function digestTrees(dirs: string[]): Promise<string> {
  const named: { name: string; file: string }[] = [];
  for (const dir of dirs) {
    const root = path.resolve(dir);
    const files: string[] = [];
    await listFiles(root, root, 0, files);
    const bundle = isBundleRoot(root);
    const prefix = bundle ? '' : `${path.basename(path.dirname(root))}/${path.basename(root)}/`;
    for (const file of files) {
      const rel = path.relative(root, file).split(path.sep).join('/');
      if (bundle && rel === BUNDLE_MANIFEST_FILE) continue;
      named.push({ name: `${prefix}${rel}`, file });
    }
  }
  return digestNamedFiles(named);
}

/** Digest over a set of files named by their basenames (profiles live in different folders). */
export async function digestFileSet(files: string[]): Promise<string> {
  return digestNamedFiles(files.map((file) => ({ name: path.basename(file), file })));
}

/**
 * Where the running guardian's code is, when it runs from a built bundle; undefined from the
 * source tree (tsx, vitest). The build keeps every module's `import.meta.url` as it is in the
 * source tree, relative to the bundle root (scripts/build/esbuild-plugins.ts), so built, this
 * module "is" `<root>/guardian/src/attestation/measure.ts`, a file that exists only in the tree.
 */
export function builtBundleRoot(): string | undefined {
  if (existsSync(fileURLToPath(import.meta.url))) return undefined;
  return path.resolve(fileURLToPath(new URL('../../../', import.meta.url)));
}

/**
 * The code a guardian runs: from a built bundle, the bundle root (its JS and shipped files);
 * from the source tree, the `src` folders of the guardian and protocol packages.
 */
export function defaultBundleDirs(): string[] {
  const built = builtBundleRoot();
  if (built !== undefined) return [built];
  const guardianSrc = fileURLToPath(new URL('../', import.meta.url));
  const protocolSrc = fileURLToPath(new URL('../../../protocol/src/', import.meta.url));
  return [guardianSrc, protocolSrc].map((d) => path.resolve(d));
}

/** The guardian package's version (its package.json), reported as the EAT `swversion`. */
export function guardianPackageVersion(): string {
  const version: unknown = (guardianPackage as { version?: unknown }).version;
  if (typeof version !== 'string') throw new Error('guardian package.json has no version');
  return version;
}

/** Measures the four components the verifier requires, in a fixed order. */
export async function measureGuardian(options: MeasureGuardianOptions): Promise<Measurement[]> {
  const runtimePath = options.runtimePath ?? process.execPath;
  return [
    { component: MeasuredComponents.runtime, digest: await digestFile(runtimePath) },
    { component: MeasuredComponents.guardianBundle, digest: await digestTrees(options.bundleDirs) },
    { component: MeasuredComponents.config, digest: await digestFile(options.configFile) },
    { component: MeasuredComponents.profiles, digest: await digestFileSet(options.profileFiles) },
  ];
}
