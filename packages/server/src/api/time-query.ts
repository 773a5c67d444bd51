/**
 * Times and widths as people write them in a query: epoch milliseconds (`1764547200000`),
 * ISO 8601 (`2026-12-01T00:00:00Z`, `2026-12-01`), or relative to now (`now`, `-24h`,
 * `now-15m`, `-7d`). Bucket widths: `60000`, `500ms`, `30s`, `1m`, `5m`, `1h`, `1d`.
 */
import { ApiError } from './api-error.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
export const DEFAULT_RANGE_MS = 3_600_000;
export const MAX_BUCKETS = 100_000;

/** `60000`, `500ms`, `30s`, `5m`, `1h`, `1d` → milliseconds. */
export function parseBucket(text: string): number {
  const m = /^([1-9][0-9]{0,12})(ms|s|m|h|d|w)?$/.exec(text);
  if (!m) {
    throw new ApiError('bad_request', `bucket "${text}" is not a width such as 60000, 30s, 1m, 5m or 1h`);
  }
  return Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
}

const RELATIVE = /^(?:now)?(?:([+-])([0-9]{1,12})(ms|s|m|h|d|w))?$/;
// ISO 8601 as Date.parse reads it reliably: a calendar date, optionally a time and a zone.
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** A time in one of the accepted forms → epoch milliseconds. `field` names it in the error. */
export function parseTime(text: string | number, now: number, field: string): number {
  if (typeof text === 'number') {
    if (!Number.isSafeInteger(text)) throw new ApiError('bad_request', `${field} must be whole epoch milliseconds`);
    return text;
  }
  const t = text.trim();
  if (/^-?[0-9]{1,16}$/.test(t)) return Number(t);
  if (t !== '' && RELATIVE.test(t) && (t.startsWith('now') || t.startsWith('-') || t.startsWith('+'))) {
    const m = RELATIVE.exec(t)!;
    if (m[1] === undefined) return now;
    const delta = Number(m[2]) * UNIT_MS[m[3]!]!;
    return m[1] === '-' ? now - delta : now + delta;
  }
  if (ISO.test(t)) {
    const ms = Date.parse(t.replace(' ', 'T'));
    if (!Number.isNaN(ms)) return ms;
  }
  throw new ApiError('bad_request',
    `${field} "${text}" is not a time: give epoch milliseconds, ISO 8601 (2026-12-01T08:00:00Z) or a time relative to now (now, -24h, now-15m)`);
}

function isoOr(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

export interface TimeRange {
  from: number;
  to: number;
}

export function resolveRange(from: string | number | undefined, to: string | number | undefined, now: number): TimeRange {
  const end = to !== undefined ? parseTime(to, now, 'to') : undefined;
  const start = from !== undefined ? parseTime(from, now, 'from') : undefined;
  const e = end ?? (start !== undefined ? Math.max(start, now) : now);
  const s = start ?? e - DEFAULT_RANGE_MS;
  if (s > e) throw new ApiError('bad_request', `from (${isoOr(s)}) must not be after to (${isoOr(e)})`);
  return { from: s, to: e };
}
