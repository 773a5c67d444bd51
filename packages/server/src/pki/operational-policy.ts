/**
 * The certificate policy that marks a certificate as OPERATIONAL: issued after a passing
 * attestation appraisal, and the only kind the broker lets in. Other certificates on the same
 * chain (identity certificates, server certificates) do not carry it (RFC 5280 §4.2.1.4).
 */
import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { x509 } from './x509.ts';

/**
 * Shellguard operational-certificate policy. A 2.25 OID (ITU-T X.667: an arc derived from a
 * UUID, no registration needed): UUID d1a4a18c-1fed-4e36-b748-eadd4b681325 as a decimal integer.
 * Fixed forever: devices in the field carry it.
 */
export const OPERATIONAL_POLICY_OID = '2.25.278663464373616989161547467801148003109';

/** RFC 5280 §4.2.1.4 anyPolicy, carried by issuing CAs so strict policy processing still passes. */
export const ANY_POLICY_OID = '2.5.29.32.0';

/**
 * asn1js prints an arc too large for a JS number (any 2.25 UUID arc) as "{hex}", one byte per
 * base-128 digit of its DER encoding (X.690 §8.19.2); this turns it back into decimal.
 */
function decimalOid(oid: string): string {
  return oid
    .split('.')
    .map((arc) => {
      const digits = /^\{([0-9a-f]+)\}$/i.exec(arc)?.[1];
      if (digits === undefined || digits.length % 2 !== 0) return arc;
      let value = 0n;
      for (let i = 0; i < digits.length; i += 2) value = (value << 7n) | BigInt(Number.parseInt(digits.slice(i, i + 2), 16) & 0x7f);
      return value.toString();
    })
    .join('.');
}

/** The policy OIDs of an already parsed certificate, in dotted decimal. */
export function policyOidsOf(cert: InstanceType<typeof x509.X509Certificate>): string[] {
  return (cert.getExtension(x509.CertificatePolicyExtension)?.policies ?? []).map(decimalOid);
}

/** The policy OIDs of a certificate (PEM, DER, or node's X509Certificate); empty when it has none or cannot be parsed. */
export function certificatePolicies(cert: NodeX509Certificate | string | Uint8Array): string[] {
  try {
    const raw = cert instanceof NodeX509Certificate ? cert.raw : cert;
    return policyOidsOf(typeof raw === 'string' ? new x509.X509Certificate(raw) : new x509.X509Certificate(new Uint8Array(raw)));
  } catch {
    return [];
  }
}

export function hasOperationalPolicy(cert: NodeX509Certificate | string | Uint8Array): boolean {
  return certificatePolicies(cert).includes(OPERATIONAL_POLICY_OID);
}
