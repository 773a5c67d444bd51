import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BundleArchiveError, directoryEntries, extractBundleArchive, readBundleFiles, readBundleManifest, writeBundleArchive, type ArchiveEntry,
} from '../../src/updates/bundle-archive.ts';

/** A raw ustar header with whatever a hostile archive wants in it. */
function rawHeader(name: string, opts: { type?: string; size?: number; linkname?: string; prefix?: string } = {}): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write('0000644\0', 100, 'latin1');
  b.write('0000000\0', 108, 'latin1');
  b.write('0000000\0', 116, 'latin1');
  b.write(`${(opts.size ?? 0).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  b.write('00000000000\0', 136, 'latin1');
  b.fill(0x20, 148, 156);
  b.write(opts.type ?? '0', 156, 'latin1');
  if (opts.linkname) b.write(opts.linkname, 157, 100, 'utf8');
  b.write('ustar\0', 257, 'latin1');
  b.write('00', 263, 'latin1');
  if (opts.prefix) b.write(opts.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const x of b) sum += x;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

function rawFile(name: string, content: string | Buffer, opts: { type?: string; linkname?: string; prefix?: string } = {}): Buffer {
  const data = Buffer.from(content);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([rawHeader(name, { ...opts, size: data.length }), data, pad]);
}

const END = Buffer.alloc(1024);
const tgz = (...parts: Buffer[]) => gzipSync(Buffer.concat([...parts, END]));

describe('bundle archives', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-archive-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const entries: ArchiveEntry[] = [
    { name: 'guardian.mjs', data: Buffer.from('console.log(1);\n') },
    { name: 'protocol/profiles/ahu.yaml', data: Buffer.from('id: ahu\n') },
    { name: 'bin/run', data: Buffer.from('#!/bin/sh\n'), executable: true },
    { name: 'manifest.json', data: Buffer.from(JSON.stringify({ product: 'p', stream: 'application', version: '1.0.0', components: [{ component: 'guardian-bundle', digest: 'ab'.repeat(32) }], platform: 'any', nodeAbi: 'any' })) },
  ];

  describe('writeBundleArchive', () => {
    it('writes the same bytes for the same files, whatever order they are given in', () => {
      const a = writeBundleArchive(entries);
      const b = writeBundleArchive([...entries].reverse());
      expect(createHash('sha256').update(a).digest('hex')).toBe(createHash('sha256').update(b).digest('hex'));
    });

    it('writes a ustar archive that GNU tar lists with sorted names, mtime 0, root owner and fixed modes', () => {
      const file = path.join(dir, 'x.tar.gz');
      writeFileSync(file, writeBundleArchive(entries));
      let listing: string;
      try {
        listing = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvzf', file], { encoding: 'utf8' });
      } catch {
        return; // no tar on this machine: the round trip below still checks the format
      }
      const lines = listing.trim().split('\n');
      expect(lines.map((l) => l.split(/\s+/).at(-1))).toEqual(['bin/', 'bin/run', 'guardian.mjs', 'manifest.json', 'protocol/', 'protocol/profiles/', 'protocol/profiles/ahu.yaml']);
      for (const l of lines) expect(l).toMatch(/^(-rw-r--r--|-rwxr-xr-x|drwxr-xr-x) 0\/0 .* 1970-01-01 /);
      expect(lines.find((l) => l.endsWith(' bin/run'))).toMatch(/^-rwxr-xr-x/);
    });

    it('round-trips through the extractor, with long names split over the ustar prefix', () => {
      const long = `${'deep/'.repeat(30)}file.txt`;
      const bytes = writeBundleArchive([...entries, { name: long, data: Buffer.alloc(1500, 1) }]);
      const dest = path.join(dir, 'out');
      const got = extractBundleArchive(bytes, dest);
      expect(got.filter((e) => e.type === 'file').map((e) => e.name).sort()).toEqual([...entries.map((e) => e.name), long].sort());
      expect(readFileSync(path.join(dest, 'protocol/profiles/ahu.yaml'), 'utf8')).toBe('id: ahu\n');
      expect(readFileSync(path.join(dest, ...long.split('/')))).toEqual(Buffer.alloc(1500, 1));
      expect(lstatSync(path.join(dest, 'guardian.mjs')).mode & 0o777).toBe(0o644);
    });

    it('refuses names the extractor would refuse, and a name given twice', () => {
      expect(() => writeBundleArchive([{ name: '../x', data: Buffer.alloc(0) }])).toThrow(expect.objectContaining({ code: 'unsafe_path' }));
      expect(() => writeBundleArchive([entries[0]!, entries[0]!])).toThrow(expect.objectContaining({ code: 'duplicate_entry' }));
    });

    it('packs a folder and refuses a symbolic link in it', async () => {
      mkdirSync(path.join(dir, 'tree', 'sub'), { recursive: true });
      writeFileSync(path.join(dir, 'tree', 'sub', 'a.txt'), 'a');
      expect((await directoryEntries(path.join(dir, 'tree'), 'root')).map((e) => e.name)).toEqual(['root/sub/a.txt']);
      symlinkSync('/etc/passwd', path.join(dir, 'tree', 'link'));
      await expect(directoryEntries(path.join(dir, 'tree'))).rejects.toMatchObject({ code: 'unsupported_entry' });
    });
  });

  describe('extractBundleArchive', () => {
    const refuses = (bytes: Buffer, code: string, limits?: Parameters<typeof extractBundleArchive>[2]) => {
      const dest = path.join(dir, `dest-${Math.random().toString(36).slice(2)}`);
      let err: unknown;
      try {
        extractBundleArchive(bytes, dest, limits);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BundleArchiveError);
      expect((err as BundleArchiveError).code).toBe(code);
      // Checked as a whole before anything is written.
      expect(existsSync(dest)).toBe(false);
      return err as BundleArchiveError;
    };

    it('refuses an absolute path', () => {
      expect(refuses(tgz(rawFile('/etc/cron.d/x', 'evil')), 'unsafe_path').message).toMatch(/absolute/);
    });

    it('refuses ".." anywhere in a name, also through the ustar prefix', () => {
      refuses(tgz(rawFile('../../home/x/.bashrc', 'evil')), 'unsafe_path');
      refuses(tgz(rawFile('a/../../x', 'evil')), 'unsafe_path');
      refuses(tgz(rawFile('x', 'evil', { prefix: 'ok/..' })), 'unsafe_path');
    });

    it('refuses backslashes and "." segments', () => {
      refuses(tgz(rawFile('..\\x', 'evil')), 'unsafe_path');
      refuses(tgz(rawFile('./a/./b', 'evil')), 'unsafe_path');
    });

    it('refuses symbolic links, hard links, devices and FIFOs', () => {
      expect(refuses(tgz(rawFile('link', '', { type: '2', linkname: '/etc/shadow' })), 'unsupported_entry').message).toMatch(/symbolic link/);
      expect(refuses(tgz(rawFile('hard', '', { type: '1', linkname: 'guardian.mjs' })), 'unsupported_entry').message).toMatch(/hard link/);
      refuses(tgz(rawFile('tty', '', { type: '3' })), 'unsupported_entry');
      refuses(tgz(rawFile('disk', '', { type: '4' })), 'unsupported_entry');
      refuses(tgz(rawFile('fifo', '', { type: '6' })), 'unsupported_entry');
    });

    it('refuses pax and GNU extension headers (they could rename a later entry)', () => {
      refuses(tgz(rawFile('PaxHeader', '30 path=../../../../etc/passwd\n', { type: 'x' })), 'unsupported_entry');
      refuses(tgz(rawFile('././@LongLink', '../../x\0', { type: 'L' })), 'unsupported_entry');
    });

    it('refuses an entry over the size limit and a total over the limit', () => {
      const limits = { maxEntryBytes: 1000, maxTotalBytes: 1500, maxEntries: 100 };
      expect(refuses(tgz(rawFile('big', Buffer.alloc(1001))), 'entry_too_large', limits).details).toMatchObject({ size: 1001, limit: 1000 });
      refuses(tgz(rawFile('a', Buffer.alloc(800)), rawFile('b', Buffer.alloc(800))), 'archive_too_large', limits);
    });

    it('refuses a gzip bomb without inflating it all', () => {
      const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024));
      refuses(bomb, 'archive_too_large', { maxEntryBytes: 1024 * 1024, maxTotalBytes: 1024 * 1024, maxEntries: 10 });
    });

    it('refuses too many entries', () => {
      const many = Array.from({ length: 11 }, (_, i) => rawFile(`f${i}`, 'x'));
      refuses(tgz(...many), 'too_many_entries', { maxEntryBytes: 100, maxTotalBytes: 10_000, maxEntries: 10 });
    });

    it('refuses a name given twice, and a file under a file', () => {
      refuses(tgz(rawFile('guardian.mjs', 'good'), rawFile('guardian.mjs', 'evil')), 'duplicate_entry');
      refuses(tgz(rawFile('a', 'file'), rawFile('a/b', 'x')), 'duplicate_entry');
      refuses(tgz(rawFile('a/b', 'x'), rawFile('a', 'file')), 'duplicate_entry');
    });

    it('refuses a truncated archive, a bad checksum and bytes that are not gzip', () => {
      const whole = Buffer.concat([rawFile('a', Buffer.alloc(2000, 1))]);
      refuses(gzipSync(whole.subarray(0, 1000)), 'archive_truncated');
      refuses(gzipSync(whole), 'archive_truncated'); // no end-of-archive blocks
      const bad = rawFile('a', 'x');
      bad[0] = 'b'.charCodeAt(0);
      refuses(tgz(bad), 'archive_corrupt');
      refuses(Buffer.from('not a gzip stream'), 'archive_corrupt');
    });

    it('writes only into a fresh folder', () => {
      const dest = path.join(dir, 'existing');
      mkdirSync(dest);
      expect(() => extractBundleArchive(writeBundleArchive(entries), dest)).toThrow(expect.objectContaining({ code: 'destination_exists' }));
      expect(readdirSync(dest)).toEqual([]);
    });

    it('ignores the modes an archive asks for: files 0644, folders 0755', () => {
      const b = rawHeader('suid', { size: 1 });
      b.write('0004755\0', 100, 'latin1');
      b.fill(0x20, 148, 156);
      let sum = 0;
      for (const x of b) sum += x;
      b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      const dest = path.join(dir, 'modes');
      extractBundleArchive(tgz(b, Buffer.concat([Buffer.from('x'), Buffer.alloc(511)])), dest);
      expect(lstatSync(path.join(dest, 'suid')).mode & 0o7777).toBe(0o644);
    });
  });

  describe('readBundleManifest', () => {
    it('reads and checks the manifest at the root', () => {
      expect(readBundleManifest(writeBundleArchive(entries))).toMatchObject({ product: 'p', stream: 'application', version: '1.0.0' });
      expect(readBundleFiles(writeBundleArchive(entries)).get('guardian.mjs')?.toString()).toBe('console.log(1);\n');
    });

    it('refuses a bundle without a manifest, with an invalid one, or a hostile archive', () => {
      expect(() => readBundleManifest(writeBundleArchive([entries[0]!]))).toThrow(expect.objectContaining({ code: 'manifest_missing' }));
      const wrongStream = writeBundleArchive([{ name: 'manifest.json', data: Buffer.from(JSON.stringify({ ...JSON.parse(entries[3]!.data.toString()), stream: 'kernel' })) }]);
      expect(() => readBundleManifest(wrongStream)).toThrow(expect.objectContaining({ code: 'manifest_invalid' }));
      expect(() => readBundleManifest(writeBundleArchive([{ name: 'manifest.json', data: Buffer.from('{') }]))).toThrow(expect.objectContaining({ code: 'manifest_invalid' }));
      expect(() => readBundleManifest(tgz(rawFile('manifest.json', '{}', { type: '2', linkname: '/etc/passwd' })))).toThrow(expect.objectContaining({ code: 'unsupported_entry' }));
    });
  });
});
