import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILTIN_PROFILE_DIR, ProtocolError } from '@shellguard/protocol';
import { loadProfileCatalog } from '../../src/index.ts';

const profileText = (id: string) => `id: ${id}\ntype: ahu\npoints:\n  - { name: supply_air_temp, table: input, address: 0, type: int16 }\n`;

describe('loadProfileCatalog', () => {
  const dirs: string[] = [];
  const folder = (files: Record<string, string>) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-profiles-'));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    return dir;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('loads every shipped profile by default, each with the file attestation measures', () => {
    const catalog = loadProfileCatalog();
    expect([...catalog.values()].map((e) => path.basename(e.file)).sort()).toEqual(readdirSync(BUILTIN_PROFILE_DIR).filter((f) => f.endsWith('.yaml')).sort());
    for (const e of catalog.values()) expect(path.dirname(e.file)).toBe(path.resolve(BUILTIN_PROFILE_DIR));
  });

  it("reads an operator's folder, skipping files that are not profiles", () => {
    const dir = folder({ 'site-ahu.yaml': profileText('site-ahu'), 'notes.txt': 'not yaml: [', 'old.yaml.bak': profileText('old') });
    const catalog = loadProfileCatalog(dir);
    expect([...catalog.keys()]).toEqual(['site-ahu']);
    expect(catalog.get('site-ahu')?.file).toBe(path.join(dir, 'site-ahu.yaml'));
  });

  it('refuses a folder that defines an id twice', () => {
    const dir = folder({ 'a.yaml': profileText('site-ahu'), 'b.yaml': profileText('site-ahu') });
    expect(() => loadProfileCatalog(dir)).toThrow(ProtocolError);
  });
});
