/**
 * Shellguard's own client certificate for the external broker: clientAuth only, from the current
 * issuing CA, its CN the username the broker's dynamic-security file gives the server role. A CN
 * can never be a device id (those are 64 hex digits), so no device certificate carries these rights.
 */
import { DEVICE_ID_PATTERN } from '@shellguard/protocol';
import type { Pki } from '../../pki/index.ts';
import { SERVER_USERNAME_PATTERN } from './device-acls.ts';
import { authorityKeyIdentifier, caSigner } from '../../pki/site-ca.ts';
import { x509 } from '../../pki/x509.ts';
import {
  DAY_MS, NOT_BEFORE_BACKDATE_MS, SIGNING_ALGORITHM, generateP256Key, importPublicKey, privateKeyPem, randomSerialNumber,
} from '../../pki/keys.ts';

export interface BrokerClientCertificate {
  /** Leaf then issuing CA. */
  chainPem: string;
  keyPem: string;
  username: string;
  notAfter: number;
}

export async function issueBrokerClientCertificate(
  pki: Pick<Pki, 'current'>, options: { username: string; validityDays: number; now?: Date },
): Promise<BrokerClientCertificate> {
  if (!SERVER_USERNAME_PATTERN.test(options.username) || DEVICE_ID_PATTERN.test(options.username)) {
    throw new TypeError(`"${options.username}" cannot name Shellguard on the broker: 1-64 of A-Z a-z 0-9 . _ -, starting with a letter`);
  }
  const now = options.now ?? new Date();
  const ca = pki.current();
  const signer = await caSigner(ca);
  const { privateKey, publicKey } = generateP256Key();
  const subjectKey = await importPublicKey(publicKey);
  const notAfter = new Date(Math.min(now.getTime() + options.validityDays * DAY_MS, signer.certificate.notAfter.getTime()));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: [{ CN: [options.username] }],
    issuer: signer.certificate.subject,
    notBefore: new Date(now.getTime() - NOT_BEFORE_BACKDATE_MS),
    notAfter,
    publicKey: subjectKey,
    signingKey: signer.signingKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      await x509.SubjectKeyIdentifierExtension.create(subjectKey),
      authorityKeyIdentifier(signer),
    ],
  });
  const leaf = cert.toString('pem');
  const issuing = ca.certPem.endsWith('\n') ? ca.certPem : `${ca.certPem}\n`;
  return { chainPem: `${leaf}\n${issuing}`, keyPem: privateKeyPem(privateKey), username: options.username, notAfter: notAfter.getTime() };
}
