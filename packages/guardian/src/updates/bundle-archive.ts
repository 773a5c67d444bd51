/**
 * Release bundles as `.tar.gz` (issue 11): a deterministic writer, so the same release yields the
 * same bytes (and the same TUF target hash) on any build machine, and a *safe* extractor, because
 * an archive is attacker-controlled input until its hash has been checked — and we want it to be
 * harmless even after that.
 *
 * Format: POSIX ustar (IEEE Std 1003.1-2001, `pax` interchange format without extended headers),
 * only regular files and directories. Writer: entries sorted by name, every parent directory
 * listed, mtime 0, uid/gid 0, no user or group names, modes 0644 (0755 for executables and
 * directories), gzip level 9 with no name and mtime 0 in its header (RFC 1952 §2.3).
 *
 * Extractor: refuses absolute names, `..` and `.` segments, backslashes, links (hard and
 * symbolic), devices, FIFOs, pax and GNU extension headers, entries or totals over a limit,
 * duplicate names, files under a file, bad checksums and truncated archives; it writes only into
 * a directory it creates itself (which must not exist yet), with exclusive-create file opens.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ProtocolError, ShellguardError, parseBundleManifest as parseManifest, type BundleManifest } from '@shellguard/protocol';

export type BundleArchiveErrorCode =
  | 'archive_corrupt'
  | 'archive_truncated'
  | 'archive_too_large'
  | 'entry_too_large'
  | 'too_many_entries'
  | 'unsafe_path'
  | 'unsupported_entry'
  | 'duplicate_entry'
  | 'destination_exists'
  | 'manifest_missing'
  | 'manifest_invalid'
  | 'invalid_entry';

export class BundleArchiveError extends ShellguardError<BundleArchiveErrorCode> {}

export interface ArchiveEntry {
  /** Relative name with forward slashes, e.g. `protocol/profiles/ahu.yaml`. */
  name: string;
  data: Uint8Array;
  /** Mode 0755 instead of 0644. */
  executable?: boolean;
}

export interface ExtractLimits {
  /** Largest single file (bytes). */
  maxEntryBytes: number;
  /** Largest sum of file sizes (bytes); also bounds the decompressed tar stream. */
  maxTotalBytes: number;
  maxEntries: number;
}

export const DEFAULT_EXTRACT_LIMITS: ExtractLimits = {
  maxEntryBytes: 64 * 1024 * 1024,
  maxTotalBytes: 256 * 1024 * 1024,
  maxEntries: 10_000,
};

export interface ExtractedEntry {
  name: string;
  type: 'file' | 'directory';
  size: number;
}

const BLOCK = 512;
const MANIFEST_NAME = 'manifest.json';

// ----------------------------------------------------------------------------------- names

/** A name is a relative path of plain segments; refused otherwise (the Zip Slip family). */
function checkName(name: string): string[] {
  const unsafe = (why: string): never => {
    throw new BundleArchiveError('unsafe_path', `archive entry "${name}" is refused: ${why}`, { name });
  };
  if (name.length === 0) unsafe('empty name');
  if (name.includes('\0')) unsafe('NUL in name');
  if (name.includes('\\')) unsafe('backslash in name');
  if (name.startsWith('/')) unsafe('absolute path');
  if (/^[A-Za-z]:/.test(name)) unsafe('drive letter');
  const segments = name.split('/');
  for (const s of segments) {
    if (s === '..') unsafe('".." segment');
    if (s === '.') unsafe('"." segment');
    if (s === '') unsafe('empty segment');
  }
  return segments;
}

// ----------------------------------------------------------------------------------- writer

function writeString(block: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new BundleArchiveError('invalid_entry', `"${value}" does not fit a ${length}-byte tar field`);
  bytes.copy(block, offset);
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  // length-1 octal digits then NUL (POSIX ustar numeric fields).
  const digits = value.toString(8).padStart(length - 1, '0');
  if (digits.length > length - 1) throw new BundleArchiveError('entry_too_large', `${value} does not fit a ${length}-byte tar field`);
  writeString(block, offset, length, `${digits}\0`);
}

/** Splits a long name over ustar's prefix (155) and name (100) fields at a slash. */
function splitName(name: string): { prefix: string; base: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', base: name };
  for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) {
    const prefix = name.slice(0, i);
    const base = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(base) <= 100) return { prefix, base };
  }
  throw new BundleArchiveError('invalid_entry', `archive name is too long for ustar: ${name}`, { name });
}

function header(name: string, type: '0' | '5', size: number, mode: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  const { prefix, base } = splitName(name);
  writeString(block, 0, 100, base);
  writeOctal(block, 100, 8, mode);
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, 0); // mtime
  block.fill(0x20, 148, 156); // checksum computed with its own field as spaces
  block.write(type, 156, 'latin1');
  writeString(block, 257, 6, 'ustar\0');
  writeString(block, 263, 2, '00');
  writeOctal(block, 329, 8, 0); // devmajor
  writeOctal(block, 337, 8, 0); // devminor
  writeString(block, 345, 155, prefix);
  let sum = 0;
  for (const b of block) sum += b;
  writeString(block, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return block;
}

/**
 * The tar.gz of these files: same entries, same bytes. Parent directories are added; names are
 * checked like the extractor checks them, so the writer can never make an archive we refuse.
 */
export function writeBundleArchive(entries: readonly ArchiveEntry[]): Buffer {
  const files = new Map<string, ArchiveEntry>();
  const dirs = new Set<string>();
  for (const e of entries) {
    const segments = checkName(e.name);
    if (files.has(e.name) || dirs.has(e.name)) throw new BundleArchiveError('duplicate_entry', `archive entry "${e.name}" is given twice`, { name: e.name });
    files.set(e.name, e);
    for (let i = 1; i < segments.length; i++) dirs.add(segments.slice(0, i).join('/'));
  }
  for (const d of dirs) {
    if (files.has(d)) throw new BundleArchiveError('duplicate_entry', `"${d}" is both a file and a folder`, { name: d });
  }
  // Byte order, not locale order: the same on every machine.
  const names = [...[...dirs].map((d) => `${d}/`), ...files.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const parts: Buffer[] = [];
  for (const name of names) {
    if (name.endsWith('/')) {
      parts.push(header(name, '5', 0, 0o755));
      continue;
    }
    const e = files.get(name)!;
    parts.push(header(name, '0', e.data.length, e.executable ? 0o755 : 0o644));
    parts.push(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
    const pad = (BLOCK - (e.data.length % BLOCK)) % BLOCK;
    if (pad > 0) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  // Node's gzip header carries no file name and mtime 0; level and strategy fixed. The OS byte
  // (RFC 1952 §2.3.1) is zlib's build-time guess: fixed to 3 (Unix) so macOS builds match too.
  const gz = gzipSync(Buffer.concat(parts), { level: 9 });
  gz[9] = 3;
  return gz;
}

/**
 * Every regular file under `dir` as an archive entry, optionally under a prefix. Symbolic links
 * and other special files are refused: a bundle ships what it contains, never a pointer.
 */
export async function directoryEntries(dir: string, prefix = ''): Promise<ArchiveEntry[]> {
  const out: ArchiveEntry[] = [];
  const walk = async (abs: string, rel: string): Promise<void> => {
    for (const name of (await readdir(abs)).sort()) {
      const full = path.join(abs, name);
      const relName = rel ? `${rel}/${name}` : name;
      const st = await lstat(full);
      if (st.isDirectory()) await walk(full, relName);
      else if (st.isFile()) out.push({ name: relName, data: await readFile(full), executable: (st.mode & 0o111) !== 0 });
      else throw new BundleArchiveError('unsupported_entry', `${full} is not a regular file or folder`, { name: relName });
    }
  };
  await walk(dir, prefix.replace(/\/+$/, ''));
  return out;
}

// ----------------------------------------------------------------------------------- reader

interface TarEntry {
  name: string;
  type: 'file' | 'directory';
  data: Buffer;
}

function readString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

function readOctal(block: Buffer, offset: number, length: number, what: string): number {
  const text = block.subarray(offset, offset + length).toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  // Base-256 (GNU) sizes start with 0x80; we never write them and refuse them.
  if (!/^[0-7]{1,12}$/.test(text)) throw new BundleArchiveError('archive_corrupt', `tar header ${what} is not an octal number`);
  return parseInt(text, 8);
}

const TYPE_NAMES: Record<string, string> = {
  '1': 'hard link', '2': 'symbolic link', '3': 'character device', '4': 'block device', '6': 'FIFO', '7': 'contiguous file',
  x: 'pax extended header', g: 'pax global header', L: 'GNU long name', K: 'GNU long link name',
};

function gunzipBounded(bytes: Uint8Array, limits: ExtractLimits): Buffer {
  // The tar stream is the files plus one header (and padding) per entry, plus the end blocks.
  const maxTar = limits.maxTotalBytes + (limits.maxEntries + 1) * 2 * BLOCK + 2 * BLOCK;
  try {
    return gunzipSync(bytes, { maxOutputLength: maxTar });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || (err instanceof RangeError)) {
      throw new BundleArchiveError('archive_too_large', `archive expands beyond ${maxTar} bytes`, { limit: maxTar });
    }
    throw new BundleArchiveError('archive_corrupt', `archive is not valid gzip: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Parses and checks every entry; nothing is written. */
function readTar(bytes: Uint8Array, limits: ExtractLimits): TarEntry[] {
  const tar = gunzipBounded(bytes, limits);
  const entries: TarEntry[] = [];
  const kinds = new Map<string, 'file' | 'directory'>();
  const explicit = new Set<string>();
  let total = 0;
  let offset = 0;
  for (;;) {
    if (offset + BLOCK > tar.length) throw new BundleArchiveError('archive_truncated', 'archive ends without its end-of-archive blocks');
    const block = tar.subarray(offset, offset + BLOCK);
    if (block.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
    if (readOctal(block, 148, 8, 'checksum') !== sum) throw new BundleArchiveError('archive_corrupt', `tar header at byte ${offset} has a bad checksum`);
    if (readString(block, 257, 6) !== 'ustar') throw new BundleArchiveError('archive_corrupt', `tar header at byte ${offset} is not ustar`);
    const typeflag = String.fromCharCode(block[156]!);
    const prefix = readString(block, 345, 155);
    const rawName = prefix ? `${prefix}/${readString(block, 0, 100)}` : readString(block, 0, 100);
    const size = readOctal(block, 124, 12, 'size');
    let type: TarEntry['type'];
    if (typeflag === '0' || typeflag === '\0') type = 'file';
    else if (typeflag === '5') type = 'directory';
    else {
      throw new BundleArchiveError('unsupported_entry', `archive entry "${rawName}" is a ${TYPE_NAMES[typeflag] ?? `type ${JSON.stringify(typeflag)} entry`}; only files and folders are allowed`, {
        name: rawName, typeflag,
      });
    }
    const name = type === 'directory' ? rawName.replace(/\/$/, '') : rawName;
    const segments = checkName(name);
    if (entries.length >= limits.maxEntries) throw new BundleArchiveError('too_many_entries', `archive has more than ${limits.maxEntries} entries`, { limit: limits.maxEntries });
    if (type === 'directory' && size !== 0) throw new BundleArchiveError('archive_corrupt', `folder entry "${name}" has a size`);
    if (size > limits.maxEntryBytes) {
      throw new BundleArchiveError('entry_too_large', `archive entry "${name}" is ${size} bytes, over the ${limits.maxEntryBytes} byte limit`, { name, size, limit: limits.maxEntryBytes });
    }
    total += size;
    if (total > limits.maxTotalBytes) {
      throw new BundleArchiveError('archive_too_large', `archive content exceeds ${limits.maxTotalBytes} bytes`, { limit: limits.maxTotalBytes });
    }
    // Every parent must be a folder (explicit or implied), never a file of the archive.
    for (let i = 1; i < segments.length; i++) {
      const parent = segments.slice(0, i).join('/');
      if (kinds.get(parent) === 'file') throw new BundleArchiveError('duplicate_entry', `archive entry "${name}" lies under the file "${parent}"`, { name });
      if (!kinds.has(parent)) kinds.set(parent, 'directory');
    }
    const seen = kinds.get(name);
    if (explicit.has(name) || (seen !== undefined && (seen === 'file' || type === 'file'))) {
      throw new BundleArchiveError('duplicate_entry', `archive entry "${name}" appears more than once`, { name });
    }
    kinds.set(name, type);
    explicit.add(name);
    const start = offset + BLOCK;
    const end = start + size;
    if (end > tar.length) throw new BundleArchiveError('archive_truncated', `archive entry "${name}" is cut short`, { name });
    entries.push({ name, type, data: tar.subarray(start, end) });
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  return entries;
}

/**
 * Extracts into `destDir`, which must not exist (its parent must). Files get mode 0644, folders
 * 0755, whatever the archive says: a bundle needs no other permissions. On a refusal nothing has
 * been written, because the whole archive is checked before the first file is created.
 */
export function extractBundleArchive(bytes: Uint8Array, destDir: string, limits: ExtractLimits = DEFAULT_EXTRACT_LIMITS): ExtractedEntry[] {
  const entries = readTar(bytes, limits);
  const root = path.resolve(destDir);
  try {
    mkdirSync(root, { mode: 0o755 });
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new BundleArchiveError('destination_exists', code === 'EEXIST'
      ? `${root} already exists; a bundle is only extracted into a fresh folder`
      : `cannot create ${root}: ${err instanceof Error ? err.message : String(err)}`, { destDir: root });
  }
  const made = new Set<string>(['']);
  const ensureDir = (rel: string): void => {
    if (made.has(rel)) return;
    ensureDir(path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel));
    mkdirSync(path.join(root, ...rel.split('/')), { mode: 0o755 });
    made.add(rel);
  };
  const out: ExtractedEntry[] = [];
  for (const e of entries) {
    const target = path.join(root, ...e.name.split('/'));
    // Belt and braces: the checked name cannot leave the root.
    if (!target.startsWith(root + path.sep)) throw new BundleArchiveError('unsafe_path', `archive entry "${e.name}" leaves the destination`, { name: e.name });
    if (e.type === 'directory') {
      ensureDir(e.name);
    } else {
      const parent = path.posix.dirname(e.name);
      ensureDir(parent === '.' ? '' : parent);
      // wx: exclusive create, never through an existing file or link.
      const fd = openSync(target, 'wx', 0o644);
      try {
        let written = 0;
        while (written < e.data.length) written += writeSync(fd, e.data, written, e.data.length - written);
      } finally {
        closeSync(fd);
      }
    }
    out.push({ name: e.name, type: e.type, size: e.data.length });
  }
  return out;
}

/** The files of an archive in memory (checked like extraction), by name. */
export function readBundleFiles(bytes: Uint8Array, limits: ExtractLimits = DEFAULT_EXTRACT_LIMITS): Map<string, Buffer> {
  return new Map(readTar(bytes, limits).filter((e) => e.type === 'file').map((e) => [e.name, e.data]));
}

/** Checks the shape of a bundle's manifest.json. */
/** A bundle's manifest.json, checked by the one definition in protocol (BundleArchiveError `manifest_invalid`). */
export function parseBundleManifest(x: unknown): BundleManifest {
  try {
    return parseManifest(x, 'bundle manifest.json');
  } catch (err) {
    if (err instanceof ProtocolError) throw new BundleArchiveError('manifest_invalid', err.message);
    throw err;
  }
}

/** The `manifest.json` at the root of a bundle archive, checked; the archive is checked as a whole first. */
export function readBundleManifest(archiveBytes: Uint8Array, limits: ExtractLimits = DEFAULT_EXTRACT_LIMITS): BundleManifest {
  const file = readBundleFiles(archiveBytes, limits).get(MANIFEST_NAME);
  if (!file) throw new BundleArchiveError('manifest_missing', `bundle has no ${MANIFEST_NAME} at its root`);
  let json: unknown;
  try {
    json = JSON.parse(file.toString('utf8'));
  } catch {
    throw new BundleArchiveError('manifest_invalid', `bundle ${MANIFEST_NAME} is not valid JSON`);
  }
  return parseBundleManifest(json);
}
