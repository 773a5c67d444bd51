/**
 * Certificate revocation lists (RFC 5280 §5), one per issuing CA and signed by it, so any relying
 * party can check a serial without asking the server.
 */
import { x509 } from './x509.ts';
import { HOUR_MS, SIGNING_ALGORITHM } from './keys.ts';
import { PkiError } from './pki-error.ts';
import { authorityKeyIdentifier, caSigner, type SiteCa } from './site-ca.ts';

export interface RevokedCertificate {
  /** Hex serial number, as returned when the certificate was signed. */
  serial: string;
  /** When it was revoked, ms since epoch. */
  revokedAt: number;
}

export interface CrlOptions {
  now: Date;
  /** nextUpdate = now + this. 24 h: operational certificates live no longer than that. */
  validityHours?: number;
}

const CRL_NUMBER_OID = '2.5.29.20';
const SERIAL_PATTERN = /^[0-9a-f]{1,40}$/i;

/** DER INTEGER for a non-negative integer (X.690 §8.3), with a 0x00 pad when the top bit is set. */
function derInteger(value: bigint): Uint8Array<ArrayBuffer> {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  let body = Buffer.from(hex, 'hex');
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  const der = new Uint8Array(2 + body.length);
  der[0] = 0x02;
  der[1] = body.length;
  der.set(body, 2);
  return der;
}

/** RFC 7468 §6 labels a CRL "X509 CRL" (@peculiar/x509 writes "CRL", which OpenSSL refuses). */
function pemCrl(der: ArrayBuffer): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN X509 CRL-----\n${lines.join('\n')}\n-----END X509 CRL-----\n`;
}

/**
 * The serial as whole DER INTEGER octets: serials may arrive with leading zeros stripped (odd
 * length), and a first octet >= 0x80 needs a 0x00 in front to stay positive (X.690 §8.3.2).
 */
function serialOctets(serial: string): string {
  let hex = serial.toLowerCase().replace(/^(?:00)+(?=[0-9a-f]{2})/, '');
  if (hex.length % 2 === 1) hex = `0${hex}`;
  return Number.parseInt(hex[0]!, 16) >= 8 ? `00${hex}` : hex;
}

/** A CRL signed by `ca` listing `revoked`. PEM. */
export async function createCrl(ca: SiteCa, revoked: readonly RevokedCertificate[], options: CrlOptions): Promise<string> {
  for (const entry of revoked) {
    if (!SERIAL_PATTERN.test(entry.serial)) {
      throw new PkiError('ca_invalid', `"${entry.serial}" is not a hex certificate serial`, { serial: entry.serial });
    }
  }
  const signer = await caSigner(ca);
  const thisUpdate = options.now;
  const crl = await x509.X509CrlGenerator.create({
    issuer: signer.certificate.subjectName,
    thisUpdate,
    nextUpdate: new Date(thisUpdate.getTime() + (options.validityHours ?? 24) * HOUR_MS),
    signingKey: signer.signingKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      // RFC 5280 §5.2.1 and §5.2.3: both required; the CRL number must increase, and the
      // issue time in milliseconds does (CRLs come from one server).
      authorityKeyIdentifier(signer),
      new x509.Extension(CRL_NUMBER_OID, false, derInteger(BigInt(thisUpdate.getTime()))),
    ],
    entries: revoked.map((entry) => ({
      serialNumber: serialOctets(entry.serial),
      revocationDate: new Date(entry.revokedAt),
      // RFC 5280 §5.3.1: an operator withdrew the device's right to connect. Also keeps the
      // entry's extension list non-empty: @peculiar/x509 would otherwise encode an empty
      // SEQUENCE, which the CRL syntax (SIZE 1..MAX) does not allow.
      reason: x509.X509CrlReason.privilegeWithdrawn,
    })),
  });
  return pemCrl(crl.rawData);
}
