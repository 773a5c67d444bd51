/**
 * Device identity (ARCHITECTURE.md §2): a guardian's device id is the lowercase hex SHA-256 of
 * its public key's DER SubjectPublicKeyInfo. The id is what certificates name (subject CN) and
 * what topics are scoped by.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

export function deviceIdFromPublicKey(key: KeyObject | string): string {
  const pub = typeof key === 'string' ? createPublicKey(key) : key.type === 'private' ? createPublicKey(key) : key;
  const spki = pub.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex');
}

export const DEVICE_ID_PATTERN = /^[0-9a-f]{64}$/;
