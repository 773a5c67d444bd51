import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deviceIdFromPublicKey } from '@shellguard/protocol';
import { OPERATIONAL_POLICY_OID, certificatePolicies, initPki, openPki, type DeviceKey } from '../../src/pki/index.ts';
import { x509 } from '../../src/pki/x509.ts';

const NOW = new Date('2030-01-01T00:00:00Z');
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

function newDevice(): DeviceKey {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { deviceId: deviceIdFromPublicKey(publicKey), publicKey };
}

/** Runs openssl; returns its exit status and everything it printed. */
function openssl(args: string[]): { status: number | null; out: string } {
  const result = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

/** Seconds since epoch, for openssl -attime (the certificates live in 2030). */
const atNow = (at: Date = NOW): string => String(Math.floor(at.getTime() / 1000) + 60);

describe('initPki and openPki', () => {
  let base: string;
  let caDir: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'sg-pki-'));
    caDir = join(base, 'ca');
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  function write(name: string, content: string): string {
    const path = join(base, name);
    writeFileSync(path, content);
    return path;
  }

  function issuingFiles(): string[] {
    return readdirSync(join(caDir, 'issuing')).sort();
  }

  it('initPki creates a root and a first issuing CA, with keys readable only by their owner', async () => {
    const pki = await initPki(caDir, { now: NOW, commonName: 'Site 1' });
    expect(statSync(join(caDir, 'root.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(caDir, 'root.crt'), 'utf8')).toBe(pki.rootPem);
    const files = issuingFiles();
    expect(files).toEqual(['2030-01-01T00-00-00.000Z.crt', '2030-01-01T00-00-00.000Z.key']);
    expect(statSync(join(caDir, 'issuing', files[1]!)).mode & 0o777).toBe(0o600);

    const root = new X509Certificate(pki.rootPem);
    const issuing = new X509Certificate(pki.current().certPem);
    expect(root.subject).toBe('CN=Site 1 root CA');
    expect(root.verify(root.publicKey)).toBe(true);
    expect(issuing.ca).toBe(true);
    expect(issuing.checkIssued(root) && issuing.verify(root.publicKey)).toBe(true);
    expect(pki.issuingCertPems()).toEqual([pki.current().certPem]);
  });

  it('openPki loads the same hierarchy on the next start', async () => {
    const first = await initPki(caDir, { now: NOW });
    const second = await openPki(caDir);
    expect(second.rootPem).toBe(first.rootPem);
    expect(second.current()).toEqual(first.current());
  });

  describe('signOperationalCertificate', () => {
    it('issues a 24 h client certificate with the operational policy, chaining to the root through the issuing CA', async () => {
      const pki = await initPki(caDir, { now: NOW });
      const device = newDevice();
      const signed = await pki.signOperationalCertificate(device, { validityHours: 24, now: NOW });

      const leaf = new X509Certificate(signed.certPem);
      expect(leaf.subject).toBe(`CN=${device.deviceId}`);
      expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
      expect(certificatePolicies(leaf)).toEqual([OPERATIONAL_POLICY_OID]);
      expect(signed.serial).toBe(leaf.serialNumber.toLowerCase());
      expect(signed.serial).toMatch(/^[0-9a-f]+$/);
      expect(signed.notAfter).toBe(NOW.getTime() + DAY_MS);
      expect(signed.chainPem).toBe(`${signed.certPem}\n${pki.current().certPem}\n`);

      // An independent verifier: openssl, trusting only the root, with the issuing CA from the chain.
      const rootFile = write('root.pem', pki.rootPem);
      const chainFile = write('chain.pem', signed.chainPem);
      const leafFile = write('leaf.pem', signed.certPem);
      const verified = openssl(['verify', '-attime', atNow(), '-purpose', 'sslclient', '-CAfile', rootFile, '-untrusted', chainFile, leafFile]);
      expect(verified.out).toContain(': OK');
      // The policy is there as a dotted 2.25 OID, as any X.509 tool reads it.
      expect(openssl(['x509', '-in', leafFile, '-noout', '-text']).out).toContain(`Policy: ${OPERATIONAL_POLICY_OID}`);
    });

    it('takes the time from the injected clock when none is given', async () => {
      let clock = NOW.getTime();
      const pki = await initPki(caDir, { clock: () => clock });
      clock += 3 * DAY_MS;
      const signed = await pki.signOperationalCertificate(newDevice(), { validityHours: 24 });
      expect(signed.notAfter).toBe(NOW.getTime() + 4 * DAY_MS);
    });

    it('refuses a device id that is not the hash of the key', async () => {
      const pki = await initPki(caDir, { now: NOW });
      const device = newDevice();
      await expect(pki.signOperationalCertificate({ deviceId: newDevice().deviceId, publicKey: device.publicKey }, { validityHours: 24, now: NOW }))
        .rejects.toMatchObject({ code: 'csr_id_mismatch' });
    });
  });

  describe('isOperationalCertificate', () => {
    it('is true for an operational certificate of this PKI', async () => {
      const pki = await initPki(caDir, { now: NOW });
      const signed = await pki.signOperationalCertificate(newDevice(), { validityHours: 24, now: NOW });
      expect(pki.isOperationalCertificate(signed.certPem)).toBe(true);
      expect(pki.isOperationalCertificate(new X509Certificate(signed.certPem))).toBe(true);
    });

    it('is false for an identity certificate on the same chain', async () => {
      const pki = await initPki(caDir, { now: NOW });
      const identity = await pki.issueIdentityCertificate(newDevice(), { validityHours: 24, now: NOW });
      expect(certificatePolicies(identity.certPem)).toEqual([]);
      expect(pki.isOperationalCertificate(identity.certPem)).toBe(false);
    });

    it('is false for an operational certificate of another PKI, for a server certificate and for garbage', async () => {
      const pki = await initPki(caDir, { now: NOW });
      const other = await initPki(join(base, 'other'), { now: NOW });
      const foreign = await other.signOperationalCertificate(newDevice(), { validityHours: 24, now: NOW });
      const server = await pki.issueServerCertificate({ hostnames: ['localhost'], ips: [], validityDays: 30, now: NOW });
      expect(pki.isOperationalCertificate(foreign.certPem)).toBe(false);
      expect(pki.isOperationalCertificate(server.certPem)).toBe(false);
      expect(pki.isOperationalCertificate('not a certificate')).toBe(false);
    });
  });

  describe('rotate', () => {
    it('makes a new issuing CA current and keeps the old ones', async () => {
      const pki = await initPki(caDir, { now: NOW });
      const first = pki.current();
      const before = await pki.signOperationalCertificate(newDevice(), { validityHours: 24, now: NOW });
      await pki.rotate({ now: NOW.getTime() + 30 * DAY_MS });

      expect(pki.current().certPem).not.toBe(first.certPem);
      expect(pki.issuingCertPems()).toEqual([pki.current().certPem, first.certPem]);
      expect(issuingFiles()).toHaveLength(4);
      const after = await pki.signOperationalCertificate(newDevice(), { validityHours: 24, now: NOW.getTime() + 30 * DAY_MS });
      expect(new X509Certificate(after.certPem).checkIssued(new X509Certificate(pki.current().certPem))).toBe(true);
      // Certificates of the previous issuing CA stay operational.
      expect(pki.isOperationalCertificate(before.certPem)).toBe(true);
      expect(pki.isOperationalCertificate(after.certPem)).toBe(true);
      // And the next start picks the newest one.
      expect((await openPki(caDir)).current()).toEqual(pki.current());
    });
  });

  describe('with the root key moved offline', () => {
    it('opens, signs, generates CRLs, and refuses only to rotate', async () => {
      await initPki(caDir, { now: NOW });
      renameSync(join(caDir, 'root.key'), join(base, 'root.key.offline'));

      const pki = await openPki(caDir);
      const signed = await pki.signOperationalCertificate(newDevice(), { validityHours: 24, now: NOW });
      expect(pki.isOperationalCertificate(signed.certPem)).toBe(true);
      expect(await pki.generateCrls([], NOW)).toHaveLength(1);
      await expect(pki.rotate({ now: NOW })).rejects.toMatchObject({ code: 'root_key_offline' });
      expect(issuingFiles()).toHaveLength(2);

      // Brought back for the ceremony, the root signs the next issuing CA.
      renameSync(join(base, 'root.key.offline'), join(caDir, 'root.key'));
      await pki.rotate({ now: NOW.getTime() + DAY_MS });
      expect(pki.issuingCertPems()).toHaveLength(2);
    });
  });

  it('refuses an issuing CA key readable by others', async () => {
    await initPki(caDir, { now: NOW });
    const keyFile = issuingFiles().find((name) => name.endsWith('.key'))!;
    chmodSync(join(caDir, 'issuing', keyFile), 0o644);
    await expect(openPki(caDir)).rejects.toMatchObject({ code: 'key_file_permissions' });
  });

  it('refuses an issuing CA that the root did not sign', async () => {
    await initPki(caDir, { now: NOW });
    const other = await initPki(join(base, 'other'), { now: NOW });
    writeFileSync(join(caDir, 'issuing', '2031-01-01T00-00-00.000Z.key'), other.current().keyPem, { mode: 0o600 });
    writeFileSync(join(caDir, 'issuing', '2031-01-01T00-00-00.000Z.crt'), other.current().certPem);
    await expect(openPki(caDir)).rejects.toMatchObject({ code: 'ca_invalid' });
  });

  it('openPki creates nothing: a missing or empty folder says to run ca init', async () => {
    const expected = { code: 'ca_missing', message: `no site PKI in ${caDir}: create one with \`shellguard ca init --dir ${caDir}\` (first start), or point caDir at the existing one` };
    await expect(openPki(caDir)).rejects.toMatchObject(expected);
    expect(existsSync(caDir)).toBe(false);
    mkdirSync(caDir);
    await expect(openPki(caDir)).rejects.toMatchObject(expected);
    expect(readdirSync(caDir)).toEqual([]);
  });

  it('initPki refuses a folder that already holds a site PKI, and leaves it as it was', async () => {
    const first = await initPki(caDir, { now: NOW });
    await expect(initPki(caDir, { now: NOW.getTime() + DAY_MS })).rejects.toMatchObject({ code: 'ca_exists', message: expect.stringContaining('ca rotate') });
    expect(issuingFiles()).toHaveLength(2);
    expect((await openPki(caDir)).current()).toEqual(first.current());
  });

  it('a root without an issuing CA (an interrupted init) is refused by openPki and completed by initPki', async () => {
    const first = await initPki(caDir, { now: NOW });
    rmSync(join(caDir, 'issuing'), { recursive: true });
    await expect(openPki(caDir)).rejects.toMatchObject({ code: 'ca_missing', message: expect.stringContaining(`shellguard ca init --dir ${caDir}`) });
    expect(existsSync(join(caDir, 'issuing'))).toBe(false);
    const completed = await initPki(caDir, { now: NOW });
    expect(completed.rootPem).toBe(first.rootPem);
    expect(issuingFiles()).toHaveLength(2);
  });

  it('refuses a root key without its certificate rather than creating a new root', async () => {
    await initPki(caDir, { now: NOW });
    rmSync(join(caDir, 'root.crt'));
    await expect(openPki(caDir)).rejects.toMatchObject({ code: 'ca_missing' });
    await expect(initPki(caDir)).rejects.toMatchObject({ code: 'ca_missing' });
    expect(existsSync(join(caDir, 'root.crt'))).toBe(false);
  });

  describe('generateCrls', () => {
    it('produces one CRL per issuing CA, signed by it, listing the revoked serials', async () => {
      const pki = await initPki(caDir, { now: NOW });
      const revokedCert = await pki.signOperationalCertificate(newDevice(), { validityHours: 24, now: NOW });
      const goodCert = await pki.signOperationalCertificate(newDevice(), { validityHours: 24, now: NOW });
      await pki.rotate({ now: NOW.getTime() + HOUR_MS });
      const crlTime = new Date(NOW.getTime() + 2 * HOUR_MS);
      const crls = await pki.generateCrls([{ serial: revokedCert.serial, revokedAt: NOW.getTime() + 30 * 60_000 }], crlTime);
      expect(crls).toHaveLength(2);

      const [newest, oldest] = pki.issuingCertPems();
      for (const [crlPem, issuerPem] of [[crls[0]!, newest!], [crls[1]!, oldest!]] as const) {
        const crlFile = write('crl.pem', crlPem);
        const issuerFile = write('issuer.pem', issuerPem);
        const text = openssl(['crl', '-in', crlFile, '-noout', '-text']).out;
        expect(text).toContain(`Serial Number: ${revokedCert.serial.toUpperCase()}`);
        expect(text).not.toContain(goodCert.serial.toUpperCase());
        expect(openssl(['crl', '-in', crlFile, '-CAfile', issuerFile, '-noout']).out).toContain('verify OK');

        const crl = new x509.X509Crl(crlPem);
        expect(crl.thisUpdate.getTime()).toBe(crlTime.getTime());
        expect(crl.nextUpdate?.getTime()).toBe(crlTime.getTime() + DAY_MS);
        expect(await crl.verify({ publicKey: new x509.X509Certificate(issuerPem).publicKey })).toBe(true);
      }

      // A relying party checking revocation refuses the revoked certificate and accepts the other.
      const rootFile = write('root.pem', pki.rootPem);
      const crlFile = write('crl-old.pem', crls[1]!);
      const untrusted = write('issuing-old.pem', oldest!);
      const check = (leafPem: string): string =>
        openssl(['verify', '-attime', atNow(crlTime), '-crl_check', '-CAfile', rootFile, '-untrusted', untrusted, '-CRLfile', crlFile, write('leaf.pem', leafPem)]).out;
      expect(check(revokedCert.certPem)).toContain('certificate revoked');
      expect(check(goodCert.certPem)).toContain(': OK');
    });

    it('lists serials given without leading zeros or with the top bit set as the same integers', async () => {
      const pki = await initPki(caDir, { now: NOW });
      const [crlPem] = await pki.generateCrls([
        { serial: 'abc', revokedAt: NOW.getTime() },
        { serial: '9f01', revokedAt: NOW.getTime() },
      ], NOW);
      const text = openssl(['crl', '-in', write('crl.pem', crlPem!), '-noout', '-text']).out;
      expect(text).toContain('Serial Number: 0ABC');
      expect(text).toContain('Serial Number: 9F01');
    });

    it('refuses a serial that is not hex', async () => {
      const pki = await initPki(caDir, { now: NOW });
      await expect(pki.generateCrls([{ serial: 'zz', revokedAt: NOW.getTime() }], NOW)).rejects.toMatchObject({ code: 'ca_invalid' });
    });
  });

  it('issues a server certificate from the current issuing CA, with the chain to present', async () => {
    const pki = await initPki(caDir, { now: NOW });
    const server = await pki.issueServerCertificate({ hostnames: ['localhost'], ips: ['127.0.0.1'], validityDays: 90, now: NOW });
    const cert = new X509Certificate(server.certPem);
    expect(cert.checkIssued(new X509Certificate(pki.current().certPem))).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(server.keyPem))).toBe(true);
    expect(server.chainPem.startsWith(server.certPem)).toBe(true);
    expect(server.notAfter).toBe(NOW.getTime() + 90 * DAY_MS);
  });
});
