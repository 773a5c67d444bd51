/**
 * Who is on the other end of a mutually authenticated TLS connection. node:tls has already
 * verified the chain to a trust anchor and the validity period (rejectUnauthorized); here we only
 * read what the certificate says.
 */
import type { TLSSocket } from 'node:tls';
import { DEVICE_ID_PATTERN } from '@shellguard/protocol';

export interface PeerIdentity {
  deviceId: string;
  /** Uppercase hex, as node:tls reports it. */
  certSerial: string;
  /** End of the certificate's validity, ms since epoch. */
  notAfterMs: number;
}

/** The device named by the peer certificate, or undefined if there is none or it names no device. */
export function peerIdentity(connection: unknown): PeerIdentity | undefined {
  const socket = connection as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function' || socket.authorized !== true) return undefined;
  const cert = socket.getPeerCertificate();
  // A subject with several CNs parses to an array: ambiguous, so refused.
  const commonName: unknown = cert?.subject?.CN;
  if (typeof commonName !== 'string' || !DEVICE_ID_PATTERN.test(commonName)) return undefined;
  return { deviceId: commonName, certSerial: cert.serialNumber, notAfterMs: Date.parse(cert.valid_to) };
}
