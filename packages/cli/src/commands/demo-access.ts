/**
 * How a person gets into the demo's dashboard: which certificate the browser sees and how to trust
 * it (never by turning verification off), an operator's own API certificate (`--api-cert`), and
 * the dashboard's first user.
 */
import { X509Certificate, randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ShellguardError } from '@shellguard/protocol';
import { loadApiCertificate, sha256Fingerprint, spkiSha256Base64 } from '@shellguard/server';
import { ApiClientError, createApiClient } from '../api-client.ts';

export class DemoError extends ShellguardError<'demo_api_certificate'> {}

/** The operator's API certificate as the demo uses it: where its guardians reach the API and what they trust there. */
export interface OperatorApiCertificate {
  certFile: string;
  keyFile: string;
  /** 127.0.0.1 or localhost: the name the certificate covers that reaches this machine. */
  host: string;
  /** PEM file of the CA the certificate chains to (the guardians' server.apiCaFile, curl's --cacert). */
  caFile: string;
  subject: string;
  issuer: string;
}

/**
 * Checks `--api-cert`/`--api-key` (the server checks them again at start) and works out what the
 * demo's guardians need: they attest over the API, so they must verify that certificate too.
 * Its CA is `--api-ca`, or the chain's last certificate if the file ends with its self-signed root.
 */
export function operatorApiCertificate(
  opts: { apiCert?: string; apiKey?: string; apiCa?: string }, dir: string, now = Date.now(),
): OperatorApiCertificate | undefined {
  if (opts.apiCert === undefined && opts.apiKey === undefined) {
    if (opts.apiCa !== undefined) throw new DemoError('demo_api_certificate', '--api-ca goes with --api-cert and --api-key');
    return undefined;
  }
  if (opts.apiCert === undefined || opts.apiKey === undefined) {
    throw new DemoError('demo_api_certificate', 'give --api-cert and --api-key together: the certificate chain and its private key');
  }
  const cert = loadApiCertificate({ certFile: opts.apiCert, keyFile: opts.apiKey }, { now });
  const leaf = new X509Certificate(cert.certPem);
  const host = leaf.checkIP('127.0.0.1') !== undefined ? '127.0.0.1' : leaf.checkHost('localhost') !== undefined ? 'localhost' : undefined;
  if (!host) {
    throw new DemoError('demo_api_certificate',
      `--api-cert ${opts.apiCert} (${cert.subject}) is valid neither for 127.0.0.1 nor for localhost, where the demo listens: issue one with those names (e.g. mkcert localhost 127.0.0.1)`);
  }
  let caFile = opts.apiCa;
  if (caFile === undefined) {
    const chain = cert.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
    const top = new X509Certificate(chain.at(-1)!);
    if (chain.length < 2 || !top.checkIssued(top)) {
      throw new DemoError('demo_api_certificate',
        `give --api-ca <file>: the CA certificate that issued --api-cert (for mkcert: "$(mkcert -CAROOT)/rootCA.pem"). The demo's guardians attest over the API and must verify its certificate`);
    }
    caFile = path.join(dir, 'api-ca.crt');
    writeFileSync(caFile, top.toString());
  }
  return { certFile: opts.apiCert, keyFile: opts.apiKey, host, caFile, subject: cert.subject, issuer: cert.issuer };
}

export interface TrustFacts {
  dashboardUrl: string;
  rootFile: string;
  rootPem: string;
  /** The leaf the API presents. */
  apiCertificatePem: string;
  operator?: OperatorApiCertificate;
}

/** Lines telling a person how their browser comes to trust the dashboard. */
export function trustLines(f: TrustFacts): string[] {
  const pin = spkiSha256Base64(f.apiCertificatePem);
  const lines: string[] = [];
  if (f.operator) {
    lines.push(`  trust    the dashboard presents your certificate ${f.operator.subject} (issued by ${f.operator.issuer}):`);
    lines.push('           a browser that trusts that CA opens it as it is. Guardians still verify the broker against the site root.');
  } else {
    lines.push(`  trust    the dashboard's certificate is issued by the site root CA ${f.rootFile}`);
    lines.push(`           sha256 Fingerprint=${sha256Fingerprint(f.rootPem)}   (check: openssl x509 -noout -fingerprint -sha256 -in ${f.rootFile})`);
    lines.push(`           Chromium/Chrome on Linux: certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n shellguard-demo -i ${f.rootFile}`);
    lines.push(`           macOS (Keychain):         security add-trusted-cert -r trustRoot -k ~/Library/Keychains/login.keychain-db ${f.rootFile}`);
    lines.push(`           Windows (admin shell):    certutil -addstore -f Root ${f.rootFile}`);
    lines.push('           Firefox:                  Settings › Privacy & Security › View Certificates › Authorities › Import');
    lines.push('           (each demo start makes a new site root: remove the old one, e.g. certutil -d sql:$HOME/.pki/nssdb -D -n shellguard-demo)');
  }
  lines.push(`  pin      SPKI sha256 of the dashboard's certificate: ${pin}`);
  lines.push(`           local testing without installing anything: chromium --user-data-dir=$(mktemp -d) --ignore-certificate-errors-spki-list=${pin} ${f.dashboardUrl}`);
  return lines;
}

const PASSWORD_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 20 characters of A-Z a-z 0-9 from the CSPRNG (~119 bits). */
export function randomPassword(length = 20): string {
  let out = '';
  for (let i = 0; i < length; i++) out += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return out;
}

export interface DashboardAdminOptions {
  /** https://host:port of the API. */
  server: string;
  token: string;
  /** The CA the API's certificate chains to. */
  caFile: string;
  /** Where admin-password is written (0600). */
  dir: string;
  username?: string;
}

/**
 * Creates the dashboard's admin user over the API (POST /users with the admin token), as an
 * operator would, and says how to sign in. A build without dashboard users (404) is told, not fatal.
 */
export interface DashboardAccess {
  lines: string[];
  admin?: { username: string; password: string };
}

export async function createDashboardAdmin(opts: DashboardAdminOptions): Promise<DashboardAccess> {
  const username = opts.username ?? 'admin';
  let password = randomPassword();
  // The server refuses a password that contains the username.
  while (password.toLowerCase().includes(username)) password = randomPassword();
  const api = createApiClient({ server: opts.server, token: opts.token, ca: opts.caFile });
  try {
    await api.post('/users', { username, role: 'admin', password });
  } catch (err) {
    if (err instanceof ApiClientError && err.status === 404) return { lines: ['  sign in  dashboard users not available in this build (no POST /api/v1/users): use the admin token'] };
    if (err instanceof ApiClientError) return { lines: [`  sign in  could not create the dashboard user ${username}: ${err.describe()}`] };
    throw err;
  }
  const passwordFile = path.join(opts.dir, 'admin-password');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  return { lines: [`  sign in  sign in as ${username} / ${password}   (kept in ${passwordFile})`], admin: { username, password } };
}
