/**
 * A PKCS#10 certificate signing request (RFC 2986) built from nothing but a public key and a
 * signing function, so any `KeyStore` — including one whose key sits in a TPM and can only be
 * asked for signatures — can produce one. The structure is small and fixed, so we encode the
 * DER ourselves rather than pull an X.509 library onto the gateway.
 */
import type { KeyObject } from 'node:crypto';

/** X.690 DER length octets. */
function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  if (length <= 0xff) return Buffer.from([0x81, length]);
  if (length <= 0xffff) return Buffer.from([0x82, length >> 8, length & 0xff]);
  throw new RangeError('DER element too long for a CSR');
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const SEQUENCE = 0x30;
const SET = 0x31;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const UTF8_STRING = 0x0c;
const CONTEXT_0_CONSTRUCTED = 0xa0;
/** id-at-commonName, 2.5.4.3 */
const OID_COMMON_NAME = Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]);
/** ecdsa-with-SHA256, 1.2.840.10045.4.3.2 (RFC 5758 §3.2: parameters absent) */
const OID_ECDSA_WITH_SHA256 = Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);

/**
 * @param publicKey the key the CSR asks a certificate for
 * @param sign ECDSA-with-SHA-256 over the given bytes, DER signature, made with that key
 */
export function buildCertificateRequest(commonName: string, publicKey: KeyObject, sign: (data: Buffer) => Buffer): string {
  const subject = tlv(SEQUENCE, tlv(SET, tlv(SEQUENCE, OID_COMMON_NAME, tlv(UTF8_STRING, Buffer.from(commonName, 'utf8')))));
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // RFC 2986 §4.1: version 0, subject, subjectPKInfo, attributes [0] (empty set).
  const requestInfo = tlv(SEQUENCE, tlv(INTEGER, Buffer.from([0])), subject, spki, tlv(CONTEXT_0_CONSTRUCTED));
  const signature = sign(requestInfo);
  const request = tlv(
    SEQUENCE,
    requestInfo,
    tlv(SEQUENCE, OID_ECDSA_WITH_SHA256),
    tlv(BIT_STRING, Buffer.from([0]), signature),
  );
  const base64 = request.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${base64}-----END CERTIFICATE REQUEST-----\n`;
}
