/**
 * The software KeyStore: a P-256 key in `<dir>/identity.key` (PKCS#8 PEM, mode 0600), created on
 * first start and reused after. Like ssh, it refuses a key file others could read.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deviceIdFromPublicKey } from '@shellguard/protocol';
import { buildCertificateRequest } from './certificate-request.ts';
import { IdentityError } from './identity-error.ts';
import type { KeyStore } from './key-store.ts';

export const IDENTITY_KEY_FILE = 'identity.key';

export class FileKeyStore implements KeyStore {
  readonly deviceId: string;
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;

  private constructor(privateKey: KeyObject) {
    this.#privateKey = privateKey;
    this.#publicKey = createPublicKey(privateKey);
    this.deviceId = deviceIdFromPublicKey(this.#publicKey);
  }

  /** Opens the key in `dir`, generating it on first start. */
  static async open(dir: string): Promise<FileKeyStore> {
    const path = join(dir, IDENTITY_KEY_FILE);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    let pem = readKeyFile(path);
    if (pem === undefined) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const generated = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      try {
        // 'wx': never replace a key another process wrote meanwhile; the device id is the key.
        writeFileSync(path, generated, { mode: 0o600, flag: 'wx' });
        pem = generated;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        pem = readKeyFile(path)!;
      }
    }
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch {
      throw new IdentityError('key_invalid', `${path} does not contain a readable private key`, { path });
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new IdentityError('key_invalid', `${path} must hold an ECDSA P-256 key`, { path, keyType: key.asymmetricKeyType });
    }
    return new FileKeyStore(key);
  }

  publicKey(): KeyObject {
    return this.#publicKey;
  }

  sign(data: Buffer): Buffer {
    return sign('sha256', data, this.#privateKey);
  }

  async createCsr(): Promise<string> {
    return buildCertificateRequest(this.deviceId, this.#publicKey, (data) => this.sign(data));
  }

  /**
   * The private key as PEM, only because node:tls needs it to present the client certificate.
   * Pass it straight to `tls.connect`/`mqtt.connect` and do not store or log it. A TPM-backed
   * store would not implement this: it would hand TLS an OpenSSL engine/provider key reference.
   */
  tlsPrivateKeyPem(): string {
    return this.#privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }
}

/** The key file's contents, or undefined if it does not exist; refuses loose permissions. */
function readKeyFile(path: string): string | undefined {
  let mode: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new IdentityError('key_invalid', `${path} is not a regular file`, { path });
    mode = stat.mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if ((mode & 0o077) !== 0) {
    throw new IdentityError(
      'key_file_permissions',
      `identity key ${path} is accessible by group or others (mode ${(mode & 0o777).toString(8)}); run chmod 600 on it`,
      { path, mode: mode & 0o777 },
    );
  }
  return readFileSync(path, 'utf8');
}
