import { ApiError } from './api-error.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
export const DEFAULT_RANGE_MS = 3_600_000;
export const MAX_BUCKETS = 100_000;

/** `60000`, `500ms`, `30s`, `5m`, `1h`, `1d` → milliseconds. */
export function parseBucket(text: string): number {
  const m = /^([1-9][0-9]{0,12})(ms|s|m|h|d)?$/.exec(text);
  if (!m) {
    throw new ApiError('bad_request', `bucket "${text}" is not a width such as 60000, 30s, 1m, 5m or 1h`);
  }
  return Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
}

export interface TimeRange {
  from: number;
  to: number;
}

export function resolveRange(from: number | undefined, to: number | undefined, now: number): TimeRange {
  const end = to ?? (from !== undefined ? Math.max(from, now) : now);
  const start = from ?? end - DEFAULT_RANGE_MS;
  if (start > end) throw new ApiError('bad_request', `from (${start}) must not be after to (${end})`);
  return { from: start, to: end };
}
