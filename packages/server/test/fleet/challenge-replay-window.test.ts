import { describe, expect, it } from 'vitest';
import { ChallengeReplayWindow } from '../../src/fleet/challenge-replay-window.ts';

const T0 = Date.UTC(2026, 2, 1, 8, 0, 0);
const WINDOW = 300_000;
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const id = (n: number) => `request-${String(n).padStart(14, '0')}`;

describe('ChallengeReplayWindow', () => {
  it('refuses a request id seen within the window, and forgets it once its issuedAt is past the window', () => {
    const w = new ChallengeReplayWindow({ windowMs: WINDOW });
    expect(w.admit(A, id(1), T0, T0, true)).toBe('ok');
    expect(w.admit(A, id(1), T0, T0 + WINDOW, true)).toBe('challenge_replayed');
    // Past the window the stateless check refuses issuedAt = T0 as stale; the id need not be kept.
    expect(w.admit(A, id(2), T0 + WINDOW + 1, T0 + WINDOW + 1, true)).toBe('ok');
    expect(w.size).toBe(1);
  });

  it("forgets a device's oldest id beyond its cap and refuses anything issued at or before it (no replay slips through)", () => {
    const w = new ChallengeReplayWindow({ windowMs: WINDOW, perDevice: 3 });
    for (let i = 1; i <= 3; i++) expect(w.admit(A, id(i), T0 + i, T0, true)).toBe('ok');
    expect(w.admit(A, id(4), T0 + 4, T0, true)).toBe('ok');
    // id(1) was forgotten; its replay is refused by the floor.
    expect(w.admit(A, id(1), T0 + 1, T0, true)).toBe('challenge_stale');
    // A new request older than everything kept would be forgotten at once: refused.
    expect(w.admit(A, id(5), T0 + 1, T0, true)).toBe('challenge_stale');
    expect(w.admit(A, id(2), T0 + 2, T0, true)).toBe('challenge_replayed');
    expect(w.admit(A, id(6), T0 + 6, T0, true)).toBe('ok');
  });

  it("lets one device's floor affect only that device", () => {
    const w = new ChallengeReplayWindow({ windowMs: WINDOW, perDevice: 2 });
    // Future-dated requests raise A's floor into the future...
    for (let i = 1; i <= 5; i++) w.admit(A, id(i), T0 + WINDOW, T0, true);
    expect(w.admit(A, id(9), T0, T0, true)).toBe('challenge_stale');
    // ...but B, another device, is not touched.
    expect(w.admit(B, id(10), T0, T0, true)).toBe('ok');
  });

  it('never refuses a new request of an unclaimed key because of a flood: the shared set forgets its oldest', () => {
    const w = new ChallengeReplayWindow({ windowMs: WINDOW, anonymous: 100 });
    for (let i = 0; i < 1000; i++) expect(w.admit(`${i}`.padStart(64, 'c'), id(i), T0 + WINDOW, T0, false)).toBe('ok');
    expect(w.size).toBe(100);
    expect(w.admit(B, id(5000), T0, T0, false)).toBe('ok');
    expect(w.admit(A, id(5001), T0, T0, true)).toBe('ok');
    expect(w.admit(B, id(5000), T0, T0, false)).toBe('challenge_replayed');
  });

  it('keeps memory bounded over time: devices with nothing left in the window are forgotten', () => {
    const w = new ChallengeReplayWindow({ windowMs: WINDOW });
    for (let i = 0; i < 50; i++) w.admit(`${i}`.padStart(64, 'd'), id(i), T0, T0, i % 2 === 0);
    expect(w.size).toBe(50);
    w.admit(A, id(999), T0 + 3 * WINDOW, T0 + 3 * WINDOW, true);
    expect(w.size).toBe(1);
  });
});
