/**
 * The CA on disk: `<dir>/ca.crt` (public) and `<dir>/ca.key` (mode 0600). Creation never
 * overwrites, and loading never creates: replacing a CA silently would orphan every certificate
 * in the field.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { PkiError } from './pki-error.ts';
import { createSiteCa, type CreateSiteCaOptions, type SiteCa } from './site-ca.ts';

export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';

const DEFAULT_CA: CreateSiteCaOptions = { commonName: 'Shellguard site CA', validityDays: 3650 };


/** Creates a new CA in `dir`. Throws `ca_exists` if either file is already there. */
export async function initCaDirectory(dir: string, options: Partial<CreateSiteCaOptions> = {}): Promise<SiteCa> {
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  if (existsSync(certPath) || existsSync(keyPath)) {
    throw new PkiError('ca_exists', `a CA already exists in ${dir}; refusing to overwrite it`, { dir });
  }
  const ca = await createSiteCa({ ...DEFAULT_CA, ...options });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // 'wx' fails if the file appeared meanwhile; the key is written before the certificate so a
  // crash never leaves a certificate without its key.
  try {
    writeFileSync(keyPath, ca.keyPem, { mode: 0o600, flag: 'wx' });
    writeFileSync(certPath, ca.certPem, { mode: 0o644, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new PkiError('ca_exists', `a CA already exists in ${dir}; refusing to overwrite it`, { dir });
    }
    throw err;
  }
  return ca;
}

/** Reads the CA from `dir`, refusing a key file readable by group or others. */
export function loadCa(dir: string): SiteCa {
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  let mode: number;
  try {
    mode = statSync(keyPath).mode;
  } catch {
    throw new PkiError('ca_missing', `no CA key at ${keyPath}: create the CA there first, or point at the folder that holds it`, { path: keyPath });
  }
  if ((mode & 0o077) !== 0) {
    throw new PkiError('key_file_permissions', `${keyPath} is accessible by group or others (mode ${(mode & 0o777).toString(8)}); run chmod 600 on it`, {
      path: keyPath,
      mode: mode & 0o777,
    });
  }
  try {
    return { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
  } catch {
    throw new PkiError('ca_missing', `could not read the CA from ${dir}`, { dir });
  }
}
