/**
 * When the chain's head is anchored: at start, after every `everyEvents` events, `intervalMs`
 * after the last anchor when events were added since, and at a clean stop. Each anchor is signed,
 * appended to the anchor file (fsync'd) and handed to the sink (the webhooks).
 *
 * Anchoring never runs inside `record`: events are recorded inside the callers' transactions,
 * which may still roll back. `eventRecorded` only counts and arms a timer; the anchor is taken on
 * the timer, from the head as committed then (read outside any transaction), so an anchor never
 * vouches for an event that rolled back. With several replicas on one PostgreSQL each anchors the
 * shared chain's committed head to its own anchor file: every anchor names a committed prefix.
 */
import { systemClock, type Clock, type TimerHandle } from '@shellguard/protocol';
import { AuditError } from './audit-error.ts';
import type { AuditKey } from './audit-key.ts';
import { anchorLine, signAnchor, type AnchorReason, type AnchorSink, type AuditAnchor } from './audit-anchor.ts';
import type { AnchorFile } from './anchor-file.ts';

/** The last committed event (seq 0 and the genesis hash for an empty log). */
export interface ChainHead {
  seq: number;
  hash: string;
}

export interface AuditAnchoringOptions {
  /** Reads the committed head (outside any transaction). */
  head: () => Promise<ChainHead>;
  keyedFromSeq: number;
  key: AuditKey;
  file: AnchorFile;
  sink?: AnchorSink;
  everyEvents: number;
  intervalMs: number;
  /** Time, and the anchor timers (default systemClock; its timers are unref'd). */
  clock?: Clock;
  /** A failed anchor write on a timer (it is tried again after `intervalMs`). Never throws. */
  onError?: (err: unknown) => void;
}

export class AuditAnchoring {
  private readonly opts: Required<Omit<AuditAnchoringOptions, 'sink'>> & { sink?: AnchorSink };
  private eventsSinceAnchor = 0;
  private lastAnchor: { seq: number; hash: string; at: number } | undefined;
  private soonTimer: TimerHandle | undefined;
  private intervalTimer: TimerHandle | undefined;
  /** Anchors are written one at a time, in order: the file's lines never go back in the chain. */
  private writing: Promise<unknown> = Promise.resolve();
  private stopping = false;
  private stopped = false;
  private stopRun: Promise<void> | undefined;

  constructor(options: AuditAnchoringOptions) {
    this.opts = {
      clock: systemClock, onError: () => undefined,
      ...options,
      everyEvents: Math.max(1, Math.trunc(options.everyEvents)),
      intervalMs: Math.max(1, options.intervalMs),
    };
  }

  /** Writes the start anchor. Rejects if it cannot be written: the server must not run unanchored. */
  async start(): Promise<AuditAnchor> {
    const anchor = await this.anchorNow('start');
    if (anchor === undefined) throw new AuditError('audit_anchor_unwritable', 'the audit log could not be anchored at start', { file: this.opts.file.path });
    return anchor;
  }

  /** Called after every recorded event (possibly inside a transaction). Cheap: no I/O. */
  eventRecorded(): void {
    if (this.stopping) return;
    this.eventsSinceAnchor++;
    if (this.eventsSinceAnchor >= this.opts.everyEvents) {
      this.armSoon(0);
      return;
    }
    if (this.intervalTimer === undefined) {
      const since = this.opts.clock.now() - (this.lastAnchor?.at ?? this.opts.clock.now());
      this.armInterval(Math.max(0, this.opts.intervalMs - since));
    }
  }

  /**
   * Signs the committed head, appends it to the file and publishes it. Resolves undefined (and
   * writes nothing) when a periodic anchor would repeat the last one.
   */
  anchorNow(reason: AnchorReason): Promise<AuditAnchor | undefined> {
    const run = this.writing.then(() => this.anchorOnce(reason));
    this.writing = run.catch(() => undefined);
    return run;
  }

  /** Resolves once no anchor is being written (timers waiting do not count). */
  async idle(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.writing;
      await seen;
    } while (seen !== this.writing);
  }

  /** Writes the stop anchor and stops the timers. Errors go to onError: stopping must finish. */
  stop(): Promise<void> {
    this.stopRun ??= (async () => {
      this.stopping = true;
      this.clearTimers();
      try {
        await this.anchorNow('stop');
      } catch (err) {
        this.opts.onError(err);
      }
      this.stopped = true;
      this.opts.file.close();
    })();
    return this.stopRun;
  }

  private async anchorOnce(reason: AnchorReason): Promise<AuditAnchor | undefined> {
    if (this.stopped) return undefined;
    const counted = this.eventsSinceAnchor;
    const head = await this.opts.head();
    const periodic = reason === 'events' || reason === 'interval';
    // Events counted after the head was read are the next anchor's.
    this.eventsSinceAnchor = Math.max(0, this.eventsSinceAnchor - counted);
    if (periodic && this.lastAnchor?.seq === head.seq && this.lastAnchor.hash === head.hash) return undefined;
    const anchor = signAnchor(this.opts.key, { seq: head.seq, hash: head.hash, keyedFrom: this.opts.keyedFromSeq, at: this.opts.clock.now(), reason });
    this.opts.file.append(anchorLine(anchor));
    this.lastAnchor = { seq: anchor.seq, hash: anchor.hash, at: anchor.at };
    this.clearTimers();
    // A counted event whose transaction had not committed when the head was read is not in this
    // anchor: look once more an interval later (nothing is written if the head stayed put).
    if (periodic && !this.stopping) {
      this.armInterval(this.opts.intervalMs);
      if (this.eventsSinceAnchor >= this.opts.everyEvents) this.armSoon(0);
    }
    try {
      this.opts.sink?.publish(anchor);
    } catch (err) {
      // The file holds the anchor; a sink that throws must not undo that.
      this.opts.onError(err);
    }
    return anchor;
  }

  private armInterval(ms: number): void {
    if (this.intervalTimer !== undefined) return;
    this.intervalTimer = this.opts.clock.setTimeout(() => {
      this.intervalTimer = undefined;
      this.onTimer('interval');
    }, ms).unref();
  }

  private armSoon(ms: number): void {
    if (this.soonTimer !== undefined) return;
    this.soonTimer = this.opts.clock.setTimeout(() => {
      this.soonTimer = undefined;
      this.onTimer('events');
    }, ms).unref();
  }

  private onTimer(reason: 'events' | 'interval'): void {
    if (this.stopping) return;
    this.anchorNow(reason).catch((err: unknown) => {
      this.opts.onError(err);
      if (this.stopping) return;
      // Try again later rather than in a tight loop (a full disk does not empty itself at once).
      this.clearTimers();
      this.armInterval(this.opts.intervalMs);
    });
  }

  private clearTimers(): void {
    this.opts.clock.clearTimeout(this.soonTimer);
    this.opts.clock.clearTimeout(this.intervalTimer);
    this.soonTimer = undefined;
    this.intervalTimer = undefined;
  }
}
