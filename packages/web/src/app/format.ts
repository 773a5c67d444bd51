/**
 * How times, values and durations read on the dashboard. Times are shown in the browser's time
 * zone with the zone named (a control room and a remote engineer compare notes), to the second.
 */

const timeFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false, timeZoneName: 'short',
});
const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });

export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  return timeFormat.format(new Date(ms));
}

export function formatClock(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  return clockFormat.format(new Date(ms));
}

/** `ISO-8601` for machines (the `dateTime` of a <time> element). */
export function isoTime(ms: number | null | undefined): string | undefined {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? undefined : new Date(ms).toISOString();
}

export function formatDuration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m} min`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h`;
  return `${Math.round(h / 24)} d`;
}

/** "3 min ago", "in 5 h". */
export function formatAgo(ms: number | null | undefined, now = Date.now()): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return 'never';
  const d = now - ms;
  if (Math.abs(d) < 1500) return 'now';
  return d >= 0 ? `${formatDuration(d)} ago` : `in ${formatDuration(d)}`;
}

/** A measured value with its unit, to a precision that suits its size. */
export function formatValue(value: number | boolean | null | undefined, unit = ''): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const text = abs >= 1000 ? value.toFixed(0) : abs >= 100 ? value.toFixed(1) : abs >= 1 ? value.toFixed(2) : value.toPrecision(3);
  return unit ? `${text} ${unit}` : text;
}

export function formatPercent(share: number): string {
  return `${(share * 100).toFixed(1)} %`;
}

/** OPC quality as words (192 good, 64-191 uncertain, below 64 bad). */
export function qualityName(quality: number): 'good' | 'uncertain' | 'bad' {
  return quality >= 192 ? 'good' : quality >= 64 ? 'uncertain' : 'bad';
}
