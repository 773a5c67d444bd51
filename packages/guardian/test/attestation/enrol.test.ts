import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ATTESTATION_CHALLENGE_PATH, ATTESTATION_EVIDENCE_PATH, CHALLENGE_MAX_SKEW_MS, EAT_PROFILE, deviceIdFromUeid, verifyChallengeRequest,
  type EvidenceClaims, type Measurement,
} from '@shellguard/protocol';
import { EnrolmentError, EnrolmentRefused, enrol, type EnrolOptions } from '../../src/attestation/enrol.ts';
import { FileKeyStore } from '../../src/identity/file-key-store.ts';
import { createTestPki, type TestPki } from './openssl-pki.ts';

type Behaviour = 'issue' | 'refuse_measurements' | 'unavailable' | 'foreign_certificate' | 'huge' | 'garbage';

/**
 * A tiny verifier: checks the challenge request's proof of possession and issues nonces, checks the
 * ES256 signature and nonce of the evidence, then issues a certificate.
 */
class TestVerifier {
  server!: Server;
  port = 0;
  behaviour: Behaviour = 'issue';
  unclaimed = new Set<string>();
  readonly nonces = new Map<string, string>();
  readonly accepted: EvidenceClaims[] = [];
  readonly challengeRequests: unknown[] = [];
  requests = 0;

  constructor(private readonly pki: TestPki, private readonly serverTls: { cert: string; key: string }) {}

  async start(): Promise<void> {
    this.server = createServer({ cert: this.serverTls.cert, key: this.serverTls.key }, (req, res) => {
      this.requests += 1;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const reply = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));
        };
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, string>;
        if (this.behaviour === 'unavailable') return reply(503, { error: { code: 'store_unavailable', message: 'try later' } });
        if (req.url === ATTESTATION_CHALLENGE_PATH) {
          this.challengeRequests.push(body);
          const proof = verifyChallengeRequest(body, { now: Date.now() });
          if (!proof.ok) return reply(403, { error: { code: proof.refusal, message: proof.message } });
          const nonce = randomBytes(24).toString('base64url');
          this.nonces.set(nonce, proof.request.deviceId);
          return reply(200, { nonce, expiresAt: Date.now() + 60_000 });
        }
        if (req.url === ATTESTATION_EVIDENCE_PATH) {
          const [h, p, s] = body.evidence!.split('.') as [string, string, string];
          const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg: string; jwk: object };
          const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as EvidenceClaims;
          const key = createPublicKey({ key: header.jwk as never, format: 'jwk' });
          const ok = header.alg === 'ES256'
            && verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
          if (!ok) return reply(403, { error: { code: 'signature_invalid', message: 'bad signature' } });
          const deviceId = deviceIdFromUeid(claims.ueid);
          if (this.unclaimed.has(deviceId!)) return reply(403, { error: { code: 'device_unclaimed', message: 'claim this device first' } });
          if (this.nonces.get(claims.eat_nonce) !== deviceId) return reply(403, { error: { code: 'nonce_unknown', message: 'no such nonce' } });
          this.nonces.delete(claims.eat_nonce);
          if (this.behaviour === 'refuse_measurements') {
            return reply(403, { error: { code: 'measurements_mismatch', message: 'component config is not a registered release' } });
          }
          if (this.behaviour === 'huge') return reply(200, { certificatePem: 'x'.repeat(200_000), caPems: [], notAfter: 1 });
          if (this.behaviour === 'garbage') return reply(200, '{"certificatePem": 42');
          this.accepted.push(claims);
          const subjectKey = this.behaviour === 'foreign_certificate'
            ? createPublicKey(this.serverTls.key) : key;
          const leaf = this.pki.issueLeaf(subjectKey.export({ type: 'spki', format: 'pem' }).toString(), deviceId!);
          return reply(200, { certificatePem: leaf + this.pki.issuingPem, caPems: [this.pki.rootPem], notAfter: Date.now() + 86_400_000 });
        }
        reply(404, { error: { code: 'not_found', message: req.url } });
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('enrol', () => {
  let dir: string;
  let pki: TestPki;
  let verifier: TestVerifier;
  let keys: FileKeyStore;
  const measurements: Measurement[] = [
    { component: 'runtime', digest: 'a'.repeat(64) },
    { component: 'guardian-bundle', digest: 'b'.repeat(64) },
    { component: 'config', digest: 'c'.repeat(64) },
    { component: 'profiles', digest: 'd'.repeat(64) },
  ];
  let options: EnrolOptions;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-enrol-'));
    pki = createTestPki(dir);
    verifier = new TestVerifier(pki, { cert: pki.serverChainPem, key: pki.serverKeyPem });
    await verifier.start();
    keys = await FileKeyStore.open(path.join(dir, 'guardian'));
  });
  afterAll(async () => {
    await verifier.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    verifier.behaviour = 'issue';
    verifier.unclaimed.clear();
    verifier.challengeRequests.length = 0;
    options = {
      apiUrl: `https://127.0.0.1:${verifier.port}`,
      rootCaPem: pki.rootPem,
      keyStore: keys,
      measurements,
      swname: 'shellguard-guardian',
      swversion: '0.1.0',
      bootcount: 7,
      now: Date.now,
    };
  });

  it('sends evidence signed by the identity key and receives an operational certificate for that key', async () => {
    const at = Date.now();
    const result = await enrol({ ...options, now: () => at });
    expect(result.certificatePem).toContain('BEGIN CERTIFICATE');
    expect(result.caPems).toEqual([pki.rootPem]);
    expect(result.notAfter).toBeGreaterThan(Date.now());
    expect(result.notBefore).toBeLessThanOrEqual(Date.now());
    expect(result.serial).toMatch(/^[0-9a-f]+$/);
    const claims = verifier.accepted.at(-1)!;
    expect(claims.eat_profile).toBe(EAT_PROFILE);
    expect(deviceIdFromUeid(claims.ueid)).toBe(keys.deviceId);
    expect(claims.measurements).toEqual(measurements);
    expect(claims.bootcount).toBe(7);
    expect(claims.swversion).toBe('0.1.0');
    expect(claims.iat).toBe(Math.floor(at / 1000));
  });

  it('turns a refused appraisal (403) into EnrolmentRefused carrying the refusal code', async () => {
    verifier.behaviour = 'refuse_measurements';
    const err = await enrol(options).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnrolmentRefused);
    expect((err as EnrolmentRefused).refusal).toBe('measurements_mismatch');
    expect((err as EnrolmentRefused).serverMessage).toContain('not a registered release');
  });

  it('signs the challenge request with the identity key, at its own clock, with a fresh request id', async () => {
    const at = Date.now();
    const ids = [Buffer.alloc(16, 1), Buffer.alloc(16, 2)];
    await enrol({ ...options, now: () => at, randomBytes: () => ids.shift()! });
    await enrol({ ...options, now: () => at, randomBytes: () => ids.shift()! });
    const [first, second] = verifier.challengeRequests;
    const check = verifyChallengeRequest(first, { now: at });
    expect(check.ok && check.request).toMatchObject({ deviceId: keys.deviceId, issuedAt: at, requestId: Buffer.alloc(16, 1).toString('base64url') });
    expect(first).toMatchObject({ publicKey: { kty: 'EC', crv: 'P-256' } });
    expect((second as { requestId: string }).requestId).toBe(Buffer.alloc(16, 2).toString('base64url'));
    // Only the key, never more of it.
    expect(JSON.stringify(first)).not.toContain('"d"');
  });

  it('reports a challenge refused for its proof (a guardian clock far off) as EnrolmentRefused', async () => {
    const err = await enrol({ ...options, now: () => Date.now() - 2 * CHALLENGE_MAX_SKEW_MS }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnrolmentRefused);
    expect((err as EnrolmentRefused).refusal).toBe('challenge_stale');
    expect((err as EnrolmentRefused).serverMessage).toContain("guardian's clock");
  });

  it('reports an appraisal refused for an unclaimed device as EnrolmentRefused', async () => {
    verifier.unclaimed.add(keys.deviceId);
    const err = await enrol(options).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnrolmentRefused);
    expect((err as EnrolmentRefused).refusal).toBe('device_unclaimed');
  });

  it('refuses a server whose certificate does not chain to the site root, before sending anything', async () => {
    const otherDir = mkdtempSync(path.join(tmpdir(), 'sg-enrol-other-'));
    const other = createTestPki(otherDir, 'Impostor Root');
    const impostor = new TestVerifier(other, { cert: other.serverChainPem, key: other.serverKeyPem });
    await impostor.start();
    try {
      const err = await enrol({ ...options, apiUrl: `https://127.0.0.1:${impostor.port}` }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EnrolmentError);
      expect((err as EnrolmentError).code).toBe('enrolment_unavailable');
      expect(impostor.requests).toBe(0);
    } finally {
      await impostor.stop();
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('refuses a plain http:// URL', async () => {
    const err = await enrol({ ...options, apiUrl: `http://127.0.0.1:${verifier.port}` }).catch((e: unknown) => e);
    expect((err as EnrolmentError).code).toBe('enrolment_request_failed');
  });

  it('reports an unreachable or overloaded server as a retryable error', async () => {
    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const down = await enrol({ ...options, apiUrl: `https://127.0.0.1:${closedPort}` }).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(EnrolmentError);
    expect((down as EnrolmentError).retryable).toBe(true);
    verifier.behaviour = 'unavailable';
    const busy = await enrol(options).catch((e: unknown) => e);
    expect((busy as EnrolmentError).code).toBe('enrolment_unavailable');
    expect((busy as EnrolmentError).retryable).toBe(true);
  });

  it('refuses a certificate issued for another key', async () => {
    verifier.behaviour = 'foreign_certificate';
    const err = await enrol(options).catch((e: unknown) => e);
    expect((err as EnrolmentError).code).toBe('enrolment_response_invalid');
    expect((err as EnrolmentError).retryable).toBe(false);
  });

  it('refuses oversized and malformed responses', async () => {
    verifier.behaviour = 'huge';
    expect(((await enrol(options).catch((e: unknown) => e)) as EnrolmentError).code).toBe('enrolment_response_invalid');
    verifier.behaviour = 'garbage';
    expect(((await enrol(options).catch((e: unknown) => e)) as EnrolmentError).code).toBe('enrolment_response_invalid');
  });
});
