import type { KeyObject } from 'node:crypto';

/**
 * Where a guardian's identity key lives (ARCHITECTURE.md §2). The private key never leaves the
 * store: callers get the public key, signatures, and a CSR. A TPM or secure element can back
 * this interface later; `FileKeyStore` is the software implementation.
 */
export interface KeyStore {
  /** Lowercase hex SHA-256 of the public key's DER SubjectPublicKeyInfo. */
  readonly deviceId: string;
  publicKey(): KeyObject;
  /** ECDSA P-256 / SHA-256 signature over `data`, DER-encoded (RFC 3279 Ecdsa-Sig-Value). */
  sign(data: Buffer): Buffer;
  /** A PKCS#10 request, PEM, with subject CN = device id. */
  createCsr(): Promise<string>;
}
