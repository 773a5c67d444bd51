/**
 * TLS for the HTTP API (RFC 9325, BCP 195). TLS 1.3 with its standard AEAD suites; TLS 1.2 only
 * with forward secrecy (ECDHE) and authenticated encryption: the AES-GCM suites RFC 9325 §4.2
 * recommends, and ChaCha20-Poly1305 (RFC 7905). That leaves out CBC with HMAC-SHA1, static RSA key
 * exchange, and CCM_8 with its truncated 64-bit tags. TLS 1.0 and 1.1 are refused (RFC 8996).
 *
 * node:tls takes both lists in `ciphers`: TLS_* names are TLS 1.3 suites, the rest OpenSSL names
 * for TLS 1.2. Leaving the TLS 1.3 names out would switch TLS 1.3 off.
 */
import type { TlsOptions } from 'node:tls';

export const API_TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  // The site PKI issues ECDSA P-256 server certificates; the RSA forms serve an operator's own RSA certificate.
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Merged into the API's `https` options. */
export const API_TLS_POLICY: Pick<TlsOptions, 'minVersion' | 'ciphers' | 'honorCipherOrder'> = {
  minVersion: 'TLSv1.2',
  ciphers: API_TLS_CIPHERS,
  // The server picks from its own ordered list, not the client's preference (RFC 9325 §4.2.1).
  honorCipherOrder: true,
};
