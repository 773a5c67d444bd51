/**
 * When the chain's head is anchored: at start, after every `everyEvents` events, `intervalMs`
 * after the last anchor when events were added since, and at a clean stop. Each anchor is signed,
 * appended to the anchor file (fsync'd) and handed to the sink (the webhooks).
 *
 * Anchoring never runs inside `record`: events are recorded inside the callers' SQLite
 * transactions, which may still roll back. `eventRecorded` only counts and arms a timer; the
 * anchor is taken on the timer, from the head as committed then.
 */
import { systemScheduler, type Scheduler } from '../alarms/scheduler.ts';
import { AuditError } from './audit-error.ts';
import type { AuditKey } from './audit-key.ts';
import { anchorLine, signAnchor, type AnchorReason, type AnchorSink, type AuditAnchor } from './audit-anchor.ts';
import type { AnchorFile } from './anchor-file.ts';

/** The last committed event, or undefined while the connection is inside a transaction. */
export interface ChainHead {
  seq: number;
  hash: string;
}

export interface AuditAnchoringOptions {
  head: () => ChainHead | undefined;
  keyedFromSeq: number;
  key: AuditKey;
  file: AnchorFile;
  sink?: AnchorSink;
  everyEvents: number;
  intervalMs: number;
  now?: () => number;
  scheduler?: Scheduler;
  /** A failed anchor write on a timer (it is tried again after `intervalMs`). Never throws. */
  onError?: (err: unknown) => void;
}

/** How long to wait before trying again when the connection is inside a transaction. */
const BUSY_RETRY_MS = 1_000;

export class AuditAnchoring {
  private readonly opts: Required<Omit<AuditAnchoringOptions, 'sink'>> & { sink?: AnchorSink };
  private eventsSinceAnchor = 0;
  private lastAnchor: { seq: number; hash: string; at: number } | undefined;
  private soonTimer: unknown;
  private intervalTimer: unknown;
  private stopped = false;

  constructor(options: AuditAnchoringOptions) {
    this.opts = {
      now: Date.now, scheduler: systemScheduler, onError: () => undefined,
      ...options,
      everyEvents: Math.max(1, Math.trunc(options.everyEvents)),
      intervalMs: Math.max(1, options.intervalMs),
    };
  }

  /** Writes the start anchor. Throws if it cannot be written: the server must not run unanchored. */
  start(): AuditAnchor {
    const anchor = this.anchorNow('start');
    if (anchor === undefined) {
      throw new AuditError('audit_anchor_unwritable', 'the audit log cannot be anchored from inside a transaction', { file: this.opts.file.path });
    }
    return anchor;
  }

  /** Called after every recorded event (possibly inside a transaction). Cheap: no I/O. */
  eventRecorded(): void {
    if (this.stopped) return;
    this.eventsSinceAnchor++;
    if (this.eventsSinceAnchor >= this.opts.everyEvents) {
      this.armSoon(0);
      return;
    }
    if (this.intervalTimer === undefined) {
      const since = this.opts.now() - (this.lastAnchor?.at ?? this.opts.now());
      this.intervalTimer = this.opts.scheduler.setTimeout(() => {
        this.intervalTimer = undefined;
        this.onTimer('interval');
      }, Math.max(0, this.opts.intervalMs - since));
    }
  }

  /**
   * Signs the committed head, appends it to the file and publishes it. Returns undefined (and
   * writes nothing) inside a transaction, or when a periodic anchor would repeat the last one.
   */
  anchorNow(reason: AnchorReason): AuditAnchor | undefined {
    const head = this.opts.head();
    if (head === undefined) return undefined;
    const periodic = reason === 'events' || reason === 'interval';
    if (periodic && this.lastAnchor?.seq === head.seq && this.lastAnchor.hash === head.hash) {
      this.eventsSinceAnchor = 0;
      return undefined;
    }
    const anchor = signAnchor(this.opts.key, { seq: head.seq, hash: head.hash, keyedFrom: this.opts.keyedFromSeq, at: this.opts.now(), reason });
    this.opts.file.append(anchorLine(anchor));
    this.lastAnchor = { seq: anchor.seq, hash: anchor.hash, at: anchor.at };
    this.eventsSinceAnchor = 0;
    this.clearTimers();
    try {
      this.opts.sink?.publish(anchor);
    } catch (err) {
      // The file holds the anchor; a sink that throws must not undo that.
      this.opts.onError(err);
    }
    return anchor;
  }

  /** Writes the stop anchor and stops the timers. Errors go to onError: stopping must finish. */
  stop(): void {
    if (this.stopped) return;
    this.clearTimers();
    try {
      this.anchorNow('stop');
    } catch (err) {
      this.opts.onError(err);
    }
    this.stopped = true;
    this.opts.file.close();
  }

  private armSoon(ms: number): void {
    if (this.soonTimer !== undefined) return;
    this.soonTimer = this.opts.scheduler.setTimeout(() => {
      this.soonTimer = undefined;
      this.onTimer('events');
    }, ms);
  }

  private onTimer(reason: 'events' | 'interval'): void {
    if (this.stopped) return;
    try {
      if (this.anchorNow(reason) === undefined && this.opts.head() === undefined) this.armSoon(BUSY_RETRY_MS);
    } catch (err) {
      this.opts.onError(err);
      // Try again later rather than in a tight loop (a full disk does not empty itself at once).
      this.clearTimers();
      this.intervalTimer = this.opts.scheduler.setTimeout(() => {
        this.intervalTimer = undefined;
        this.onTimer('interval');
      }, this.opts.intervalMs);
    }
  }

  private clearTimers(): void {
    if (this.soonTimer !== undefined) this.opts.scheduler.clearTimeout(this.soonTimer);
    if (this.intervalTimer !== undefined) this.opts.scheduler.clearTimeout(this.intervalTimer);
    this.soonTimer = undefined;
    this.intervalTimer = undefined;
  }
}
