import { describe, expect, it } from 'vitest';
import { parseRetryAfter, retryDelayMs, verdictOf } from '../../src/notifications/retry-policy.ts';

const policy = { baseDelayMs: 1_000, maxDelayMs: 600_000, random: () => 0 };

describe('retryDelayMs', () => {
  it('doubles from 1 s up to 10 min over the default 12 attempts', () => {
    expect(Array.from({ length: 11 }, (_, i) => retryDelayMs(policy, i + 1))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000, 600_000,
    ]);
    expect(retryDelayMs(policy, 10_000)).toBe(600_000);
  });

  it('jitters each delay within its upper half', () => {
    expect(retryDelayMs({ ...policy, random: () => 0.999_999 }, 3)).toBe(2_001);
    expect(retryDelayMs({ ...policy, random: () => 0.5 }, 3)).toBe(3_000);
  });

  it('waits at least what Retry-After asks, never beyond maxDelayMs', () => {
    expect(retryDelayMs(policy, 1, 30_000)).toBe(30_000);
    expect(retryDelayMs(policy, 5, 100)).toBe(16_000);
    expect(retryDelayMs(policy, 1, 3_600_000)).toBe(600_000);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP-dates (RFC 9110 §10.2.3), and ignores anything else', () => {
    const now = Date.parse('2025-06-15T12:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Sun, 15 Jun 2025 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Sun, 15 Jun 2025 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('verdictOf', () => {
  it.each([
    [200, 'delivered'], [202, 'delivered'], [204, 'delivered'],
    [408, 'retry'], [425, 'retry'], [429, 'retry'], [500, 'retry'], [502, 'retry'], [503, 'retry'],
    [301, 'reject'], [400, 'reject'], [401, 'reject'], [403, 'reject'], [404, 'reject'], [413, 'reject'],
  ] as const)('HTTP %i: %s', (status, verdict) => {
    expect(verdictOf(status)).toBe(verdict);
  });
});
