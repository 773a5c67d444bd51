import { ROOT_KEY_FILE, initPki, openPki } from '@shellguard/server';

/** `ca init`: the only way a site PKI comes into being (a server never creates one). */
export async function initCa(opts: { dir: string; name: string }): Promise<void> {
  // The CAs are named "<site> root CA" and "<site> issuing CA <time>"; accept the full root name too.
  const pki = await initPki(opts.dir, { commonName: opts.name.replace(/ root CA$/, '') });
  process.stdout.write(`site PKI created in ${opts.dir}: root CA (root.crt, and ${ROOT_KEY_FILE}: move it offline once the issuing CA exists) and ${pki.issuingCertPems().length} issuing CA\n`);
}

/** A new issuing CA signed by the root; certificates from the old one stay valid until they expire. */
export async function rotateCa(opts: { dir: string }): Promise<void> {
  const pki = await openPki(opts.dir);
  await pki.rotate();
  process.stdout.write(`new issuing CA created; ${pki.issuingCertPems().length} issuing CAs are trusted through the root\n`);
}
