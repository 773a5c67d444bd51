/**
 * Issue 7, items 6 and 7, attacked the way the outside review did: over real sockets against a
 * real server, with a claimed device's id but not its key, with keys of one's own, with replayed
 * and stale requests; the CRL fetched with no token and read by openssl; the API's TLS suites
 * probed by openssl s_client.
 *
 * The server runs on the real clock; requests meant to be stale are dated twice the allowed skew
 * away, so no timing margin is involved.
 */
import { execFile, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileKeyStore, GUARDIAN_SWNAME, enrol, type Enrolment, type KeyStore } from '@shellguard/guardian';
import {
  ATTESTATION_CHALLENGE_PATH, ATTESTATION_EVIDENCE_PATH, CHALLENGE_MAX_SKEW_MS, EAT_PROFILE, deviceIdFromPublicKey,
  encodeChallengeRequest, encodeEvidence, ueidForKey, type ChallengeRequest,
} from '@shellguard/protocol';
import { GROUP, MEASUREMENTS, SITE, startTestSite, type TestSite } from '../support/enrolled-device.ts';

const run = promisify(execFile);

let site: TestSite;
/** Claimed into the site, then revoked. */
let revokedKeys: FileKeyStore;
let revokedEnrolment: Enrolment;

interface Answer { status: number; contentType: string; text: string; json: Record<string, unknown> }

/** An anonymous HTTPS request: no API token, only the site root as trust anchor. */
function anonymous(method: 'GET' | 'POST', pathname: string, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${site.apiUrl}${pathname}`, {
      method, ca: site.server.rootPem, agent: false,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
    }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); }).on('end', () => {
        let json: Record<string, unknown> = {};
        try { json = JSON.parse(text) as Record<string, unknown>; } catch { /* not JSON (the CRL) */ }
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text, json });
      });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** A key pair that is nobody's device, shaped like a KeyStore's signer. */
function looseKey(): { publicKey: KeyObject; signDer: (d: Buffer) => Buffer; deviceId: string } {
  const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { publicKey: pair.publicKey, signDer: (d) => sign('sha256', d, pair.privateKey), deviceId: deviceIdFromPublicKey(pair.publicKey) };
}

function signedRequest(
  signer: { publicKey: KeyObject; signDer: (d: Buffer) => Buffer }, issuedAt = Date.now(), requestId = randomBytes(16).toString('base64url'),
): ChallengeRequest {
  return encodeChallengeRequest({ publicKey: signer.publicKey, issuedAt, requestId }, signer.signDer);
}

const keyStoreSigner = (k: KeyStore) => ({ publicKey: k.publicKey(), signDer: (d: Buffer) => k.sign(d) });

function evidenceFor(signer: { publicKey: KeyObject; signDer: (d: Buffer) => Buffer }, nonce: string): string {
  return encodeEvidence({
    eat_profile: EAT_PROFILE, eat_nonce: nonce, ueid: ueidForKey(signer.publicKey), swname: GUARDIAN_SWNAME, swversion: '0.1.0',
    bootcount: 99, iat: Math.floor(Date.now() / 1000), measurements: MEASUREMENTS,
  }, signer.publicKey, signer.signDer);
}

async function challenge(request: unknown): Promise<Answer> {
  return anonymous('POST', ATTESTATION_CHALLENGE_PATH, request);
}

/** openssl s_client offering exactly the given arguments; spawned, as the server shares no event loop with it. */
function sClient(port: number, args: string[]): Promise<{ code: number; cipher: string | undefined }> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      const cipher = /Cipher is (\S+)/.exec(out)?.[1];
      resolve({ code: code ?? -1, cipher: cipher === '(NONE)' ? undefined : cipher });
    });
  });
}

beforeAll(async () => {
  site = await startTestSite('sg-challenge-crl-');
  revokedKeys = await FileKeyStore.open(path.join(site.dir, 'revoked-guardian'));
  await site.server.fleet.claim({ deviceId: revokedKeys.deviceId, site: SITE, group: GROUP }, 'test');
  revokedEnrolment = await enrol({
    apiUrl: site.apiUrl, rootCaPem: site.server.rootPem, keyStore: revokedKeys, measurements: MEASUREMENTS,
    swname: GUARDIAN_SWNAME, swversion: '0.1.0', bootcount: 1, now: Date.now,
  });
  const revoked = await site.post(`/api/v1/fleet/${revokedKeys.deviceId}/revoke`, { reason: 'stolen from hall 2' });
  expect(revoked.status).toBe(200);
});
afterAll(async () => { await site?.close(); });

describe('the attestation challenge, attacked', () => {
  it('refuses the old request that named a device id and proved nothing', async () => {
    const res = await challenge({ deviceId: site.keys.deviceId });
    expect(res.status).toBe(400);
    expect(res.json.nonce).toBeUndefined();
  });

  it("keeps a claimed device's own nonce working while someone who knows only its id sends many challenges", async () => {
    const device = keyStoreSigner(site.keys);
    const own = await challenge(signedRequest(device));
    expect(own.status).toBe(200);

    const statuses = new Map<string, number[]>();
    const note = (kind: string, status: number) => statuses.set(kind, [...(statuses.get(kind) ?? []), status]);
    for (let i = 0; i < 12; i++) {
      const attacker = looseKey();
      // The bare id, as before.
      note('bare id', (await challenge({ deviceId: site.keys.deviceId })).status);
      // The attacker's key and signature, presented for the device's id.
      note('own key, victim id', (await challenge({ ...signedRequest(attacker), deviceId: site.keys.deviceId })).status);
      // The device's public key (it is public), signed by the attacker.
      const genuine = signedRequest(device);
      const forged = signedRequest(attacker, genuine.issuedAt, genuine.requestId);
      note('victim key, own signature', (await challenge({ ...genuine, signature: forged.signature })).status);
      // Proven, for the attacker's own key: answered, and it never touches the device's nonces.
      note('own key, own id', (await challenge(signedRequest(attacker))).status);
    }
    expect(Object.fromEntries(statuses)).toEqual({
      'bare id': Array(12).fill(400),
      'own key, victim id': Array(12).fill(403),
      'victim key, own signature': Array(12).fill(403),
      'own key, own id': Array(12).fill(200),
    });

    const res = await anonymous('POST', ATTESTATION_EVIDENCE_PATH, { evidence: evidenceFor(device, own.json.nonce as string) });
    expect(res.status).toBe(200);
    expect(res.json.certificatePem).toContain('BEGIN CERTIFICATE');
  });

  it('answers forged requests with challenge_proof_invalid, whatever the id', async () => {
    for (const deviceId of [site.keys.deviceId, revokedKeys.deviceId, looseKey().deviceId]) {
      const res = await challenge({ ...signedRequest(looseKey()), deviceId });
      expect(res.status).toBe(403);
      expect(res.json).toEqual({ error: { code: 'challenge_proof_invalid', message: 'publicKey is not the key of deviceId' } });
    }
  });

  it('answers proven challenges for claimed, revoked and unclaimed ids alike; the evidence tells them apart', async () => {
    const claimed = keyStoreSigner(site.keys);
    const revoked = keyStoreSigner(revokedKeys);
    const unclaimed = looseKey();
    const answers = {
      claimed: await challenge(signedRequest(claimed)),
      revoked: await challenge(signedRequest(revoked)),
      unclaimed: await challenge(signedRequest(unclaimed)),
    };
    const shape = (a: Answer) => ({
      status: a.status, contentType: a.contentType, keys: Object.keys(a.json).sort(),
      nonceLength: String(a.json.nonce).length, expiresAtType: typeof a.json.expiresAt, bodyLength: a.text.length,
    });
    expect(shape(answers.revoked)).toEqual(shape(answers.claimed));
    expect(shape(answers.unclaimed)).toEqual(shape(answers.claimed));
    expect(answers.claimed.status).toBe(200);

    const appraise = async (signer: typeof claimed, a: Answer) => {
      const res = await anonymous('POST', ATTESTATION_EVIDENCE_PATH, { evidence: evidenceFor(signer, a.json.nonce as string) });
      return res.status === 200 ? 'issued' : (res.json.error as { code: string }).code;
    };
    expect(await appraise(unclaimed, answers.unclaimed)).toBe('device_unclaimed');
    expect(await appraise(revoked, answers.revoked)).toBe('device_revoked');
    expect(await appraise(claimed, answers.claimed)).toBe('issued');
  });

  it('refuses a replayed request (challenge_replayed) and one dated outside the window (challenge_stale)', async () => {
    const device = keyStoreSigner(site.keys);
    const request = signedRequest(device);
    expect((await challenge(request)).status).toBe(200);
    const replay = await challenge(request);
    expect(replay.status).toBe(403);
    expect((replay.json.error as { code: string }).code).toBe('challenge_replayed');

    for (const issuedAt of [Date.now() - 2 * CHALLENGE_MAX_SKEW_MS, Date.now() + 2 * CHALLENGE_MAX_SKEW_MS]) {
      const stale = await challenge(signedRequest(device, issuedAt));
      expect(stale.status).toBe(403);
      expect((stale.json.error as { code: string }).code).toBe('challenge_stale');
    }
  });
});

describe('the CRL', () => {
  it('is served without a token, and openssl reads it and finds the revoked certificate', async () => {
    const res = await anonymous('GET', '/api/v1/pki/crl');
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^application\/x-pem-file/);
    const file = path.join(site.dir, 'anonymous.crl');
    writeFileSync(file, res.text);
    const { stdout } = await run('openssl', ['crl', '-in', file, '-noout', '-text']);
    expect(stdout).toContain('Certificate Revocation List');
    expect(stdout.toLowerCase().replace(/:/g, '')).toContain(revokedEnrolment.serial.replace(/^0+/, ''));
  });

  it('is the only GET that needs no token', async () => {
    expect((await anonymous('GET', '/api/v1/fleet')).status).toBe(401);
    expect((await anonymous('GET', '/api/v1/pki/crl/')).status).toBe(401);
  });
});

describe('the API over TLS, probed with openssl s_client', () => {
  it('refuses TLS 1.2 with CBC-SHA1 or CCM_8, and completes it with ECDHE-ECDSA-AES128-GCM-SHA256 and TLS 1.3', async () => {
    const port = site.server.apiPort;
    expect((await sClient(port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA'])).cipher).toBeUndefined();
    expect((await sClient(port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-CCM8'])).cipher).toBeUndefined();
    expect(await sClient(port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'])).toEqual({ code: 0, cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
    expect((await sClient(port, ['-tls1_3'])).cipher).toMatch(/^TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)$/);
  });
});
