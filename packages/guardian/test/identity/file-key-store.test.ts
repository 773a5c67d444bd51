import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verify } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deviceIdFromPublicKey } from '@shellguard/protocol';
import { FileKeyStore } from '../../src/identity/index.ts';

describe('FileKeyStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'sg-identity-')), 'state');
  });
  afterEach(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

  it('creates a P-256 identity key readable only by its owner on first start', async () => {
    const store = await FileKeyStore.open(dir);
    expect(statSync(join(dir, 'identity.key')).mode & 0o777).toBe(0o600);
    expect(store.publicKey().asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(store.deviceId).toBe(deviceIdFromPublicKey(store.publicKey()));
    expect(store.deviceId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reuses the same key, and so the same device id, after a restart', async () => {
    const first = await FileKeyStore.open(dir);
    const keyFile = readFileSync(join(dir, 'identity.key'), 'utf8');
    const second = await FileKeyStore.open(dir);
    expect(second.deviceId).toBe(first.deviceId);
    expect(readFileSync(join(dir, 'identity.key'), 'utf8')).toBe(keyFile);
  });

  it('refuses a key file readable by group or others', async () => {
    await FileKeyStore.open(dir);
    chmodSync(join(dir, 'identity.key'), 0o644);
    await expect(FileKeyStore.open(dir)).rejects.toMatchObject({
      code: 'key_file_permissions',
      message: expect.stringContaining('chmod 600'),
    });
  });

  it('refuses a key file that holds no usable key', async () => {
    await FileKeyStore.open(dir);
    writeFileSync(join(dir, 'identity.key'), 'garbage', { mode: 0o600 });
    await expect(FileKeyStore.open(dir)).rejects.toMatchObject({ code: 'key_invalid' });
  });

  it('signs with the identity key', async () => {
    const store = await FileKeyStore.open(dir);
    const data = Buffer.from('nonce-123');
    expect(verify('sha256', data, store.publicKey(), store.sign(data))).toBe(true);
  });

  it('does not expose the private key as a property', async () => {
    const store = await FileKeyStore.open(dir);
    const pem = store.tlsPrivateKeyPem();
    expect(JSON.stringify(store)).not.toContain(pem.split('\n')[1]);
    expect(Object.values(store).some((v) => typeof v === 'object' && v !== null && (v as { type?: string }).type === 'private')).toBe(false);
  });

  it('creates a CSR that OpenSSL verifies, with CN = device id and the identity key', async () => {
    const store = await FileKeyStore.open(dir);
    const csrPath = join(dir, 'device.csr');
    writeFileSync(csrPath, await store.createCsr());
    // An independent PKCS#10 implementation checks the signature and reads the subject.
    const out = execFileSync('openssl', ['req', '-in', csrPath, '-verify', '-noout', '-subject', '-pubkey'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toContain(`CN = ${store.deviceId}`);
    const pubkeyPem = out.slice(out.indexOf('-----BEGIN PUBLIC KEY-----'));
    expect(deviceIdFromPublicKey(pubkeyPem)).toBe(store.deviceId);
  });
});
