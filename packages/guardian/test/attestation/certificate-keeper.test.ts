import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '@shellguard/protocol/testing';
import { CertificateKeeper, OPERATIONAL_CERTIFICATE_FILE, type CertificateKeeperOptions } from '../../src/attestation/certificate-keeper.ts';
import { EnrolmentError, EnrolmentRefused, type Enrolment } from '../../src/attestation/enrol.ts';
import { FileKeyStore } from '../../src/identity/file-key-store.ts';
import { createTestPki } from './openssl-pki.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 0, 5, 8, 0, 0);

/** Runs the next pending timer, whenever it is due; returns its due time. */
async function fireNext(clock: ManualClock): Promise<number> {
  const next = clock.dueTimes()[0];
  if (next === undefined) throw new Error('no timer pending');
  await clock.advanceToAsync(next);
  return next;
}

describe('CertificateKeeper', () => {
  let dir: string;
  let keys: FileKeyStore;
  let clock: ManualClock;
  let logLines: string[];
  let issued: number;
  /** What the next enrol() calls do: 'ok' or an error to throw. */
  let outcomes: (Error | 'ok')[];
  let renewed: string[];
  let keeper: CertificateKeeper;

  const enrolFake = async (): Promise<Enrolment> => {
    const outcome = outcomes.shift() ?? 'ok';
    if (outcome !== 'ok') throw outcome;
    issued += 1;
    return { certificatePem: `chain-${issued}`, caPems: [], notBefore: clock.now(), notAfter: clock.now() + DAY, serial: `${issued}` };
  };

  const makeKeeper = (extra: Partial<CertificateKeeperOptions> = {}) => new CertificateKeeper({
    dataDir: dir,
    keyStore: keys,
    rootCaPem: '',
    enrol: enrolFake,
    onRenewed: (pem) => renewed.push(pem),
    logger: pino({ level: 'info' }, new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } })),
    clock,
    ...extra,
  });

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-keeper-'));
    keys = await FileKeyStore.open(dir);
    clock = new ManualClock(START);
    logLines = [];
    issued = 0;
    outcomes = [];
    renewed = [];
    keeper = makeKeeper();
  });
  afterEach(() => {
    keeper.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('attests when it has no certificate, stores it and schedules renewal at 2/3 of the lifetime', async () => {
    expect(await keeper.ensureCertificate()).toBe('chain-1');
    expect(readFileSync(path.join(dir, OPERATIONAL_CERTIFICATE_FILE), 'utf8')).toBe('chain-1');
    expect(clock.dueTimes()).toEqual([START + 16 * HOUR]);
    expect(renewed).toEqual(['chain-1']);
  });

  it('re-attests every 16 hours of 24-hour certificates over several days and hands each new chain over', async () => {
    await keeper.ensureCertificate();
    await clock.advanceToAsync(START + 3 * DAY);
    // Renewals at 16 h, 32 h, 48 h and 64 h.
    expect(renewed).toEqual(['chain-1', 'chain-2', 'chain-3', 'chain-4', 'chain-5']);
    expect(keeper.current()?.certChainPem).toBe('chain-5');
    expect(clock.dueTimes()).toEqual([START + 80 * HOUR]);
  });

  it('keeps the valid certificate while renewal fails and retries with capped exponential backoff', async () => {
    keeper.stop();
    keeper = makeKeeper({ retryInitialMs: 10_000, retryMaxMs: 60_000 });
    await keeper.ensureCertificate();
    const dueAt = START + 16 * HOUR;
    const unavailable = () => new EnrolmentError('enrolment_unavailable', 'cannot reach the server');
    outcomes = [unavailable(), unavailable(), unavailable(), unavailable(), unavailable(), 'ok'];
    const fired: number[] = [];
    for (let i = 0; i < 6; i++) fired.push(await fireNext(clock));
    expect(fired.map((t, i) => t - (i === 0 ? dueAt : fired[i - 1]!))).toEqual([0, 10_000, 20_000, 40_000, 60_000, 60_000]);
    expect(renewed).toEqual(['chain-1', 'chain-2']);
    // Between the failures the first certificate stayed in use.
    expect(logLines.filter((l) => l.includes('keeping the current certificate')).length).toBe(5);
    // Success resets the backoff: the next renewal is at 2/3 of the new certificate's lifetime.
    expect(clock.dueTimes()).toEqual([fired[5]! + 16 * HOUR]);
  });

  it('stops using a certificate once it has expired, even while renewal keeps failing', async () => {
    await keeper.ensureCertificate();
    outcomes = Array.from({ length: 200 }, () => new EnrolmentError('enrolment_unavailable', 'down'));
    await clock.advanceToAsync(START + 23 * HOUR);
    expect(keeper.current()?.certChainPem).toBe('chain-1');
    await clock.advanceToAsync(START + 25 * HOUR);
    expect(keeper.current()).toBeUndefined();
  });

  it('throws a refusal when there is no certificate, retries in the background and reports the first success', async () => {
    outcomes = [new EnrolmentRefused('measurements_mismatch', 'unknown config')];
    const err = await keeper.ensureCertificate().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnrolmentRefused);
    expect(renewed).toEqual([]);
    expect(logLines.some((l) => l.includes('"code":"measurements_mismatch"'))).toBe(true);
    await fireNext(clock);
    expect(renewed).toEqual(['chain-1']);
  });

  it('reuses a stored certificate for its own key until renewal is due, and ignores one for another key', async () => {
    const pki = createTestPki(dir);
    const publicPem = keys.publicKey().export({ type: 'spki', format: 'pem' }).toString();
    const chain = pki.issueLeaf(publicPem, keys.deviceId) + pki.issuingPem;
    writeFileSync(path.join(dir, OPERATIONAL_CERTIFICATE_FILE), chain);
    const realClock = new ManualClock(Date.now());
    const reuse = makeKeeper({ rootCaPem: pki.rootPem, clock: realClock });
    expect(await reuse.ensureCertificate()).toBe(chain);
    expect(issued).toBe(0);
    reuse.stop();

    const other = await FileKeyStore.open(path.join(dir, 'other'));
    writeFileSync(path.join(dir, OPERATIONAL_CERTIFICATE_FILE),
      pki.issueLeaf(other.publicKey().export({ type: 'spki', format: 'pem' }).toString(), other.deviceId) + pki.issuingPem);
    const fresh = makeKeeper({ rootCaPem: pki.rootPem, clock: realClock });
    expect(await fresh.ensureCertificate()).toBe('chain-1');
    fresh.stop();
  });

  it('never logs key material', async () => {
    await keeper.ensureCertificate();
    await clock.advanceToAsync(START + 2 * DAY);
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('\n')).not.toMatch(/PRIVATE KEY|chain-\d/);
  });
});
