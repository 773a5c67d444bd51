/**
 * Fake time for tests: a Clock whose timers run only when the test moves it on, in due order, so
 * expiry, retry and flush behaviour is tested deterministically and without waiting.
 */
import { MAX_TIMER_DELAY_MS, type Clock, type TimerHandle } from '../clock.ts';

class ManualTimer implements TimerHandle {
  #ref = true;

  unref(): this {
    this.#ref = false;
    return this;
  }

  hasRef(): boolean {
    return this.#ref;
  }
}

interface Scheduled {
  fn: () => void;
  at: number;
  /** Order among timers due at the same time: the one scheduled first runs first. */
  seq: number;
  /** Set for an interval: it is due again this long after it ran. */
  every: number | undefined;
}

/** Yields to the event loop a few times, so promises a timer started can settle. */
async function eventLoopTurns(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * A Clock that stands still until `advance` moves it. Moving it runs every timer that falls due,
 * soonest first (ties in the order they were scheduled), each at its own due time, including timers
 * those timers schedule within the span.
 *
 * @example
 * const clock = new ManualClock(Date.UTC(2026, 0, 1));
 * const ingest = new Ingest({ ...options, clock, flushIntervalMs: 100 });
 * ingest.accept(deviceId, topic, payload);
 * clock.advance(100); // the flush timer has run
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<ManualTimer, Scheduled>();

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  /** A bound function: it can be handed on where a `() => number` is wanted. */
  readonly now = (): number => this.#now;

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.#schedule(fn, delayOf(ms), undefined);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    // As Node: an interval under 1 ms repeats every 1 ms (and never forever at one instant).
    const every = Math.max(1, delayOf(ms));
    return this.#schedule(fn, every, every);
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle instanceof ManualTimer) this.#timers.delete(handle);
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.clearTimeout(handle);
  }

  /** Moves time on by `ms`, running the timers that fall due. A timer that throws stops the move. */
  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }

  /** Moves time on to `time` (never back), running the timers that fall due. */
  advanceTo(time: number): void {
    for (let next = this.#nextDue(time); next; next = this.#nextDue(time)) this.#run(...next);
    this.#now = Math.max(this.#now, time);
  }

  /**
   * As `advance`, but after each timer lets the promises it started settle (by default a few turns
   * of the event loop; no real time passes on this clock), for timers that start asynchronous work.
   */
  advanceAsync(ms: number, settle?: () => Promise<void>): Promise<void> {
    return this.advanceToAsync(this.#now + ms, settle);
  }

  /** As `advanceTo`, letting the promises each timer starts settle (see `advanceAsync`). */
  async advanceToAsync(time: number, settle: () => Promise<void> = eventLoopTurns): Promise<void> {
    for (let next = this.#nextDue(time); next; next = this.#nextDue(time)) {
      this.#run(...next);
      await settle();
    }
    this.#now = Math.max(this.#now, time);
  }

  /** Sets the time without running any timer (a clock that jumped); the next move runs what is overdue. */
  setTime(time: number): void {
    this.#now = time;
  }

  /** Due times of the pending timers, soonest first. */
  dueTimes(): number[] {
    return [...this.#timers.values()].map((t) => t.at).sort((a, b) => a - b);
  }

  /** Pending timers that would keep a Node process alive (not unref'd). */
  refedTimers(): number {
    let n = 0;
    for (const handle of this.#timers.keys()) if (handle.hasRef()) n++;
    return n;
  }

  #schedule(fn: () => void, ms: number, every: number | undefined): ManualTimer {
    const handle = new ManualTimer();
    this.#timers.set(handle, { fn, at: this.#now + ms, seq: ++this.#seq, every });
    return handle;
  }

  #nextDue(until: number): [ManualTimer, Scheduled] | undefined {
    let next: [ManualTimer, Scheduled] | undefined;
    for (const entry of this.#timers) {
      const t = entry[1];
      if (t.at > until) continue;
      if (!next || t.at < next[1].at || (t.at === next[1].at && t.seq < next[1].seq)) next = entry;
    }
    return next;
  }

  #run(handle: ManualTimer, timer: Scheduled): void {
    this.#now = Math.max(this.#now, timer.at);
    if (timer.every === undefined) this.#timers.delete(handle);
    // Re-armed before it runs, so the callback may clear it; as Node, from when it ran.
    else this.#timers.set(handle, { ...timer, at: this.#now + timer.every, seq: ++this.#seq });
    timer.fn();
  }
}

/** Node's rules for a delay, except that ManualClock refuses what Node would silently fire at once. */
function delayOf(ms: number): number {
  if (ms > MAX_TIMER_DELAY_MS) {
    throw new RangeError(`a timer delay of ${ms} ms is above ${MAX_TIMER_DELAY_MS} ms, which Node fires at once; cut the wait and re-check`);
  }
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}
