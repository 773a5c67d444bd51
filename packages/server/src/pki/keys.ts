/**
 * Key handling shared by the CA functions: keys are generated and serialised with node:crypto
 * (PKCS#8 PEM), and imported into WebCrypto only for the moment @peculiar/x509 signs with them.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, webcrypto, type KeyObject } from 'node:crypto';

/** ECDSA P-256 with SHA-256 everywhere (ARCHITECTURE.md §2). */
export const SIGNING_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export function generateP256Key(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

export function privateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

export async function importSigningKey(keyPem: string): Promise<webcrypto.CryptoKey> {
  const der = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', der, SIGNING_ALGORITHM, false, ['sign']);
}

export async function importPublicKey(key: KeyObject): Promise<webcrypto.CryptoKey> {
  const der = (key.type === 'public' ? key : createPublicKey(key)).export({ type: 'spki', format: 'der' });
  return webcrypto.subtle.importKey('spki', der, SIGNING_ALGORITHM, true, ['verify']);
}

/**
 * RFC 5280 §4.1.2.2: a positive serial of at most 20 octets, unpredictable (CA/B BR 7.1 asks
 * for 64+ random bits). 16 random bytes whose first byte is forced into 0x40-0x7f, so the
 * number is never negative and always 16 octets long (126 random bits remain).
 */
export function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return bytes.toString('hex');
}

/** Tolerate modest clock skew between the CA and the peers that check its certificates. */
export const NOT_BEFORE_BACKDATE_MS = 5 * 60 * 1000;

export const DAY_MS = 24 * 60 * 60 * 1000;
export const HOUR_MS = 60 * 60 * 1000;
