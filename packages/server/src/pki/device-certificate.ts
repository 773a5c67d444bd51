/**
 * Operational certificates for guardians. Issuing is split in two pure steps so that an
 * attestation verifier can sit between them later (ARCHITECTURE.md §2, RFC 9334 background
 * check): `verifyDeviceCsr` proves possession of the key and yields the device id;
 * the caller decides (claim, attestation, quarantine) and only then calls
 * `signDeviceCertificate` with the policy it settled on.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { DEVICE_ID_PATTERN, deviceIdFromPublicKey } from '@shellguard/protocol';
import { x509 } from './x509.ts';
import { HOUR_MS, NOT_BEFORE_BACKDATE_MS, SIGNING_ALGORITHM, isP256, randomSerialNumber } from './keys.ts';
import { PkiError } from './pki-error.ts';
import { authorityKeyIdentifier, caSigner, type SiteCa } from './site-ca.ts';

/** A CSR whose self-signature verified and whose subject names the key it carries. */
export interface VerifiedDeviceCsr {
  deviceId: string;
  publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo, as it will appear in the certificate. */
  publicKeySpki: Buffer;
}

export interface DeviceCertificatePolicy {
  /** 24 h is the default for operational certificates (ARCHITECTURE.md §2). */
  validityHours: number;
  now?: Date;
  /** Certificate policy OIDs (RFC 5280 §4.2.1.4); OPERATIONAL_POLICY_OID marks an operational certificate. */
  certificatePolicies?: string[];
}

export async function verifyDeviceCsr(csrPem: string): Promise<VerifiedDeviceCsr> {
  let csr: InstanceType<typeof x509.Pkcs10CertificateRequest>;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new PkiError('csr_malformed', 'the certificate signing request could not be parsed', {
      reason: err instanceof Error ? err.message : String(err),
    });
  }
  const publicKeySpki = Buffer.from(csr.publicKey.rawData);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: publicKeySpki, format: 'der', type: 'spki' });
  } catch {
    throw new PkiError('csr_malformed', 'the CSR public key could not be read');
  }
  if (!isP256(publicKey)) {
    throw new PkiError('csr_malformed', 'device keys must be ECDSA P-256', { keyType: publicKey.asymmetricKeyType });
  }
  // RFC 2986 §3: the signature proves the requester holds the private key.
  let signatureValid = false;
  try {
    signatureValid = await csr.verify();
  } catch {
    signatureValid = false;
  }
  if (!signatureValid) {
    throw new PkiError('csr_invalid_signature', 'the CSR signature does not verify with the key it carries');
  }
  const deviceId = deviceIdFromPublicKey(publicKey);
  const commonNames = csr.subjectName.getField('CN');
  if (commonNames.length !== 1 || commonNames[0] !== deviceId) {
    throw new PkiError('csr_id_mismatch', 'the CSR subject CN must be the device id (SHA-256 of its public key)', {
      expected: deviceId,
      got: commonNames,
    });
  }
  return { deviceId, publicKey, publicKeySpki };
}

/**
 * Signs an operational client certificate for an already verified CSR. CN = device id,
 * clientAuth only, random serial, notAfter = now + validity.
 */
export async function signDeviceCertificate(ca: SiteCa, csr: VerifiedDeviceCsr, policy: DeviceCertificatePolicy): Promise<string> {
  if (!DEVICE_ID_PATTERN.test(csr.deviceId)) {
    throw new PkiError('csr_id_mismatch', 'not a device id', { deviceId: csr.deviceId });
  }
  const now = policy.now ?? new Date();
  const signer = await caSigner(ca);
  const subjectKey = new x509.PublicKey(csr.publicKeySpki);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: [{ CN: [csr.deviceId] }],
    issuer: signer.certificate.subject,
    // Backdated for clock skew, but never by more than a tenth of a short lifetime: devices renew
    // at 2/3 of notBefore..notAfter, which must stay in the future when the certificate arrives.
    notBefore: new Date(now.getTime() - Math.min(NOT_BEFORE_BACKDATE_MS, (policy.validityHours * HOUR_MS) / 10)),
    // RFC 5280 §6.1.3: a certificate outliving its issuer would stop verifying early anyway.
    notAfter: new Date(Math.min(now.getTime() + policy.validityHours * HOUR_MS, signer.certificate.notAfter.getTime())),
    publicKey: subjectKey,
    signingKey: signer.signingKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      await x509.SubjectKeyIdentifierExtension.create(subjectKey),
      authorityKeyIdentifier(signer),
      ...(policy.certificatePolicies?.length ? [new x509.CertificatePolicyExtension(policy.certificatePolicies, false)] : []),
    ],
  });
  return cert.toString('pem');
}

/** verifyDeviceCsr then signDeviceCertificate, for callers with no gate in between. */
export async function issueDeviceCertificate(ca: SiteCa, csrPem: string, policy: DeviceCertificatePolicy): Promise<string> {
  return signDeviceCertificate(ca, await verifyDeviceCsr(csrPem), policy);
}
