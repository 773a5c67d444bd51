/**
 * The site PKI: a ROOT CA whose key may live offline, and ISSUING CAs signed by it whose keys
 * stay on the server. The newest issuing CA signs the server's TLS certificate and every device
 * certificate; relying parties trust only the root, so a new issuing CA (rotate) takes over
 * without invalidating what the previous ones signed: rotation without downtime.
 *
 * On disk (`caDir`):
 *   root.crt                    the trust anchor
 *   root.key                    0600; may be moved offline, only `rotate` needs it
 *   issuing/<timestamp>.crt     one per issuing CA, the newest is current
 *   issuing/<timestamp>.key     0600
 * Files are never overwritten: replacing a CA would orphan every certificate in the field.
 */
import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEVICE_ID_PATTERN, deviceIdFromPublicKey } from '@shellguard/protocol';
import { isP256 } from './keys.ts';
import { PkiError } from './pki-error.ts';
import { OPERATIONAL_POLICY_OID, hasOperationalPolicy } from './operational-policy.ts';
import {
  createIssuingCa, createSiteCa, issueServerCertificate as issueServerCertificateFrom,
  type IssueServerCertificateOptions, type SiteCa,
} from './site-ca.ts';
import { signDeviceCertificate } from './device-certificate.ts';
import { createCrl, type RevokedCertificate } from './certificate-revocation-list.ts';

export const ROOT_CERT_FILE = 'root.crt';
export const ROOT_KEY_FILE = 'root.key';
export const ISSUING_DIR = 'issuing';

/** Root: 20 years. It is the anchor every device and server trusts; replacing it is a project. */
const ROOT_VALIDITY_DAYS = 7300;
/** Issuing CAs: 2 years, rotated well before that. */
const ISSUING_VALIDITY_DAYS = 730;
const DEFAULT_COMMON_NAME = 'Shellguard site';

/** A time given as a Date or as ms since epoch. */
export type Instant = Date | number;

export interface OpenPkiOptions {
  /** Where every `now` left out comes from (ms since epoch). Default Date.now. */
  clock?: () => number;
  /** Used to name the CAs created: "<commonName> root CA", "<commonName> issuing CA <time>". Default: the root's name. */
  commonName?: string;
}

export interface InitPkiOptions extends OpenPkiOptions {
  /** The time of creation; default clock(). */
  now?: Instant;
}

export interface DeviceKey {
  deviceId: string;
  publicKey: KeyObject;
}

export interface SignCertificateOptions {
  /** 24 h for operational certificates (ARCHITECTURE.md §2). */
  validityHours: number;
  now?: Instant;
}

export interface SignedCertificate {
  /** The leaf certificate alone, PEM. */
  certPem: string;
  /** Leaf then issuing CA, PEM: what a device presents in its TLS handshake. */
  chainPem: string;
  /** Lowercase hex, as the broker's isDeviceAllowed receives it and the CRL lists it. */
  serial: string;
  /** ms since epoch. */
  notAfter: number;
}

export interface ServerCertificate {
  /** The leaf alone. */
  certPem: string;
  /** Leaf then issuing CA: give THIS to a TLS server as its certificate. */
  chainPem: string;
  keyPem: string;
  serial: string;
  notAfter: number;
}

export interface Pki {
  /** The trust anchor for devices and the broker. */
  readonly rootPem: string;
  /** The newest issuing CA. */
  current(): SiteCa;
  /** Every issuing CA certificate, newest first. */
  issuingCertPems(): string[];
  /** An operational device certificate (carries OPERATIONAL_POLICY_OID) from the current issuing CA. */
  signOperationalCertificate(device: DeviceKey, options: SignCertificateOptions): Promise<SignedCertificate>;
  /** The same chain WITHOUT the operational policy: the broker refuses it. */
  issueIdentityCertificate(device: DeviceKey, options: SignCertificateOptions): Promise<SignedCertificate>;
  /** A TLS server certificate with a fresh key, from the current issuing CA. */
  issueServerCertificate(options: IssueServerCertificateOptions): Promise<ServerCertificate>;
  /** A new issuing CA signed by the root becomes current. Throws `root_key_offline` without root.key. */
  rotate(options?: { now?: Instant }): Promise<void>;
  /** One PEM CRL per issuing CA (newest first), each signed by it and listing every given serial. */
  generateCrls(revoked: readonly RevokedCertificate[], now?: Instant): Promise<string[]>;
  /** Carries the operational policy and was signed by one of this PKI's issuing CAs (validity period not checked). */
  isOperationalCertificate(cert: X509Certificate | string): boolean;
}

interface IssuingCa extends SiteCa {
  cert: X509Certificate;
}



/** Reads a private key file, refusing one readable by group or others. */
function readKeyFile(path: string): string {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    throw new PkiError('ca_missing', `no key at ${path}`, { path });
  }
  if ((mode & 0o077) !== 0) {
    throw new PkiError('key_file_permissions', `${path} is accessible by group or others (mode ${(mode & 0o777).toString(8)}); run chmod 600 on it`, {
      path,
      mode: mode & 0o777,
    });
  }
  return readFileSync(path, 'utf8');
}

/** Key first, then certificate, both exclusive-create: a crash never leaves a certificate without its key. */
function writeCa(certPath: string, keyPath: string, ca: SiteCa): void {
  try {
    writeFileSync(keyPath, ca.keyPem, { mode: 0o600, flag: 'wx' });
    writeFileSync(certPath, ca.certPem, { mode: 0o644, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new PkiError('ca_exists', `${certPath} or its key already exists; refusing to overwrite it`, { path: certPath });
    }
    throw err;
  }
}

/** PEM blocks one after the other, each ending its line (TLS stacks read the chain leaf first). */
function pemChain(...pems: string[]): string {
  return pems.map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`)).join('');
}

/** File-name timestamp that sorts like the time: 2030-01-01T00-00-00.000Z. */
function fileTimestamp(date: Date): string {
  return date.toISOString().replace(/:/g, '-');
}

function sameKey(certPem: string, keyPem: string): boolean {
  try {
    const fromCert = createPublicKey(certPem).export({ type: 'spki', format: 'der' });
    const fromKey = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
    return fromCert.equals(fromKey);
  } catch {
    return false;
  }
}

function loadIssuingCas(issuingDir: string, root: X509Certificate): IssuingCa[] {
  const names = existsSync(issuingDir) ? readdirSync(issuingDir).filter((name) => name.endsWith('.crt')).sort().reverse() : [];
  return names.map((name) => {
    const certPath = join(issuingDir, name);
    const keyPath = join(issuingDir, `${name.slice(0, -'.crt'.length)}.key`);
    const certPem = readFileSync(certPath, 'utf8');
    const keyPem = readKeyFile(keyPath);
    const cert = new X509Certificate(certPem);
    if (!cert.ca || !cert.checkIssued(root) || !cert.verify(root.publicKey)) {
      throw new PkiError('ca_invalid', `${certPath} is not a CA signed by the root CA`, { path: certPath });
    }
    if (!sameKey(certPem, keyPem)) {
      throw new PkiError('ca_invalid', `${keyPath} does not belong to ${certPath}`, { path: keyPath });
    }
    return { certPem, keyPem, cert };
  });
}

async function createIssuingCaFile(caDir: string, root: SiteCa, commonName: string, now: Date): Promise<void> {
  const issuingDir = join(caDir, ISSUING_DIR);
  mkdirSync(issuingDir, { recursive: true, mode: 0o700 });
  const ca = await createIssuingCa(root, {
    commonName: `${commonName} issuing CA ${now.toISOString()}`, validityDays: ISSUING_VALIDITY_DAYS, now,
  });
  // Two rotations within one millisecond: the second takes the next free name.
  for (let offset = 0; ; offset++) {
    const base = join(issuingDir, fileTimestamp(new Date(now.getTime() + offset)));
    if (existsSync(`${base}.crt`) || existsSync(`${base}.key`)) continue;
    writeCa(`${base}.crt`, `${base}.key`, ca);
    return;
  }
}

/** The root's common name, to name the issuing CAs after it. */
function siteNameOf(root: X509Certificate): string {
  const match = /(?:^|\n)CN=(.*)/.exec(root.subject);
  return match?.[1]?.replace(/ root CA$/, '') ?? DEFAULT_COMMON_NAME;
}

function instantFrom(clock: () => number): (instant: Instant | undefined) => Date {
  return (instant) => {
    if (instant === undefined) return new Date(clock());
    return instant instanceof Date ? instant : new Date(instant);
  };
}

/** The root certificate, refusing a root.key left without it (a new root would orphan every device). */
function rootCertPathIn(caDir: string): string | undefined {
  const rootCertPath = join(caDir, ROOT_CERT_FILE);
  if (existsSync(rootCertPath)) return rootCertPath;
  const rootKeyPath = join(caDir, ROOT_KEY_FILE);
  if (existsSync(rootKeyPath)) {
    throw new PkiError('ca_missing', `${rootKeyPath} exists without ${rootCertPath}; restore the certificate`, { dir: caDir });
  }
  return undefined;
}

/** The root certificate from disk, refusing one that is not a self-signed CA. */
function readRoot(rootCertPath: string): { rootPem: string; root: X509Certificate } {
  const rootPem = readFileSync(rootCertPath, 'utf8');
  const root = new X509Certificate(rootPem);
  if (!root.ca || !root.verify(root.publicKey)) {
    throw new PkiError('ca_invalid', `${rootCertPath} is not a self-signed CA certificate`, { path: rootCertPath });
  }
  return { rootPem, root };
}

function hasIssuingCa(caDir: string): boolean {
  const issuingDir = join(caDir, ISSUING_DIR);
  return existsSync(issuingDir) && readdirSync(issuingDir).some((name) => name.endsWith('.crt'));
}

/**
 * Creates the site PKI in `caDir` (`shellguard ca init`): a root CA and a first issuing CA.
 * Refuses a folder that already holds one (`ca_exists`): a second root would orphan every
 * certificate in the field. A root left without an issuing CA (an interrupted init) is completed.
 */
export async function initPki(caDir: string, options: InitPkiOptions = {}): Promise<Pki> {
  const toDate = instantFrom(options.clock ?? Date.now);
  const existingRoot = rootCertPathIn(caDir);
  if (existingRoot && hasIssuingCa(caDir)) {
    throw new PkiError('ca_exists', `a site PKI already exists in ${caDir}; refusing to create another: use it as it is, or \`shellguard ca rotate --dir ${caDir}\` for a new issuing CA`, { dir: caDir });
  }
  const now = toDate(options.now);
  if (!existingRoot) {
    const commonName = options.commonName ?? DEFAULT_COMMON_NAME;
    const root = await createSiteCa({ commonName: `${commonName} root CA`, validityDays: ROOT_VALIDITY_DAYS, now, pathLength: 1 });
    mkdirSync(caDir, { recursive: true, mode: 0o700 });
    writeCa(join(caDir, ROOT_CERT_FILE), join(caDir, ROOT_KEY_FILE), root);
  }
  const { rootPem, root } = readRoot(join(caDir, ROOT_CERT_FILE));
  await createIssuingCaFile(caDir, rootWithKey(caDir, rootPem), options.commonName ?? siteNameOf(root), now);
  return openPki(caDir, options);
}

/** The root with its key, read from disk at the moment it is needed (it may come and go). */
function rootWithKey(caDir: string, rootPem: string): SiteCa {
  const rootKeyPath = join(caDir, ROOT_KEY_FILE);
  if (!existsSync(rootKeyPath)) {
    throw new PkiError('root_key_offline', `the root CA key is not in ${caDir}; bring ${ROOT_KEY_FILE} back to create an issuing CA`, { dir: caDir });
  }
  const keyPem = readKeyFile(rootKeyPath);
  if (!sameKey(rootPem, keyPem)) {
    throw new PkiError('ca_invalid', `${rootKeyPath} does not belong to ${join(caDir, ROOT_CERT_FILE)}`, { path: rootKeyPath });
  }
  return { certPem: rootPem, keyPem };
}

/**
 * Opens the existing site PKI in `caDir`; creates nothing. A missing one is `ca_missing` with what
 * to do: creating a CA is `shellguard ca init`, never a side effect of starting a server, since a
 * new root would lock out every guardian already enrolled. root.key is needed only to rotate.
 */
export async function openPki(caDir: string, options: OpenPkiOptions = {}): Promise<Pki> {
  const toDate = instantFrom(options.clock ?? Date.now);
  const rootCertPath = rootCertPathIn(caDir);
  if (!rootCertPath) {
    throw new PkiError('ca_missing', `no site PKI in ${caDir}: create one with \`shellguard ca init --dir ${caDir}\` (first start), or point caDir at the existing one`, { dir: caDir });
  }
  const issuingDir = join(caDir, ISSUING_DIR);
  const { rootPem, root } = readRoot(rootCertPath);
  const siteName = options.commonName ?? siteNameOf(root);

  let issuing = loadIssuingCas(issuingDir, root);
  if (issuing.length === 0) {
    throw new PkiError('ca_missing', `no issuing CA in ${issuingDir}: finish the site PKI with \`shellguard ca init --dir ${caDir}\` (needs ${ROOT_KEY_FILE})`, { dir: caDir });
  }

  function current(): IssuingCa {
    return issuing[0]!;
  }

  async function signDevice(device: DeviceKey, options: SignCertificateOptions, policies: string[]): Promise<SignedCertificate> {
    if (!isP256(device.publicKey) || !DEVICE_ID_PATTERN.test(device.deviceId) || deviceIdFromPublicKey(device.publicKey) !== device.deviceId) {
      throw new PkiError('csr_id_mismatch', 'the device id must be the SHA-256 of its P-256 public key', { deviceId: device.deviceId });
    }
    const ca = current();
    const publicKey = device.publicKey.type === 'public' ? device.publicKey : createPublicKey(device.publicKey);
    const certPem = await signDeviceCertificate(
      ca,
      { deviceId: device.deviceId, publicKey, publicKeySpki: publicKey.export({ type: 'spki', format: 'der' }) },
      { validityHours: options.validityHours, now: toDate(options.now), certificatePolicies: policies },
    );
    const cert = new X509Certificate(certPem);
    return { certPem, chainPem: pemChain(certPem, ca.certPem), serial: cert.serialNumber.toLowerCase(), notAfter: Date.parse(cert.validTo) };
  }

  return {
    rootPem,

    current() {
      const { certPem, keyPem } = current();
      return { certPem, keyPem };
    },

    issuingCertPems() {
      return issuing.map((ca) => ca.certPem);
    },

    signOperationalCertificate(device, options) {
      return signDevice(device, options, [OPERATIONAL_POLICY_OID]);
    },

    issueIdentityCertificate(device, options) {
      return signDevice(device, options, []);
    },

    async issueServerCertificate(options) {
      const ca = current();
      const issued = await issueServerCertificateFrom(ca, { ...options, now: options.now ?? toDate(undefined) });
      const cert = new X509Certificate(issued.certPem);
      return {
        certPem: issued.certPem, chainPem: pemChain(issued.certPem, ca.certPem), keyPem: issued.keyPem,
        serial: cert.serialNumber.toLowerCase(), notAfter: Date.parse(cert.validTo),
      };
    },

    async rotate(rotateOptions = {}) {
      await createIssuingCaFile(caDir, rootWithKey(caDir, rootPem), siteName, toDate(rotateOptions.now));
      issuing = loadIssuingCas(issuingDir, root);
    },

    async generateCrls(revoked, now) {
      const at = toDate(now);
      return Promise.all(issuing.map((ca) => createCrl(ca, revoked, { now: at })));
    },

    isOperationalCertificate(cert) {
      let parsed: X509Certificate;
      try {
        parsed = typeof cert === 'string' ? new X509Certificate(cert) : cert;
      } catch {
        return false;
      }
      if (parsed.ca || !hasOperationalPolicy(parsed)) return false;
      return issuing.some((ca) => parsed.checkIssued(ca.cert) && parsed.verify(ca.cert.publicKey));
    },
  };
}
