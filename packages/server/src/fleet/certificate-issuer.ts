/**
 * The port through which the fleet asks the site PKI for operational certificates and CRLs.
 * The fleet decides *whether* a device gets a certificate (attestation); the PKI decides how it
 * is signed (issuing CA, operational policy OID, serial).
 */
import type { KeyObject } from 'node:crypto';

export interface OperationalCertificateRequest {
  /** Lowercase hex SHA-256 of the device key's SPKI; becomes the subject CN. */
  deviceId: string;
  publicKey: KeyObject;
}

export interface OperationalCertificatePolicy {
  validityHours: number;
  /** epoch ms; defaults to the PKI's clock. */
  now?: number;
}

export interface IssuedOperationalCertificate {
  /** The leaf certificate, PEM. */
  certPem: string;
  /** What the device presents in TLS: the leaf followed by the issuing CA certificate(s), PEM. */
  chainPem: string;
  /** Serial number as lowercase hex (no leading zero octets required; the fleet normalises). */
  serial: string;
  /** epoch ms */
  notAfter: number;
}

export interface CertificateIssuer {
  signOperationalCertificate(device: OperationalCertificateRequest, policy: OperationalCertificatePolicy): Promise<IssuedOperationalCertificate>;
  /** The root CA certificate (PEM) devices trust for the server. */
  rootPem(): string;
  /** One CRL (PEM) per issuing CA, listing the revoked serials it issued. */
  generateCrls(revoked: { serial: string; revokedAt: number }[]): Promise<string[]>;
}

/**
 * Serials compared as the broker sees them: node's `X509Certificate.serialNumber` is uppercase
 * hex and may keep or drop a leading zero octet; lowercase with leading zeros stripped is stable.
 */
export function normaliseSerial(serial: string): string {
  const s = serial.toLowerCase().replace(/[^0-9a-f]/g, '').replace(/^0+/, '');
  return s === '' ? '0' : s;
}
