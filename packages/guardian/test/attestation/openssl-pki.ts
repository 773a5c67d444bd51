/**
 * A throwaway site PKI for guardian tests, made with the openssl command line (the guardian has
 * no X.509 library and must not import the server's PKI): root CA -> issuing CA -> server TLS
 * certificate for 127.0.0.1 and device certificates for any public key.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TestPki {
  rootPem: string;
  issuingPem: string;
  /** server certificate + issuing CA */
  serverChainPem: string;
  serverKeyPem: string;
  /** A leaf for `publicKeyPem` (SPKI PEM) with CN = commonName, signed by the issuing CA (or `signer`). */
  issueLeaf(publicKeyPem: string, commonName: string, options?: { days?: number; signer?: 'issuing' | 'root' }): string;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(dir: string, name: string): void {
  openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
}

let serial = 1000;

export function createTestPki(dir: string, rootName = 'Test Root'): TestPki {
  writeFileSync(path.join(dir, 'ca.ext'), [
    'basicConstraints=critical,CA:TRUE',
    'keyUsage=critical,keyCertSign,cRLSign',
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid',
  ].join('\n'));
  writeFileSync(path.join(dir, 'server.ext'), [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1',
  ].join('\n'));
  writeFileSync(path.join(dir, 'device.ext'), [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=clientAuth',
  ].join('\n'));

  newKey(dir, 'root');
  openssl(dir, 'req', '-x509', '-new', '-key', 'root.key', '-subj', `/CN=${rootName}`, '-days', '3650', '-out', 'root.crt');
  newKey(dir, 'issuing');
  openssl(dir, 'req', '-new', '-key', 'issuing.key', '-subj', `/CN=${rootName} Issuing`, '-out', 'issuing.csr');
  openssl(dir, 'x509', '-req', '-in', 'issuing.csr', '-CA', 'root.crt', '-CAkey', 'root.key', '-set_serial', String(serial++),
    '-days', '3650', '-extfile', 'ca.ext', '-out', 'issuing.crt');
  newKey(dir, 'server');
  openssl(dir, 'req', '-new', '-key', 'server.key', '-subj', '/CN=127.0.0.1', '-out', 'server.csr');
  openssl(dir, 'x509', '-req', '-in', 'server.csr', '-CA', 'issuing.crt', '-CAkey', 'issuing.key', '-set_serial', String(serial++),
    '-days', '30', '-extfile', 'server.ext', '-out', 'server.crt');

  const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');
  const issuingPem = read('issuing.crt');
  return {
    rootPem: read('root.crt'),
    issuingPem,
    serverChainPem: read('server.crt') + issuingPem,
    serverKeyPem: read('server.key'),
    issueLeaf(publicKeyPem, commonName, options = {}) {
      const n = serial++;
      const signer = options.signer ?? 'issuing';
      writeFileSync(path.join(dir, `leaf-${n}.pub`), publicKeyPem);
      openssl(dir, 'x509', '-new', '-subj', `/CN=${commonName}`, '-force_pubkey', `leaf-${n}.pub`, '-CA', `${signer}.crt`,
        '-CAkey', `${signer}.key`, '-set_serial', String(n), '-days', String(options.days ?? 1), '-extfile', 'device.ext',
        '-out', `leaf-${n}.crt`);
      return read(`leaf-${n}.crt`);
    },
  };
}
