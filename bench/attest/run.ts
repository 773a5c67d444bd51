/**
 * bench/attest: attestation appraisals per second on one core, beside raw node:crypto ECDSA
 * P-256 verifications in the same run (the target: appraisal >= 50% of the raw rate).
 *
 *   raw verify        crypto.verify(ES256, ieee-p1363) with a reused KeyObject
 *   evidence verify   EvidenceVerifier.verify: JWS parse, strict claims, signature, key binding
 *   appraise (no CA)  FleetService challenge (its proof-of-possession check included) + appraise,
 *                     with a CertificateIssuer that does not sign (nonce stored and consumed in the
 *                     database, claim, reference values, SQLite records in WAL, audit call),
 *                     one enrolment at a time and N in flight (concurrent requests share commits)
 *   appraise (CA)     the same with real operational certificates signed by a site CA
 *
 * Device-side signing of challenge requests and evidence is done between timed sections and never counted.
 * The audit and incident logs are in-memory stand-ins here (the SQLite ones cost one more
 * insert per appraisal inside the same transaction).
 *
 *   node --import tsx bench/attest/run.ts [--devices 500] [--rounds 4] [--raw 20000] [--concurrency 32] [--no-coalesce]
 *
 * The fleet's stores are the SQL ones (kysely over the server's one SQLite connection); with
 * --no-coalesce, concurrent nonce writes and passes each commit their own transaction instead of sharing one.
 */
import { X509Certificate, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  EAT_PROFILE, deviceIdFromPublicKey, encodeChallengeRequest, encodeEvidence, ueidForKey, type ChallengeRequest, type Measurement,
} from '@shellguard/protocol';
import {
  FleetService, createSiteCa, signDeviceCertificate,
  type AuditEvent, type AuditEventInput, type CertificateIssuer, type Incident, type IncidentInput, type SiteCa,
} from '@shellguard/server';
import { EvidenceVerifier, migrateServerDatabase, openSqliteSqlDatabase, sqlFleetStores, sqlUnitOfWork } from '@shellguard/server/testing';

const args = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}
const deviceCount = flag('devices', 500);
const rounds = flag('rounds', 4);
const rawCount = flag('raw', 20_000);
const concurrency = flag('concurrency', 32);
const coalesce = !args.includes('--no-coalesce');

const digest = (s: string) => Buffer.from(s.padEnd(32, '.').slice(0, 32)).toString('hex');
const components = (i: number): Measurement[] => [
  { component: 'runtime', digest: digest('node') },
  { component: 'guardian-bundle', digest: digest('bundle 1.0.0') },
  { component: 'config', digest: digest(`config ${i}`) },
  { component: 'profiles', digest: digest('profiles') },
];

interface Device { privateKey: KeyObject; publicKey: KeyObject; deviceId: string; ueid: string; measurements: Measurement[] }

const devices: Device[] = Array.from({ length: deviceCount }, (_, i) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicKey, deviceId: deviceIdFromPublicKey(publicKey), ueid: ueidForKey(publicKey), measurements: components(i) };
});

function evidenceFor(d: Device, nonce: string): string {
  return encodeEvidence({
    eat_profile: EAT_PROFILE, eat_nonce: nonce, ueid: d.ueid, swname: 'shellguard-guardian', swversion: '1.0.0',
    bootcount: 3, iat: Math.floor(Date.now() / 1000), measurements: d.measurements,
  }, d.publicKey, (data) => sign('sha256', data, d.privateKey));
}

function challengeRequestFor(d: Device, now: number): ChallengeRequest {
  return encodeChallengeRequest({ publicKey: d.publicKey, issuedAt: now, requestId: randomBytes(16).toString('base64url') },
    (data) => sign('sha256', data, d.privateKey));
}

class NullAudit {
  private seq = 0;
  async record(e: AuditEventInput): Promise<AuditEvent> { return { ...e, seq: ++this.seq, at: 0, prevHash: '', hash: '' }; }
}
class NullIncidents {
  async raise(i: IncidentInput): Promise<Incident> { return { ...i, id: 0, openedAt: 0, status: 'open' }; }
}

class UnsignedIssuer implements CertificateIssuer {
  async signOperationalCertificate(_d: { deviceId: string }, p: { validityHours: number; now?: number }) {
    return { certPem: '', chainPem: '', serial: randomBytes(16).toString('hex'), notAfter: (p.now ?? Date.now()) + p.validityHours * 3_600_000 };
  }
  rootPem() { return ''; }
  async generateCrls() { return []; }
}

class SiteCaIssuer implements CertificateIssuer {
  constructor(private readonly ca: SiteCa) {}
  async signOperationalCertificate(d: { deviceId: string; publicKey: KeyObject }, p: { validityHours: number; now?: number }) {
    const certPem = await signDeviceCertificate(this.ca, {
      deviceId: d.deviceId, publicKey: d.publicKey, publicKeySpki: d.publicKey.export({ type: 'spki', format: 'der' }),
    }, { validityHours: p.validityHours, ...(p.now !== undefined ? { now: new Date(p.now) } : {}) });
    const cert = new X509Certificate(certPem);
    return { certPem, chainPem: this.ca.certPem, serial: cert.serialNumber, notAfter: Date.parse(cert.validTo) };
  }
  rootPem() { return this.ca.certPem; }
  async generateCrls() { return []; }
}

function rawVerifyRate(): number {
  const d = devices[0]!;
  const data = Buffer.from(evidenceFor(d, 'n'.repeat(43)).split('.').slice(0, 2).join('.'));
  const sig = sign('sha256', data, { key: d.privateKey, dsaEncoding: 'ieee-p1363' });
  for (let i = 0; i < 500; i++) verify('sha256', data, { key: d.publicKey, dsaEncoding: 'ieee-p1363' }, sig);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rawCount; i++) {
    if (!verify('sha256', data, { key: d.publicKey, dsaEncoding: 'ieee-p1363' }, sig)) throw new Error('raw verify failed');
  }
  return rawCount / (Number(process.hrtime.bigint() - t0) / 1e9);
}

function evidenceVerifyRate(): number {
  const verifier = new EvidenceVerifier();
  const tokens = devices.map((d) => evidenceFor(d, randomBytes(32).toString('base64url')));
  tokens.forEach((t) => verifier.verify(t)); // warm the key cache, as a running server has it
  const t0 = process.hrtime.bigint();
  let n = 0;
  for (let r = 0; r < rounds * 4; r++) for (const t of tokens) { verifier.verify(t); n++; }
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function appraisalRate(issuer: CertificateIssuer, label: string, concurrency: number): Promise<{ rate: number; perRoundMs: number[] }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-attest-'));
  const database = openSqliteSqlDatabase(path.join(dir, 'server.db'));
  try {
    await migrateServerDatabase(database);
    let now = Date.now();
    const audit = new NullAudit();
    const incidents = new NullIncidents();
    const fleet = new FleetService({
      stores: sqlFleetStores(database.db, database.engine),
      uow: sqlUnitOfWork(database, (tx) => ({ ...sqlFleetStores(tx, database.engine), audit, incidents })),
      issuer, now: () => now, nonceTtlMs: 3_600_000, coalescePasses: coalesce,
    });
    await fleet.defineGroup({ id: 'bench', site: 'dc1', minSecureVersion: '1.0.0' }, 'bench');
    await fleet.registerRelease({
      group: 'bench', swname: 'shellguard-guardian', swversion: '1.0.0',
      components: [...components(0).filter((c) => c.component !== 'config'), ...devices.map((_, i) => components(i)[2]!)],
    }, 'bench');
    await fleet.claimMany(devices.map((d) => ({ deviceId: d.deviceId, site: 'dc1', group: 'bench' })), 'bench');
    let timedNs = 0n;
    let count = 0;
    const perRoundMs: number[] = [];
    for (let r = 0; r < rounds + 1; r++) {
      // The devices sign challenge requests (not timed), challenges (timed), the devices sign
      // evidence (not timed), then appraisals (timed).
      const requests = devices.map((d) => challengeRequestFor(d, now));
      let t0 = process.hrtime.bigint();
      // Challenges in flight as the appraisals are (concurrent HTTP requests): their nonce writes share commits.
      const nonces: string[] = new Array<string>(requests.length);
      let nextChallenge = 0;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (nextChallenge < requests.length) {
          const i = nextChallenge++;
          nonces[i] = (await fleet.challenge(requests[i]!)).nonce;
        }
      }));
      let spent = process.hrtime.bigint() - t0;
      const tokens = devices.map((d, i) => evidenceFor(d, nonces[i]!));
      t0 = process.hrtime.bigint();
      // `concurrency` enrolments in flight, as concurrent HTTP requests would be.
      let next = 0;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < tokens.length) await fleet.appraise(tokens[next++]!);
      }));
      spent += process.hrtime.bigint() - t0;
      now += 1000;
      if (r === 0) continue; // warm-up round: JIT, key cache, SQLite pages
      timedNs += spent;
      count += devices.length;
      perRoundMs.push(Number(spent) / 1e6);
      process.stderr.write(`\r${label}: round ${r}/${rounds}`);
    }
    process.stderr.write('\n');
    return { rate: count / (Number(timedNs) / 1e9), perRoundMs };
  } finally {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const raw = rawVerifyRate();
const evidence = evidenceVerifyRate();
const sequential = await appraisalRate(new UnsignedIssuer(), 'appraise, no CA signing, 1 in flight', 1);
const unsigned = await appraisalRate(new UnsignedIssuer(), `appraise, no CA signing, ${concurrency} in flight`, concurrency);
const ca = await createSiteCa({ commonName: 'bench CA', validityDays: 30 });
const signed = await appraisalRate(new SiteCaIssuer(ca), `appraise, with CA signing, ${concurrency} in flight`, concurrency);
const rawAfter = rawVerifyRate();
const rawRate = (raw + rawAfter) / 2;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (n: number) => `${((n / rawRate) * 100).toFixed(0)}%`;
console.log(`\nbench/attest — ${deviceCount} devices, ${rounds} timed rounds, node ${process.version}, one process (JS on one core), passes ${coalesce ? 'coalesced' : 'one transaction each'}\n`);
console.log('| measurement | per second | vs raw ECDSA verify |');
console.log('|---|---:|---:|');
console.log(`| raw node:crypto ECDSA P-256 verify (before / after: ${fmt(raw)} / ${fmt(rawAfter)}) | ${fmt(rawRate)} | 100% |`);
console.log(`| EvidenceVerifier.verify (parse + claims + signature + key binding) | ${fmt(evidence)} | ${pct(evidence)} |`);
console.log(`| challenge + appraise, certificate signing excluded, 1 in flight (nonce and pass commit on their own) | ${fmt(sequential.rate)} | ${pct(sequential.rate)} |`);
console.log(`| challenge + appraise, certificate signing excluded, ${concurrency} in flight (${coalesce ? 'group commit' : 'one commit each'}) | ${fmt(unsigned.rate)} | ${pct(unsigned.rate)} |`);
console.log(`| challenge + appraise, with operational certificate signing, ${concurrency} in flight | ${fmt(signed.rate)} | ${pct(signed.rate)} |`);
