/**
 * An operator's certificate for the HTTPS API and web dashboard (server config api.certFile and
 * api.keyFile): typically issued by the enterprise CA the staff's browsers already trust, so the
 * dashboard opens without a warning. The MQTT broker keeps the site certificate: guardians trust
 * the site root, not the enterprise's.
 *
 * Read once at start and checked as a TLS client would check it, so a wrong file stops the start
 * with a message saying what to do, instead of every browser failing later with a TLS alert.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { PkiError } from './pki-error.ts';

export interface ApiCertificateFiles {
  /** PEM: the server (leaf) certificate first, then its intermediates. */
  certFile: string;
  /** PEM private key of the leaf, unencrypted. */
  keyFile: string;
}

export interface ApiCertificate {
  /** The leaf alone. */
  certPem: string;
  /** Leaf then the rest of the file's chain: what the listener presents. */
  chainPem: string;
  keyPem: string;
  subject: string;
  issuer: string;
  /** ms since epoch. */
  notAfter: number;
  /** Worth telling the operator, not worth refusing to start for. */
  warnings: string[];
}

export interface LoadApiCertificateOptions {
  /** ms since epoch. */
  now: number;
  /** The names the server is reached by (config tlsNames): a warning if the certificate covers none. */
  names?: { hostnames: readonly string[]; ips: readonly string[] };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const DAY_MS = 86_400_000;
const RENEW_WARNING_DAYS = 30;

/** Reads, parses and checks the operator's API certificate and key. Throws PkiError `api_certificate_*`. */
export function loadApiCertificate(files: ApiCertificateFiles, options: LoadApiCertificateOptions): ApiCertificate {
  const { certFile, keyFile } = files;
  const certText = readSetting('api.certFile', certFile, 'the PEM certificate chain of the API (server certificate first)');
  const keyText = readSetting('api.keyFile', keyFile, 'the PEM private key of that certificate');

  const pems = certText.match(PEM_CERTIFICATE) ?? [];
  if (pems.length === 0) {
    throw new PkiError('api_certificate_invalid',
      `api.certFile ${certFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----); a DER file converts with: openssl x509 -inform der -in ${certFile} -out api.crt`,
      { file: certFile });
  }
  const chain = pems.map((pem, i) => {
    try {
      return new X509Certificate(pem);
    } catch (err) {
      throw new PkiError('api_certificate_invalid', `certificate ${i + 1} in api.certFile ${certFile} cannot be parsed (${(err as Error).message}): export it again from the CA`, { file: certFile });
    }
  });
  const key = parseKey(keyText, keyFile);
  const leaf = chain[0]!;
  const subject = oneLine(leaf.subject);

  if (!leaf.checkPrivateKey(key)) {
    const owner = chain.findIndex((c) => c.checkPrivateKey(key));
    throw new PkiError('api_certificate_key_mismatch', owner > 0
      ? `api.keyFile ${keyFile} belongs to certificate ${owner + 1} in api.certFile ${certFile}, not the first: put the server certificate first, then its intermediates`
      : `api.keyFile ${keyFile} is not the private key of the certificate in api.certFile ${certFile} (${subject}): give the key the certificate was issued for`,
    { certFile, keyFile, subject });
  }
  // RFC 5280 §6.1: each certificate is issued by the next; a client that receives them out of
  // order (or with a stranger in between) cannot build the path.
  for (let i = 1; i < chain.length; i++) {
    if (!chain[i - 1]!.checkIssued(chain[i]!) || !chain[i - 1]!.verify(chain[i]!.publicKey)) {
      throw new PkiError('api_certificate_invalid',
        `certificate ${i + 1} in api.certFile ${certFile} (${oneLine(chain[i]!.subject)}) did not issue certificate ${i} (${oneLine(chain[i - 1]!.subject)}): order the file server certificate first, then each issuer`,
        { file: certFile });
    }
  }
  for (const [i, cert] of chain.entries()) {
    const which = i === 0 ? `the API certificate in ${certFile} (${oneLine(cert.subject)})` : `certificate ${i + 1} in api.certFile ${certFile} (${oneLine(cert.subject)})`;
    if (Date.parse(cert.validTo) <= options.now) {
      throw new PkiError('api_certificate_expired', `${which} expired on ${isoDate(cert.validTo)}: renew it with its CA (${oneLine(cert.issuer)})`,
        { file: certFile, subject: oneLine(cert.subject), validTo: cert.validTo });
    }
    if (Date.parse(cert.validFrom) > options.now) {
      throw new PkiError('api_certificate_not_yet_valid', `${which} is valid only from ${isoDate(cert.validFrom)}: check this machine's clock`,
        { file: certFile, subject: oneLine(cert.subject), validFrom: cert.validFrom });
    }
  }

  const warnings: string[] = [];
  const notAfter = Date.parse(leaf.validTo);
  const daysLeft = Math.floor((notAfter - options.now) / DAY_MS);
  if (daysLeft < RENEW_WARNING_DAYS) warnings.push(`the API certificate ${subject} expires in ${daysLeft} days (${isoDate(leaf.validTo)}): renew it`);
  const names = options.names;
  if (names && (names.hostnames.length > 0 || names.ips.length > 0)
    && !names.hostnames.some((h) => leaf.checkHost(h) !== undefined) && !names.ips.some((ip) => leaf.checkIP(ip) !== undefined)) {
    warnings.push(`the API certificate ${subject} is valid for none of tlsNames (${[...names.hostnames, ...names.ips].join(', ')}): browsers will refuse it under those names`);
  }
  if (isReadableByOthers(keyFile)) warnings.push(`api.keyFile ${keyFile} is readable by other users: chmod 600 it`);

  return {
    certPem: leaf.toString(), chainPem: chain.map((c) => c.toString()).join(''), keyPem: keyText,
    subject, issuer: oneLine(leaf.issuer), notAfter, warnings,
  };
}

function readSetting(setting: string, file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist'
      : code === 'EACCES' || code === 'EPERM' ? 'cannot be read (permission denied): let the user running shellguard read it'
        : code === 'EISDIR' ? 'is a folder, not a file' : `cannot be read (${(err as Error).message})`;
    throw new PkiError('api_certificate_unreadable',
      `${setting} ${file} ${why}; it should hold ${what} (or leave out api.certFile and api.keyFile to use a certificate from the site CA)`,
      { setting, file });
  }
}

function parseKey(text: string, file: string): KeyObject {
  if (/-----BEGIN (?:ENCRYPTED PRIVATE KEY|[A-Z ]*PRIVATE KEY-----[\s\S]*?Proc-Type: 4,ENCRYPTED)/.test(text)) {
    throw new PkiError('api_certificate_invalid',
      `api.keyFile ${file} is encrypted and the server cannot ask for its passphrase: decrypt it (openssl pkey -in ${file} -out api.key), keep the copy readable only by shellguard (chmod 600) and point api.keyFile at it`,
      { file });
  }
  try {
    return createPrivateKey(text);
  } catch (err) {
    throw new PkiError('api_certificate_invalid', `api.keyFile ${file} is not a PEM private key (${(err as Error).message})`, { file });
  }
}

function isReadableByOthers(file: string): boolean {
  try {
    return process.platform !== 'win32' && (statSync(file).mode & 0o077) !== 0;
  } catch {
    return false;
  }
}

/** X509Certificate prints a name one RDN a line; a message wants it on one. */
function oneLine(name: string): string {
  return name.split('\n').join(', ');
}

function isoDate(text: string): string {
  return new Date(text).toISOString().replace('.000Z', 'Z');
}
