/**
 * What both telemetry stores decide the same way, whichever engine holds the samples: how a
 * redelivery is told from a different batch under the same identity, how a stored value is
 * represented, which queries are refused, how long each resolution is kept, and how a head of
 * samples is cut into chunks and roll-up periods.
 */
import type { SampleColumns } from './codec/chunk-codec.ts';
import { MAX_CHUNK_SAMPLES, MAX_CHUNK_SPAN_MS } from './layout.ts';
import { TelemetryError } from './telemetry-error.ts';
import type { IncomingBatch, RetentionPolicy } from './telemetry-store.ts';

const DAY = 86_400_000;

export const DEFAULT_RETENTION: RetentionPolicy = { rawMs: 90 * DAY, minuteMs: 400 * DAY, hourMs: 3650 * DAY };

/** Retention as configured: a default and per-site overrides. */
export interface RetentionOptions {
  default?: Partial<RetentionPolicy>;
  sites?: Record<string, Partial<RetentionPolicy>>;
}

export class RetentionPolicies {
  private readonly fallback: RetentionPolicy;
  private readonly sites: Record<string, Partial<RetentionPolicy>>;

  constructor(options: RetentionOptions = {}) {
    this.fallback = { ...DEFAULT_RETENTION, ...options.default };
    this.sites = { ...options.sites };
  }

  of(site: string): RetentionPolicy {
    return { ...this.fallback, ...this.sites[site] };
  }
}

/**
 * What tells a redelivery from a different batch under the same identity (see
 * AppendResult.conflicts): the sample count and the first and last sample times, hashed into a
 * safe integer (a redelivery carries the same samples; a restored queue reusing a seq, new readings).
 */
export function fingerprintOf(b: IncomingBatch): number {
  const n = b.samples.length;
  if (n === 0) return 0;
  let h = 0x811c9dc5 ^ n;
  for (const t of [b.samples[0]!.ts, b.samples[n - 1]!.ts]) {
    // FNV-1a over the two halves of each time (exact for safe integers), folded to 52 bits.
    const lo = t % 0x100000000;
    const hi = Math.floor(t / 0x100000000);
    h = Math.imul(h ^ lo, 0x01000193) >>> 0;
    h = Math.imul(h ^ hi, 0x01000193) >>> 0;
  }
  return h * 0x100000 + (n % 0x100000);
}

/** A sample's value as stored: booleans as 1 / 0, a failed read (null) as NaN. */
export function toStored(v: number | boolean | null): number {
  return v === null ? NaN : typeof v === 'boolean' ? (v ? 1 : 0) : v;
}

export function checkRange(from: number, to: number): void {
  if (!Number.isFinite(from) || !Number.isFinite(to) || from > to) {
    throw new TelemetryError('telemetry_bad_query', 'the time range must have from <= to (epoch milliseconds)', { from, to });
  }
}

export function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) throw new TelemetryError('telemetry_bad_query', 'limit must be a positive integer', { limit });
}

export function checkBucket(bucketMs: number): void {
  if (!Number.isInteger(bucketMs) || bucketMs < 1) {
    throw new TelemetryError('telemetry_bad_query', 'bucket width must be a positive integer of milliseconds', { bucketMs });
  }
}

/**
 * Cuts sorted columns into chunks: at most MAX_CHUNK_SAMPLES samples, spanning less than
 * MAX_CHUNK_SPAN_MS (what lets a range read bound its index scan). Calls `chunk(start, end)` for each.
 */
export function forEachChunk(cols: SampleColumns, chunk: (start: number, end: number) => void): void {
  let start = 0;
  while (start < cols.count) {
    const first = cols.ts[start]!;
    let end = start + 1;
    while (end < cols.count && end - start < MAX_CHUNK_SAMPLES && cols.ts[end]! - first < MAX_CHUNK_SPAN_MS) end++;
    chunk(start, end);
    start = end;
  }
}

/**
 * The roll-up periods of `resolution` that samples [start, end) of sorted columns fall in (non-null
 * values only): `period(ts, min, max, sum, count)` for each, in time order.
 */
export function forEachRollup(
  cols: SampleColumns, start: number, end: number, resolution: number,
  period: (ts: number, min: number, max: number, sum: number, count: number) => void,
): void {
  let at = NaN;
  let min = 0, max = 0, sum = 0, n = 0;
  for (let i = start; i < end; i++) {
    const v = cols.value[i]!;
    if (Number.isNaN(v)) continue;
    const p = Math.floor(cols.ts[i]! / resolution) * resolution;
    if (p !== at) {
      if (n > 0) period(at, min, max, sum, n);
      at = p; min = v; max = v; sum = 0; n = 0;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    n++;
  }
  if (n > 0) period(at, min, max, sum, n);
}

/** Samples stored per site, per minute of the server clock over the last hour: the storage report's rate. */
export class SiteRate {
  private readonly perMinute = new Float64Array(60);
  private minuteIndex = -1;

  count(samples: number, now: number): void {
    const minute = Math.floor(now / 60_000);
    if (this.minuteIndex !== minute) {
      // Clear the minutes skipped since the last sample.
      for (let m = Math.max(this.minuteIndex + 1, minute - 59); m <= minute; m++) this.perMinute[m % 60] = 0;
      this.minuteIndex = minute;
    }
    this.perMinute[minute % 60]! += samples;
  }

  /** Samples per second over the completed minutes of the last hour (the current one is partial). */
  perSecond(now: number): number {
    const minute = Math.floor(now / 60_000);
    let samples = 0;
    let minutes = 0;
    for (let m = minute - 60; m < minute; m++) {
      if (m > this.minuteIndex || m <= this.minuteIndex - 60) continue;
      samples += this.perMinute[((m % 60) + 60) % 60]!;
      minutes++;
    }
    return minutes > 0 ? samples / (minutes * 60) : 0;
  }
}
