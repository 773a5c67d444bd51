/**
 * The profiles shipped in packages/protocol/profiles/, read as plain YAML (not through
 * parseProfile): what is in the files, whatever the parser would accept.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  BUILTIN_PROFILE_DIR, POINT_KEYS_BY_PROTOCOL, PROFILE_KEYS, parseProfile, parseProfileCatalog, profileFileNames,
} from '../../src/index.ts';

const files = readdirSync(BUILTIN_PROFILE_DIR).filter((f) => f.endsWith('.yaml')).sort();

describe('shipped equipment profiles', () => {
  it('are all loaded by the catalog', () => {
    expect(files.length).toBeGreaterThanOrEqual(6);
    const sources = profileFileNames(readdirSync(BUILTIN_PROFILE_DIR)).map((f) => {
      const file = path.join(BUILTIN_PROFILE_DIR, f);
      return { file, text: readFileSync(file, 'utf8') };
    });
    expect([...parseProfileCatalog(sources).values()].map((e) => path.basename(e.file)).sort()).toEqual(files);
  });

  it.each(files)('%s has no key outside the profile format, and no description cut short', (file) => {
    const doc = parseYaml(readFileSync(path.join(BUILTIN_PROFILE_DIR, file), 'utf8')) as { protocol?: keyof typeof POINT_KEYS_BY_PROTOCOL; points: Record<string, unknown>[] };
    expect(Object.keys(doc).filter((k) => !(PROFILE_KEYS as readonly string[]).includes(k))).toEqual([]);
    const pointKeys = POINT_KEYS_BY_PROTOCOL[doc.protocol ?? 'modbus'];
    for (const point of doc.points) {
      expect(Object.keys(point).filter((k) => !pointKeys.includes(k)), String(point.name)).toEqual([]);
      // An unquoted comma cuts a flow-mapping value: "(RMS, ISO 10816)" would leave a bracket open.
      const description = typeof point.description === 'string' ? point.description : '';
      expect(description.split('(').length, `${String(point.name)}: ${description}`).toBe(description.split(')').length);
    }
  });

  it.each(files.filter((f) => !['ahu.yaml', 'crah.yaml', 'generator.yaml', 'panel.yaml', 'pdu.yaml', 'ups.yaml'].includes(f)))('%s names the source of its point map', (file) => {
    const doc = parseYaml(readFileSync(path.join(BUILTIN_PROFILE_DIR, file), 'utf8')) as { source?: unknown };
    expect(typeof doc.source === 'string' && doc.source.length > 10, file).toBe(true);
  });

  it.each(files)('%s with a stray key, at the root or in a point, is refused', (file) => {
    const full = path.join(BUILTIN_PROFILE_DIR, file);
    const text = readFileSync(full, 'utf8');
    expect(() => parseProfile(`${text}\nvendor: ACME\n`, full)).toThrow(`${full}: vendor: unknown key (known: id, name, type, protocol, source, points)`);
    const strayInPoint = text.replace(/^(\s+- \{ name: \w+,)/m, '$1 units: x,');
    expect(strayInPoint).not.toBe(text);
    expect(() => parseProfile(strayInPoint, full)).toThrow(/: points\[\d+\]\.units: unknown key \(known: name, description, unit,/);
  });
});
