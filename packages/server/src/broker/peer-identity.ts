/**
 * Who is on the other end of a mutually authenticated TLS connection. node:tls has already
 * verified the chain to a trust anchor and the validity period (rejectUnauthorized); here we only
 * read what the certificate says. Parsed once per connection and remembered for the socket.
 */
import type { TLSSocket } from 'node:tls';
import { DEVICE_ID_PATTERN } from '@shellguard/protocol';
import { OPERATIONAL_POLICY_OID, policyOidsOf } from '../pki/index.ts';
import { x509 } from '../pki/x509.ts';

export interface PeerIdentity {
  deviceId: string;
  /** Lowercase hex, as the PKI reports the serials it signs. */
  certSerial: string;
  /** End of the certificate's validity, ms since epoch. */
  notAfterMs: number;
  /** Certificate policy OIDs of the peer certificate (RFC 5280 §4.2.1.4). */
  policies: readonly string[];
  /** The certificate carries OPERATIONAL_POLICY_OID: issued after a passing attestation. */
  operational: boolean;
}

const identities = new WeakMap<object, PeerIdentity | null>();

function readPeerIdentity(socket: Partial<TLSSocket>): PeerIdentity | null {
  if (typeof socket.getPeerX509Certificate !== 'function' || socket.authorized !== true) return null;
  const peer = socket.getPeerX509Certificate();
  if (!peer) return null;
  let cert: InstanceType<typeof x509.X509Certificate>;
  try {
    cert = new x509.X509Certificate(new Uint8Array(peer.raw));
  } catch {
    return null;
  }
  // A subject with several CNs is ambiguous, so refused.
  const commonNames = cert.subjectName.getField('CN');
  const deviceId = commonNames.length === 1 ? commonNames[0]! : undefined;
  if (deviceId === undefined || !DEVICE_ID_PATTERN.test(deviceId)) return null;
  const policies = policyOidsOf(cert);
  return {
    deviceId,
    certSerial: cert.serialNumber.toLowerCase(),
    notAfterMs: cert.notAfter.getTime(),
    policies,
    operational: policies.includes(OPERATIONAL_POLICY_OID),
  };
}

/** The device named by the peer certificate, or undefined if there is none or it names no device. */
export function peerIdentity(connection: unknown): PeerIdentity | undefined {
  if (typeof connection !== 'object' || connection === null) return undefined;
  let identity = identities.get(connection);
  if (identity === undefined) {
    identity = readPeerIdentity(connection as Partial<TLSSocket>);
    // Only a verified socket's answer is final; before the handshake ends there is nothing to remember.
    if ((connection as Partial<TLSSocket>).authorized === true) identities.set(connection, identity);
  }
  return identity ?? undefined;
}
