import { readFileSync, writeFileSync } from 'node:fs';
import { initCaDirectory, issueDeviceCertificate, loadCa } from '@shellguard/server';

export async function initCa(opts: { dir: string; name: string }): Promise<void> {
  await initCaDirectory(opts.dir, { commonName: opts.name });
  process.stdout.write(`site CA created in ${opts.dir} (ca.crt, ca.key: keep ca.key offline or on the server only)\n`);
}

export async function issueCertificate(opts: { dir: string; csr: string; out: string; hours: number }): Promise<void> {
  const ca = loadCa(opts.dir);
  const certPem = await issueDeviceCertificate(ca, readFileSync(opts.csr, 'utf8'), { validityHours: opts.hours });
  writeFileSync(opts.out, certPem);
  process.stdout.write(`certificate written to ${opts.out}, valid ${opts.hours} h\n`);
}
