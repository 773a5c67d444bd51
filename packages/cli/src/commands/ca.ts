import { openPki } from '@shellguard/server';

export async function initCa(opts: { dir: string; name: string }): Promise<void> {
  const pki = await openPki(opts.dir, { commonName: opts.name });
  process.stdout.write(`site PKI ready in ${opts.dir}: root CA (root.crt, root.key — move root.key offline once the issuing CA exists) and issuing CA ${pki.issuingCertPems().length > 1 ? '(several)' : ''}\n`);
}

/** A new issuing CA signed by the root; certificates from the old one stay valid until they expire. */
export async function rotateCa(opts: { dir: string }): Promise<void> {
  const pki = await openPki(opts.dir);
  await pki.rotate();
  process.stdout.write(`new issuing CA created; ${pki.issuingCertPems().length} issuing CAs are trusted through the root\n`);
}
