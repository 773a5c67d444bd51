import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initCaDirectory, loadCa } from '../../src/pki/index.ts';

describe('CA directory', () => {
  let dir: string;
  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'sg-ca-')), 'ca');
  });
  afterEach(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

  it('writes ca.crt and a ca.key readable only by its owner', async () => {
    const ca = await initCaDirectory(dir, { commonName: 'Test CA' });
    expect(statSync(join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
    expect(loadCa(dir)).toEqual(ca);
  });

  it('refuses to overwrite an existing CA', async () => {
    const first = await initCaDirectory(dir);
    await expect(initCaDirectory(dir)).rejects.toMatchObject({ code: 'ca_exists' });
    expect(loadCa(dir)).toEqual(first);
  });

  it('refuses to load a CA key readable by others', async () => {
    await initCaDirectory(dir);
    chmodSync(join(dir, 'ca.key'), 0o644);
    expect(() => loadCa(dir)).toThrow(expect.objectContaining({ code: 'key_file_permissions' }));
  });

  it('reports a missing CA and creates nothing', () => {
    expect(() => loadCa(dir)).toThrow(expect.objectContaining({ code: 'ca_missing' }));
    expect(existsSync(dir)).toBe(false);
  });
});
