/**
 * A throwaway "enterprise" PKI made with the openssl command line, independent of the site PKI's
 * own code: an RSA root, an RSA intermediate and an RSA server certificate for localhost and
 * 127.0.0.1 — the shape an operator's corporate CA hands out.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface EnterprisePki {
  rootFile: string;
  rootPem: string;
  intermediatePem: string;
  leafPem: string;
  /** leaf + intermediate, as an operator gives it in api.certFile */
  chainFile: string;
  keyFile: string;
  /** Another key, not the leaf's. */
  otherKeyFile: string;
}

export function openssl(dir: string, ...args: string[]): string {
  return execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

export function createEnterprisePki(dir: string): EnterprisePki {
  writeFileSync(path.join(dir, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  writeFileSync(path.join(dir, 'leaf.ext'), [
    'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ].join('\n'));
  const rsaKey = (name: string) => openssl(dir, 'genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', `${name}.key`);
  rsaKey('corp-root');
  openssl(dir, 'req', '-x509', '-new', '-key', 'corp-root.key', '-subj', '/O=Example Corp/CN=Example Corp Root CA', '-days', '3650',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'corp-root.crt');
  rsaKey('corp-intermediate');
  openssl(dir, 'req', '-new', '-key', 'corp-intermediate.key', '-subj', '/O=Example Corp/CN=Example Corp TLS CA', '-out', 'corp-intermediate.csr');
  openssl(dir, 'x509', '-req', '-in', 'corp-intermediate.csr', '-CA', 'corp-root.crt', '-CAkey', 'corp-root.key', '-set_serial', '101',
    '-days', '1825', '-extfile', 'ca.ext', '-out', 'corp-intermediate.crt');
  rsaKey('shellguard');
  openssl(dir, 'req', '-new', '-key', 'shellguard.key', '-subj', '/O=Example Corp/CN=shellguard.example.com', '-out', 'shellguard.csr');
  openssl(dir, 'x509', '-req', '-in', 'shellguard.csr', '-CA', 'corp-intermediate.crt', '-CAkey', 'corp-intermediate.key', '-set_serial', '102',
    '-days', '90', '-extfile', 'leaf.ext', '-out', 'shellguard.crt');
  rsaKey('other');
  const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');
  const chainFile = path.join(dir, 'shellguard-chain.crt');
  writeFileSync(chainFile, read('shellguard.crt') + read('corp-intermediate.crt'));
  return {
    rootFile: path.join(dir, 'corp-root.crt'), rootPem: read('corp-root.crt'), intermediatePem: read('corp-intermediate.crt'),
    leafPem: read('shellguard.crt'), chainFile, keyFile: path.join(dir, 'shellguard.key'), otherKeyFile: path.join(dir, 'other.key'),
  };
}
