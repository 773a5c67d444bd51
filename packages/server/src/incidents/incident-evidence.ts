/**
 * Evidence capture: the telemetry of a DMOP incident's panel and feed from a few minutes before
 * to a few minutes after it, kept with the incident. The window is read only once it has passed
 * (and telemetry held back by store-and-forward has had time to arrive), so the due time is
 * stored with the incident (SqlIncidentLog) and `captureDue(now)` reads whatever is due —
 * after a restart too: the timer picks up every capture that fell due while the server was down.
 */
import { systemClock, type Clock, type TimerHandle } from '@shellguard/protocol';
import type { EvidenceSeries, IncidentEvidence } from './incident-log.ts';

/**
 * Reads an asset's telemetry over [fromMs, toMs], oldest sample first, one entry per point
 * (`points` absent: every point of the asset). See telemetry-window-reader.ts for the store's.
 */
export type TelemetryWindowReader = (
  site: string, asset: string, points: string[] | undefined, fromMs: number, toMs: number,
) => Promise<EvidenceSeries[]>;

/**
 * Where due captures wait and their outcome is kept (SqlIncidentLog implements it). Each record
 * applies only to a capture still pending, so two servers capturing the same one (replicas) keep
 * the first outcome.
 */
export interface EvidenceStore {
  /** Pending captures with dueAt <= now, the longest-due first. */
  dueEvidence(now: number, limit: number): Promise<IncidentEvidence[]>;
  recordEvidence(evidenceId: number, series: EvidenceSeries[], at: number): Promise<void>;
  /** A failed read: try again at `retryAt`, or give up (state `failed`) when null. */
  recordEvidenceFailure(evidenceId: number, error: string, at: number, retryAt: number | null): Promise<void>;
}

export interface EvidenceCaptureOptions {
  store: EvidenceStore;
  read: TelemetryWindowReader;
  /** Time, and the capture timer (default systemClock; its timers are unref'd). */
  clock?: Clock;
  /** How often due captures are looked for (default 15 s): evidence is complete within that of falling due. */
  intervalMs?: number;
  /** Captures read per run (default 20); the rest wait for the next run. */
  batch?: number;
  /** Reads tried before a capture is given up (default 5), `retryMs` apart, doubling (default 60 s). */
  maxAttempts?: number;
  retryMs?: number;
  /** A capture or a run failed; it is retried as above, this is for the log. */
  onError?: (err: unknown, evidence?: IncidentEvidence) => void;
}

export interface EvidenceRun {
  captured: number;
  retrying: number;
  failed: number;
}

const DEFAULTS = { intervalMs: 15_000, batch: 20, maxAttempts: 5, retryMs: 60_000 };

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class EvidenceCapture {
  private readonly store: EvidenceStore;
  private readonly read: TelemetryWindowReader;
  private readonly clock: Clock;
  private readonly now: () => number;
  private readonly opts: typeof DEFAULTS;
  private readonly onError: (err: unknown, evidence?: IncidentEvidence) => void;
  private timer: TimerHandle | undefined;
  private running: Promise<EvidenceRun> | undefined;
  private started = false;

  constructor(options: EvidenceCaptureOptions) {
    this.store = options.store;
    this.read = options.read;
    this.clock = options.clock ?? systemClock;
    this.now = () => this.clock.now();
    this.opts = {
      intervalMs: options.intervalMs ?? DEFAULTS.intervalMs, batch: options.batch ?? DEFAULTS.batch,
      maxAttempts: options.maxAttempts ?? DEFAULTS.maxAttempts, retryMs: options.retryMs ?? DEFAULTS.retryMs,
    };
    this.onError = options.onError ?? (() => undefined);
  }

  /**
   * Reads every capture due at `now` (up to `batch`) and stores what it found. One run at a time:
   * a call during a run gets that run's outcome.
   */
  captureDue(now: number): Promise<EvidenceRun> {
    this.running ??= this.runOnce(now).finally(() => { this.running = undefined; });
    return this.running;
  }

  /** Runs at once (captures that fell due while stopped), then every `intervalMs`. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.arm(0);
  }

  /** Stops the timer and waits for a run in progress, so the database can be closed after. */
  async stop(): Promise<void> {
    this.started = false;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private arm(ms: number): void {
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.captureDue(this.now()).catch((err: unknown) => this.onError(err)).finally(() => {
        // Not after stop(), nor twice when stop() and start() came during the run.
        if (this.started && this.timer === undefined) this.arm(this.opts.intervalMs);
      });
    }, ms).unref();
  }

  private async runOnce(now: number): Promise<EvidenceRun> {
    const run: EvidenceRun = { captured: 0, retrying: 0, failed: 0 };
    for (const evidence of await this.store.dueEvidence(now, this.opts.batch)) {
      try {
        const series = await this.read(evidence.site, evidence.asset, evidence.points, evidence.from, evidence.to);
        await this.store.recordEvidence(evidence.id, series, this.now());
        run.captured++;
      } catch (err) {
        this.onError(err, evidence);
        const attempt = evidence.attempts + 1;
        const at = this.now();
        const retryAt = attempt < this.opts.maxAttempts ? at + this.opts.retryMs * 2 ** (attempt - 1) : null;
        await this.store.recordEvidenceFailure(evidence.id, messageOf(err), at, retryAt);
        if (retryAt === null) run.failed++;
        else run.retrying++;
      }
    }
    return run;
  }
}
