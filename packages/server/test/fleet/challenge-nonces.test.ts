import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChallengeNonces } from '../../src/fleet/challenge-nonces.ts';
import { T0, deviceId, fleetStoreFixture, type FleetStoreFixture } from './fleet-store-fixture.ts';

const A = deviceId(0xa);
const B = deviceId(0xb);

describe('ChallengeNonces', () => {
  let f: FleetStoreFixture;
  let clock: { now: number };
  let nonces: ChallengeNonces;
  beforeEach(async () => {
    f = await fleetStoreFixture('sqlite', 'challenge_nonces');
    clock = { now: T0 };
    nonces = new ChallengeNonces({ writes: f.uow, now: () => clock.now, ttlMs: 60_000 });
  });
  afterEach(async () => { await f.destroy(); });

  it('gives unrecorded nonces the form and lifetime of issued ones, without storing them or ever accepting them', async () => {
    const issued = await nonces.issue(A);
    const unrecorded = nonces.unrecorded(B, 'request-one-aaaaaaaaaaa');
    expect(unrecorded.nonce).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(unrecorded.nonce.length).toBe(issued.nonce.length);
    expect(unrecorded.expiresAt).toBe(issued.expiresAt);
    expect(await nonces.consume(unrecorded.nonce, B)).toBe('nonce_unknown');
    expect(nonces.unrecorded(B, 'request-two-aaaaaaaaaaa').nonce).not.toBe(unrecorded.nonce);
  });

  it("keeps at most four outstanding nonces per device, dropping only that device's oldest", async () => {
    const other = await nonces.issue(B);
    const first = await nonces.issue(A);
    for (let i = 0; i < 4; i++) await nonces.issue(A);
    expect(await nonces.consume(first.nonce, A)).toBe('nonce_unknown');
    expect(await nonces.consume(other.nonce, B)).toBe('ok');
  });

  it('accepts a nonce issued by one replica at another, once', async () => {
    const elsewhere = new ChallengeNonces({ writes: f.replica().uow, now: () => clock.now, ttlMs: 60_000 });
    const { nonce } = await nonces.issue(A);
    expect(await elsewhere.consume(nonce, A)).toBe('ok');
    expect(await nonces.consume(nonce, A)).toBe('nonce_replayed');
  });

  it('recognises a replay for ten lifetimes after expiry, then forgets the nonce', async () => {
    const { nonce, expiresAt } = await nonces.issue(A);
    expect(await nonces.consume(nonce, A)).toBe('ok');
    clock.now = expiresAt + 10 * 60_000 - 1;
    await nonces.issue(B); // issuing sweeps
    expect(await nonces.consume(nonce, A)).toBe('nonce_replayed');
    clock.now = expiresAt + 10 * 60_000 + 60_001;
    await nonces.issue(B);
    expect(await nonces.consume(nonce, A)).toBe('nonce_unknown');
  });
});
