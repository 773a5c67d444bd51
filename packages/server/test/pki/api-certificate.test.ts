import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSiteCa, issueServerCertificate, loadApiCertificate, sha256Fingerprint, spkiSha256Base64 } from '../../src/pki/index.ts';
import { createEnterprisePki, openssl, type EnterprisePki } from './enterprise-pki.ts';

let dir: string;
let corp: EnterprisePki;
/** A moment after the certificates were made (openssl dates them to the second). */
let now: number;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sg-api-cert-'));
  corp = createEnterprisePki(dir);
  now = Date.now() + 1_000;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string, mode = 0o600): string {
  const f = path.join(dir, name);
  writeFileSync(f, text, { mode });
  chmodSync(f, mode);
  return f;
}

describe('spkiSha256Base64', () => {
  it('is what the openssl pipeline prints for the certificate\'s public key', () => {
    const leafFile = file('leaf-only.crt', corp.leafPem, 0o644);
    const pubkey = openssl(dir, 'x509', '-in', leafFile, '-pubkey', '-noout');
    const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: pubkey });
    const expected = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der }).toString('base64');
    expect(spkiSha256Base64(corp.leafPem)).toBe(expected);
  });

  it('agrees with openssl for an ECDSA certificate of the site CA too', async () => {
    const ca = await createSiteCa({ commonName: 'Site', validityDays: 30 });
    const server = await issueServerCertificate(ca, { hostnames: ['localhost'], ips: [], validityDays: 30 });
    const pubkey = execFileSync('openssl', ['x509', '-pubkey', '-noout'], { input: server.certPem });
    const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: pubkey });
    expect(spkiSha256Base64(server.certPem)).toBe(execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der }).toString('base64'));
  });
});

describe('sha256Fingerprint', () => {
  it('prints as openssl x509 -fingerprint -sha256 does', () => {
    const printed = openssl(dir, 'x509', '-noout', '-fingerprint', '-sha256', '-in', corp.rootFile).trim();
    expect(printed.toLowerCase()).toBe(`sha256 fingerprint=${sha256Fingerprint(corp.rootPem)}`.toLowerCase());
  });
});

describe('loadApiCertificate', () => {
  it('takes an enterprise chain and key: the leaf, the chain to present, what it is valid for', () => {
    const cert = loadApiCertificate({ certFile: corp.chainFile, keyFile: corp.keyFile }, { now, names: { hostnames: ['localhost'], ips: ['127.0.0.1'] } });
    expect(cert.subject).toContain('CN=shellguard.example.com');
    expect(cert.issuer).toContain('CN=Example Corp TLS CA');
    expect(cert.certPem.trim()).toBe(corp.leafPem.trim());
    expect(cert.chainPem).toContain(corp.intermediatePem.trim().split('\n')[1]);
    expect(cert.warnings).toEqual([]);
  });

  it('warns when the certificate covers none of the names the server is reached by, or its key is readable by others', () => {
    const keyFile = file('world-readable.key', readFileSync(corp.keyFile, 'utf8'), 0o644);
    const cert = loadApiCertificate({ certFile: corp.chainFile, keyFile }, { now, names: { hostnames: ['sg.example.org'], ips: [] } });
    expect(cert.warnings).toEqual([
      expect.stringMatching(/valid for none of tlsNames \(sg\.example\.org\)/),
      expect.stringMatching(/readable by other users: chmod 600/),
    ]);
  });

  it('refuses a key that is not the certificate\'s, saying so', () => {
    expect(() => loadApiCertificate({ certFile: corp.chainFile, keyFile: corp.otherKeyFile }, { now })).toThrow(expect.objectContaining({
      code: 'api_certificate_key_mismatch',
      message: expect.stringMatching(/is not the private key of the certificate in api\.certFile .*: give the key the certificate was issued for/),
    }));
  });

  it('says to put the server certificate first when the key belongs to a later one', () => {
    const reversed = file('reversed.crt', corp.intermediatePem + corp.leafPem, 0o644);
    expect(() => loadApiCertificate({ certFile: reversed, keyFile: corp.keyFile }, { now })).toThrow(expect.objectContaining({
      code: 'api_certificate_key_mismatch', message: expect.stringMatching(/belongs to certificate 2 .* put the server certificate first/),
    }));
  });

  it('refuses a chain whose next certificate did not issue the one before', () => {
    const wrong = file('wrong-chain.crt', corp.leafPem + corp.rootPem, 0o644);
    expect(() => loadApiCertificate({ certFile: wrong, keyFile: corp.keyFile }, { now })).toThrow(expect.objectContaining({
      code: 'api_certificate_invalid', message: expect.stringMatching(/did not issue certificate 1 .*order the file server certificate first, then each issuer/),
    }));
  });

  it('refuses missing files, non-PEM certificates and encrypted keys with what to do', () => {
    const missing = path.join(dir, 'nope.crt');
    expect(() => loadApiCertificate({ certFile: missing, keyFile: corp.keyFile }, { now })).toThrow(expect.objectContaining({
      code: 'api_certificate_unreadable', message: expect.stringMatching(/^api\.certFile .*nope\.crt does not exist; it should hold the PEM certificate chain/),
    }));
    const der = path.join(dir, 'leaf.der');
    openssl(dir, 'x509', '-in', corp.chainFile, '-outform', 'der', '-out', der);
    expect(() => loadApiCertificate({ certFile: der, keyFile: corp.keyFile }, { now })).toThrow(expect.objectContaining({
      code: 'api_certificate_invalid', message: expect.stringMatching(/holds no PEM certificate.*openssl x509 -inform der/),
    }));
    const encrypted = path.join(dir, 'encrypted.key');
    openssl(dir, 'pkey', '-in', corp.keyFile, '-aes256', '-passout', 'pass:secret', '-out', encrypted);
    expect(() => loadApiCertificate({ certFile: corp.chainFile, keyFile: encrypted }, { now })).toThrow(expect.objectContaining({
      code: 'api_certificate_invalid', message: expect.stringMatching(/is encrypted.*openssl pkey -in/),
    }));
  });

  it('refuses an expired certificate and one not valid yet', async () => {
    const ca = await createSiteCa({ commonName: 'Old corp CA', validityDays: 3650, now: new Date('2020-01-01T00:00:00Z') });
    const old = await issueServerCertificate(ca, { hostnames: ['localhost'], ips: [], validityDays: 30, now: new Date('2020-01-01T00:00:00Z') });
    const oldCert = file('old.crt', old.certPem, 0o644);
    const oldKey = file('old.key', old.keyPem);
    expect(() => loadApiCertificate({ certFile: oldCert, keyFile: oldKey }, { now })).toThrow(expect.objectContaining({
      code: 'api_certificate_expired', message: expect.stringMatching(/expired on 2020-01-31T00:00:00Z: renew it with its CA \(CN=Old corp CA\)/),
    }));
    expect(() => loadApiCertificate({ certFile: oldCert, keyFile: oldKey }, { now: Date.parse('2019-06-01T00:00:00Z') })).toThrow(expect.objectContaining({
      code: 'api_certificate_not_yet_valid', message: expect.stringMatching(/is valid only from 2019-12-31.*check this machine's clock/),
    }));
    expect(loadApiCertificate({ certFile: oldCert, keyFile: oldKey }, { now: Date.parse('2020-01-20T00:00:00Z') }).warnings)
      .toEqual([expect.stringMatching(/expires in 11 days/)]);
  });
});
