import { describe, expect, it } from 'vitest';
import { compareSemver, isSemver } from '../src/index.ts';

describe('isSemver', () => {
  it('accepts semver.org 2.0.0 versions and refuses the rest', () => {
    for (const v of ['0.0.0', '1.4.2', '1.0.0-rc.1', '1.0.0-alpha+build.5', '10.20.30']) expect(isSemver(v), v).toBe(true);
    for (const v of ['latest', '1.0', '01.0.0', '1.0.0-', 'v1.0.0', `1.0.0-${'a'.repeat(64)}`]) expect(isSemver(v), v).toBe(false);
  });
});

describe('compareSemver', () => {
  it('orders pre-releases below their release and ignores build metadata', () => {
    expect(['1.0.0', '1.0.0-rc.1', '0.9.9', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-beta.11', '1.0.0-beta.2'].sort(compareSemver))
      .toEqual(['0.9.9', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0']);
    expect(compareSemver('1.0.0+a', '1.0.0+b')).toBe(0);
  });
});
