/**
 * What a person (or a browser test) pins a certificate by, computed the way the usual tools do.
 */
import { X509Certificate, createHash } from 'node:crypto';

/**
 * Base64 of the SHA-256 of the certificate's SubjectPublicKeyInfo (DER): the form of an HPKP pin
 * (RFC 7469 §2.4) and of Chromium's `--ignore-certificate-errors-spki-list`. The same as
 * `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`.
 *
 * @example spkiSha256Base64(server.apiCertificatePem) // 'q0Jd1p…='
 */
export function spkiSha256Base64(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/**
 * SHA-256 over the whole certificate (DER), as `openssl x509 -fingerprint -sha256` prints it
 * after `sha256 Fingerprint=`: uppercase hex pairs joined by colons.
 */
export function sha256Fingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}
