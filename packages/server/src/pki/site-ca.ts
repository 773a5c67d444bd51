/**
 * The site certificate authority: a self-signed ECDSA P-256 root that signs the broker/API
 * server certificate and the guardians' operational (client) certificates.
 */
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject, type webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { x509 } from './x509.ts';
import {
  DAY_MS, NOT_BEFORE_BACKDATE_MS, SIGNING_ALGORITHM, generateP256Key, importPublicKey, importSigningKey,
  privateKeyPem, randomSerialNumber,
} from './keys.ts';
import { PkiError } from './pki-error.ts';
import { ANY_POLICY_OID } from './operational-policy.ts';

/** A CA as stored on disk: its certificate and its PKCS#8 private key, both PEM. */
export interface SiteCa {
  certPem: string;
  keyPem: string;
}

/** A certificate issued together with a fresh key (server certificates). */
export interface IssuedKeyPair {
  certPem: string;
  keyPem: string;
}

export interface CreateSiteCaOptions {
  commonName: string;
  validityDays: number;
  now?: Date;
  /**
   * RFC 5280 §4.2.1.9 path length: 0 (default) for a CA that signs only end-entity
   * certificates, 1 for a root that signs issuing CAs.
   */
  pathLength?: number;
}

export interface CreateIssuingCaOptions {
  commonName: string;
  validityDays: number;
  now?: Date;
}

export async function createSiteCa(options: CreateSiteCaOptions): Promise<SiteCa> {
  const now = options.now ?? new Date();
  const { privateKey, publicKey } = generateP256Key();
  const keys = { privateKey: await importSigningKey(privateKeyPem(privateKey)), publicKey: await importPublicKey(publicKey) };
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: [{ CN: [options.commonName] }],
    notBefore: new Date(now.getTime() - NOT_BEFORE_BACKDATE_MS),
    notAfter: new Date(now.getTime() + options.validityDays * DAY_MS),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, options.pathLength ?? 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: privateKeyPem(privateKey) };
}

/**
 * An issuing CA signed by `root` (which must be a CA with path length >= 1). It signs only
 * end-entity certificates (path length 0); its validity never outlasts the root's.
 */
export async function createIssuingCa(root: SiteCa, options: CreateIssuingCaOptions): Promise<SiteCa> {
  const now = options.now ?? new Date();
  const signer = await caSigner(root);
  const { privateKey, publicKey } = generateP256Key();
  const subjectPublicKey = await importPublicKey(publicKey);
  const notAfter = Math.min(now.getTime() + options.validityDays * DAY_MS, signer.certificate.notAfter.getTime());
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: [{ CN: [options.commonName] }],
    issuer: signer.certificate.subject,
    notBefore: new Date(now.getTime() - NOT_BEFORE_BACKDATE_MS),
    notAfter: new Date(notAfter),
    publicKey: subjectPublicKey,
    signingKey: signer.signingKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      // anyPolicy: the operational policy of the leaves survives RFC 5280 §6.1 policy processing
      // for relying parties that run it.
      new x509.CertificatePolicyExtension([ANY_POLICY_OID], false),
      await x509.SubjectKeyIdentifierExtension.create(subjectPublicKey),
      authorityKeyIdentifier(signer),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: privateKeyPem(privateKey) };
}

/** Everything an issuing function needs from the CA, parsed once per CA. */
export interface CaSigner {
  certificate: InstanceType<typeof x509.X509Certificate>;
  signingKey: webcrypto.CryptoKey;
}

/** Parsed signers per CA object: a CA signs thousands of certificates, parsing its key once is enough. */
const signers = new WeakMap<SiteCa, Promise<CaSigner>>();

export function caSigner(ca: SiteCa): Promise<CaSigner> {
  let signer = signers.get(ca);
  if (!signer) {
    signer = parseCaSigner(ca);
    signers.set(ca, signer);
    // A refused key must be refused again next time, not cached as a rejected promise forever.
    signer.catch(() => signers.delete(ca));
  }
  return signer;
}

async function parseCaSigner(ca: SiteCa): Promise<CaSigner> {
  const certificate = new x509.X509Certificate(ca.certPem);
  // Refuse a key that does not belong to the certificate: certificates signed with it would
  // not chain, and the mistake would surface only as TLS handshake failures far away.
  const caPublic = createPublicKey(ca.certPem).export({ type: 'spki', format: 'der' });
  const keyPublic = createPublicKey(createPrivateKey(ca.keyPem)).export({ type: 'spki', format: 'der' });
  if (!caPublic.equals(keyPublic)) {
    throw new PkiError('ca_missing', 'the CA key does not match the CA certificate');
  }
  return { certificate, signingKey: await importSigningKey(ca.keyPem) };
}

/** RFC 5280 §4.2.1.1: the AKI repeats the issuer's SKI, so chains build without name matching. */
export function authorityKeyIdentifier(signer: CaSigner): InstanceType<typeof x509.AuthorityKeyIdentifierExtension> {
  const ski = signer.certificate.getExtension(x509.SubjectKeyIdentifierExtension);
  if (!ski) throw new PkiError('ca_missing', 'the CA certificate has no subject key identifier');
  return new x509.AuthorityKeyIdentifierExtension(ski.keyId, false);
}

export interface IssueServerCertificateOptions {
  hostnames: string[];
  ips: string[];
  validityDays: number;
  now?: Date;
}

/** A TLS server certificate (broker and HTTP API) with a fresh P-256 key. */
export async function issueServerCertificate(ca: SiteCa, options: IssueServerCertificateOptions): Promise<IssuedKeyPair> {
  for (const ip of options.ips) {
    if (isIP(ip) === 0) throw new PkiError('csr_malformed', `"${ip}" is not an IP address`, { ip });
  }
  const now = options.now ?? new Date();
  const signer = await caSigner(ca);
  const { privateKey, publicKey } = generateP256Key();
  const subjectPublicKey = await importPublicKey(publicKey);
  const commonName = options.hostnames[0] ?? options.ips[0] ?? 'shellguard-server';
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: [{ CN: [commonName] }],
    issuer: signer.certificate.subject,
    notBefore: new Date(now.getTime() - NOT_BEFORE_BACKDATE_MS),
    notAfter: new Date(now.getTime() + options.validityDays * DAY_MS),
    publicKey: subjectPublicKey,
    signingKey: signer.signingKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      // RFC 6125 §6.4.4 / RFC 2818: clients match the name against the SAN, never the CN.
      new x509.SubjectAlternativeNameExtension([
        ...options.hostnames.map((value) => ({ type: 'dns' as const, value })),
        ...options.ips.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(subjectPublicKey),
      authorityKeyIdentifier(signer),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: privateKeyPem(privateKey) };
}

/** The CA's public key, for callers that verify certificates with node:crypto. */
export function caPublicKey(ca: Pick<SiteCa, 'certPem'>): KeyObject {
  return new X509Certificate(ca.certPem).publicKey;
}
