import { describe, expect, it } from 'vitest';
import { ProtocolError, catalogProfiles, isProfileFileName, parseProfileCatalog, profileFileNames } from '../../src/index.ts';

function profileText(id: string, point = 'supply_air_temp'): string {
  return `id: ${id}\ntype: ahu\npoints:\n  - { name: ${point}, table: input, address: 0, type: int16 }\n`;
}

describe('profileFileNames', () => {
  it('keeps only *.yaml entries, in name order', () => {
    expect(profileFileNames(['ups.yaml', 'README.md', 'ahu.yaml', 'ahu.yaml.bak', 'crah.yml'])).toEqual(['ahu.yaml', 'ups.yaml']);
    expect(isProfileFileName('pdu.yaml')).toBe(true);
    expect(isProfileFileName('pdu.yml')).toBe(false);
  });
});

describe('parseProfileCatalog', () => {
  it('keys each profile by id and remembers the file it came from', () => {
    const catalog = parseProfileCatalog([
      { file: '/p/ahu.yaml', text: profileText('ahu-test') },
      { file: '/p/crah.yaml', text: profileText('crah-test') },
    ]);
    expect([...catalog.keys()]).toEqual(['ahu-test', 'crah-test']);
    expect(catalog.get('crah-test')).toMatchObject({ file: '/p/crah.yaml', profile: { id: 'crah-test', type: 'ahu' } });
    expect(catalogProfiles(catalog).get('ahu-test')?.points.map((p) => p.name)).toEqual(['supply_air_temp']);
  });

  it('refuses an id defined twice rather than letting the later file win', () => {
    const twice = () => parseProfileCatalog([
      { file: '/p/a.yaml', text: profileText('ahu-test') },
      { file: '/p/b.yaml', text: profileText('ahu-test', 'return_air_temp') },
    ]);
    expect(twice).toThrow(ProtocolError);
    expect(twice).toThrow('profile id ahu-test is defined twice (/p/b.yaml)');
  });

  it('names the file of a profile that does not parse', () => {
    expect(() => parseProfileCatalog([{ file: '/p/bad.yaml', text: 'id: x\n' }])).toThrow(/^\/p\/bad\.yaml: /);
  });
});
