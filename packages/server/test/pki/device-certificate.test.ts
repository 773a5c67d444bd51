import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSiteCa, issueDeviceCertificate, verifyDeviceCsr, type SiteCa } from '../../src/pki/index.ts';
import { makeDeviceCsr } from './device-csr.ts';

const NOW = new Date('2030-01-01T00:00:00Z');

describe('issueDeviceCertificate', () => {
  let ca: SiteCa;
  const siteCa = async (): Promise<SiteCa> => (ca ??= await createSiteCa({ commonName: 'Test site CA', validityDays: 30, now: NOW }));

  it('issues a client certificate that chains to the CA, named by the device id', async () => {
    const device = await makeDeviceCsr();
    const certPem = await issueDeviceCertificate(await siteCa(), device.csrPem, { validityHours: 24, now: NOW });

    const cert = new X509Certificate(certPem);
    const caCert = new X509Certificate((await siteCa()).certPem);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.subject).toBe(`CN=${device.deviceId}`);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth only
    expect(new Date(cert.validTo).getTime()).toBe(NOW.getTime() + 24 * 3600 * 1000);
    expect(new Date(cert.validFrom).getTime()).toBeLessThanOrEqual(NOW.getTime());
    // The certificate carries the key from the CSR.
    expect(cert.publicKey.export({ type: 'spki', format: 'der' }))
      .toEqual((await verifyDeviceCsr(device.csrPem)).publicKeySpki);
  });

  it('gives every certificate a different serial number', async () => {
    const device = await makeDeviceCsr();
    const a = new X509Certificate(await issueDeviceCertificate(await siteCa(), device.csrPem, { validityHours: 1, now: NOW }));
    const b = new X509Certificate(await issueDeviceCertificate(await siteCa(), device.csrPem, { validityHours: 1, now: NOW }));
    expect(a.serialNumber).not.toBe(b.serialNumber);
  });

  it('refuses a CSR whose CN is not the device id of its key', async () => {
    const other = await makeDeviceCsr();
    const device = await makeDeviceCsr({ commonName: other.deviceId });
    await expect(issueDeviceCertificate(await siteCa(), device.csrPem, { validityHours: 24, now: NOW }))
      .rejects.toMatchObject({ code: 'csr_id_mismatch' });
  });

  it('refuses a CSR whose signature does not verify', async () => {
    const device = await makeDeviceCsr();
    const der = Buffer.from(device.csrPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    der[der.length - 5]! ^= 0x01; // flip a bit inside the signature value
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(issueDeviceCertificate(await siteCa(), tampered, { validityHours: 24, now: NOW }))
      .rejects.toMatchObject({ code: 'csr_invalid_signature' });
  });

  it('refuses something that is not a CSR', async () => {
    await expect(issueDeviceCertificate(await siteCa(), 'not a csr', { validityHours: 24, now: NOW }))
      .rejects.toMatchObject({ code: 'csr_malformed' });
  });

  it('refuses a CA key that does not belong to the CA certificate', async () => {
    const device = await makeDeviceCsr();
    const strayKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(issueDeviceCertificate({ certPem: (await siteCa()).certPem, keyPem: strayKey }, device.csrPem, { validityHours: 24, now: NOW }))
      .rejects.toMatchObject({ code: 'ca_missing' });
  });
});
