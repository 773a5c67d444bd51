/**
 * Test helper: a device key and CSR made the way any PKCS#10 client would (here with
 * @peculiar/x509), independent of the guardian's own CSR builder.
 */
import { generateKeyPairSync } from 'node:crypto';
import { deviceIdFromPublicKey } from '@shellguard/protocol';
import { x509 } from '../../src/pki/x509.ts';
import { SIGNING_ALGORITHM, importPublicKey, importSigningKey, privateKeyPem } from '../../src/pki/keys.ts';

export interface DeviceCsr {
  deviceId: string;
  keyPem: string;
  csrPem: string;
}

/** A fresh P-256 device key and a CSR whose CN is its device id, or `commonName` if given. */
export async function makeDeviceCsr(options: { commonName?: string } = {}): Promise<DeviceCsr> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const deviceId = deviceIdFromPublicKey(publicKey);
  const keyPem = privateKeyPem(privateKey);
  const keys = { privateKey: await importSigningKey(keyPem), publicKey: await importPublicKey(publicKey) };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [options.commonName ?? deviceId] }],
    keys: keys as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'],
    signingAlgorithm: SIGNING_ALGORITHM,
  });
  return { deviceId, keyPem, csrPem: csr.toString('pem') };
}
