/**
 * The time port (STYLE.md §6): the one way a component reads the time or waits. Expiry, retry,
 * flush and renewal timers go through it, so tests drive them on fake time (`ManualClock` in
 * `@shellguard/protocol/testing`) instead of waiting.
 */

/**
 * A pending timer. `unref()` lets the process exit while the timer waits, as Node's
 * `Timeout.unref()`. Background work (renewals, retries, expiry checks) unrefs its timers; the
 * ingest flush timer does not.
 */
export interface TimerHandle {
  unref(): this;
  /** False once `unref()` was called. */
  hasRef(): boolean;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Runs `fn` once after `ms` (at most MAX_TIMER_DELAY_MS; longer waits are the caller's to cut
   * and re-check, as Node fires them at once).
   */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
  /** Runs `fn` every `ms` until cleared. */
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle | undefined): void;
}

/** The longest delay a timer takes (2^31 - 1 ms, about 24.8 days). */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/**
 * Wall-clock time and Node's timers; nothing is unref'd unless the caller asks. A plain object:
 * `{ ...systemClock, now }` keeps these timers with another source of time.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout | undefined),
};
