import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSiteCa, issueServerCertificate } from '../../src/pki/index.ts';

const NOW = new Date('2030-01-01T00:00:00Z');

describe('createSiteCa', () => {
  it('creates a self-signed P-256 CA certificate', async () => {
    const ca = await createSiteCa({ commonName: 'Site 1 CA', validityDays: 365, now: NOW });
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe('CN=Site 1 CA');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(new Date(cert.validTo).getTime()).toBe(NOW.getTime() + 365 * 86_400_000);
  });
});

describe('issueServerCertificate', () => {
  it('issues a server certificate for the requested names that chains to the CA', async () => {
    const ca = await createSiteCa({ commonName: 'Site 1 CA', validityDays: 365, now: NOW });
    const server = await issueServerCertificate(ca, { hostnames: ['localhost'], ips: ['127.0.0.1'], validityDays: 90, now: NOW });
    const cert = new X509Certificate(server.certPem);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('example.com')).toBeUndefined();
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // serverAuth only
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(server.keyPem))).toBe(true);
  });
});
