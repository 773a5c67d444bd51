/**
 * Maintenance windows: when devices may install. A window is a daily (or per weekday) span of
 * local wall-clock time in a time zone, so "Sunday 02:00-05:00 Europe/Berlin" follows daylight
 * saving time. A window whose end is before its start runs past midnight into the next day;
 * `days` are the days it starts on (0 = Sunday … 6 = Saturday; absent = every day).
 */
import { DeploymentError } from './deployment-error.ts';

export interface MaintenanceWindow {
  days?: number[];
  /** 'HH:MM', 24-hour local time. */
  start: string;
  /** 'HH:MM'; '24:00' for midnight at the end of the day. */
  end: string;
  /** 'UTC' or an IANA zone such as 'Europe/Berlin'. */
  timeZone: string;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const MINUTE_MS = 60_000;
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  return f;
}

function minutesOf(hhmm: string): number {
  if (hhmm === '24:00') return 24 * 60;
  const m = HHMM.exec(hhmm)!;
  return Number(m[1]) * 60 + Number(m[2]);
}

export function parseMaintenanceWindow(x: unknown, where: string): MaintenanceWindow {
  const bad = (what: string): never => {
    throw new DeploymentError('deployment_invalid', `${where}: ${what}`);
  };
  if (typeof x !== 'object' || x === null) bad('a window is {days?, start: "HH:MM", end: "HH:MM", timeZone}');
  const o = x as Record<string, unknown>;
  if (typeof o.start !== 'string' || !HHMM.test(o.start)) bad('start must be "HH:MM" (00:00 to 23:59)');
  if (typeof o.end !== 'string' || !(HHMM.test(o.end) || o.end === '24:00')) bad('end must be "HH:MM" (00:01 to 24:00)');
  if (minutesOf(o.start as string) === minutesOf(o.end as string)) bad('start and end are equal; use 00:00 to 24:00 for a whole day');
  if (typeof o.timeZone !== 'string' || o.timeZone.length > 64) bad('timeZone must be "UTC" or an IANA zone such as "Europe/Berlin"');
  try {
    formatter(o.timeZone as string);
  } catch {
    bad(`timeZone ${String(o.timeZone)} is not a time zone this server knows; use "UTC" or an IANA zone such as "Europe/Berlin"`);
  }
  let days: number[] | undefined;
  if (o.days !== undefined) {
    if (!Array.isArray(o.days) || o.days.length === 0 || o.days.length > 7
      || !o.days.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0 && d <= 6)) bad('days must list weekdays 0 (Sunday) to 6 (Saturday)');
    days = [...new Set(o.days as number[])].sort();
  }
  return { ...(days ? { days } : {}), start: o.start as string, end: o.end as string, timeZone: o.timeZone as string };
}

/** Weekday (0 = Sunday) and minute of the day at `at` in `timeZone`. */
function localTime(at: number, timeZone: string): { day: number; minute: number } {
  let day = 0;
  let hour = 0;
  let minute = 0;
  for (const part of formatter(timeZone).formatToParts(at)) {
    if (part.type === 'weekday') day = WEEKDAYS.indexOf(part.value);
    else if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return { day, minute: hour * 60 + minute };
}

export function isInsideWindow(w: MaintenanceWindow, at: number): boolean {
  const { day, minute } = localTime(at, w.timeZone);
  const start = minutesOf(w.start);
  const end = minutesOf(w.end);
  const startsOn = (d: number) => w.days === undefined || w.days.includes(d);
  if (start < end) return minute >= start && minute < end && startsOn(day);
  // Past midnight: the evening part belongs to today's window, the morning part to yesterday's.
  return (minute >= start && startsOn(day)) || (minute < end && startsOn((day + 6) % 7));
}

/** No windows: any time. */
export function isInsideAnyWindow(windows: readonly MaintenanceWindow[], at: number): boolean {
  return windows.length === 0 || windows.some((w) => isInsideWindow(w, at));
}

/**
 * When the windows open at `at` stop covering time: the first whole minute outside all of them
 * (overlapping and back-to-back windows count as one). Undefined when `at` is outside them all.
 */
export function windowEndsAt(windows: readonly MaintenanceWindow[], at: number): number | undefined {
  if (windows.length === 0 || !isInsideAnyWindow(windows, at)) return undefined;
  // Minute steps: windows are whole minutes, and stepping follows DST changes without arithmetic.
  const limit = at + 8 * 24 * 60 * MINUTE_MS;
  for (let t = Math.floor(at / MINUTE_MS) * MINUTE_MS + MINUTE_MS; t < limit; t += MINUTE_MS) {
    if (!isInsideAnyWindow(windows, t)) return t;
  }
  return limit;
}
