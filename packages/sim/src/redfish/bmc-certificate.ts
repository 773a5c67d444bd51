/**
 * Certificates for simulated BMCs: a self-signed one (what most BMCs ship with, trusted by pin)
 * or one issued by a throwaway CA (trusted by CA file). P-256 keys from node's WebCrypto; the key
 * material is returned as PEM and never written anywhere by this module.
 */
import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface BmcCertificate {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the certificate's DER, lower-case hex: the pin a guardian configures. */
  sha256: string;
}

export interface IssuedBmcCertificate extends BmcCertificate {
  /** The issuing CA's certificate, PEM: the guardian's redfish.tls.caFile. */
  caPem: string;
}

export interface BmcCertificateOptions {
  /** Names the certificate is valid for: host names and IP addresses (default 127.0.0.1, localhost). */
  hosts?: string[];
  commonName?: string;
  validityDays?: number;
  now?: Date;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');
}

function leafExtensions(hosts: string[]): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
    new x509.SubjectAlternativeNameExtension(hosts.map((h) => (isIP(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h }))),
  ];
}

async function finish(cert: x509.X509Certificate, keys: webcrypto.CryptoKeyPair): Promise<BmcCertificate> {
  return {
    certPem: cert.toString('pem'),
    keyPem: pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
    sha256: createHash('sha256').update(Buffer.from(cert.rawData)).digest('hex'),
  };
}

/** A self-signed BMC certificate, as BMCs generate at first boot. */
export async function createSelfSignedBmcCertificate(options: BmcCertificateOptions = {}): Promise<BmcCertificate> {
  const now = options.now ?? new Date();
  const hosts = options.hosts ?? ['127.0.0.1', 'localhost'];
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${options.commonName ?? 'Simulated BMC'}`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + (options.validityDays ?? 30) * DAY_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: leafExtensions(hosts),
  });
  return finish(cert, keys);
}

/** A BMC certificate issued by a new throwaway CA (returned with it), as an operator's PKI would. */
export async function createCaIssuedBmcCertificate(options: BmcCertificateOptions = {}): Promise<IssuedBmcCertificate> {
  const now = options.now ?? new Date();
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + (options.validityDays ?? 30) * DAY_MS);
  const caKeys = await keyPair();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(), name: 'CN=Simulated BMC CA', notBefore, notAfter, keys: caKeys, signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${options.commonName ?? 'Simulated BMC'}`,
    issuer: ca.subject,
    notBefore, notAfter,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: ALG,
    extensions: leafExtensions(options.hosts ?? ['127.0.0.1', 'localhost']),
  });
  return { ...(await finish(cert, keys)), caPem: ca.toString('pem') };
}
