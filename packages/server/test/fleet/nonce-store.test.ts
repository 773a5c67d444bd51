import { describe, expect, it } from 'vitest';
import { NonceStore } from '../../src/fleet/nonce-store.ts';

const T0 = Date.UTC(2026, 2, 1, 8, 0, 0);
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('NonceStore', () => {
  it('gives unrecorded nonces the form and lifetime of issued ones, without storing them or ever accepting them', () => {
    const store = new NonceStore({ now: () => T0, ttlMs: 60_000 });
    const issued = store.issue(A);
    const unrecorded = store.unrecorded(B, 'request-one-aaaaaaaaaaa');
    expect(unrecorded.nonce).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(unrecorded.nonce.length).toBe(issued.nonce.length);
    expect(unrecorded.expiresAt).toBe(issued.expiresAt);
    expect(store.size).toBe(1);
    expect(store.consume(unrecorded.nonce, B)).toBe('nonce_unknown');
    expect(store.unrecorded(B, 'request-two-aaaaaaaaaaa').nonce).not.toBe(unrecorded.nonce);
  });

  it("keeps at most four outstanding nonces per device, dropping only that device's oldest", () => {
    const store = new NonceStore({ now: () => T0, ttlMs: 60_000 });
    const other = store.issue(B);
    const first = store.issue(A);
    for (let i = 0; i < 4; i++) store.issue(A);
    expect(store.consume(first.nonce, A)).toBe('nonce_unknown');
    expect(store.consume(other.nonce, B)).toBe('ok');
  });
});
