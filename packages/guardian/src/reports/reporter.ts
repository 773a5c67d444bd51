/**
 * Crash and error reports (DeviceReport, shellguard/v1/device/<id>/up/report). Reports are sent
 * when the uplink is connected, at most `maxPerMinute` a minute (the server keeps at most 10 a
 * minute per device; we stay well below so a crash loop cannot flood it), and held in a small
 * bounded queue meanwhile: when it is full the oldest report is dropped and counted.
 *
 * A crash report is written to disk synchronously from the uncaughtException handler (the
 * process is about to die, so nothing asynchronous would finish), and uploaded by the next start.
 * Reports carry an error's message and stack, never the environment, and PEM blocks or bearer
 * tokens that slip into a message are cut out.
 */
import {
  closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync,
} from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import {
  MAX_REPORT_BYTES, ShellguardError, decodeDeviceReport, encodeDeviceReport, errorMessage, systemClock, type Clock, type DeviceReport,
  type TimerHandle,
} from '@shellguard/protocol';

export type ReportInput = Omit<DeviceReport, 'v'>;

export interface ReporterOptions {
  /** Publishes one encoded report; false when it could not be sent now (not connected). */
  send: (payload: Buffer) => boolean;
  /** Time, and the timer that sends what the rate limit held back (default systemClock; its timers are unref'd). */
  clock?: Clock;
  logger?: Logger;
  /** Default 50. */
  maxQueued?: number;
  /** Default 6. */
  maxPerMinute?: number;
}

export interface ReporterStats {
  queued: number;
  sent: number;
  /** Dropped because the queue was full. */
  dropped: number;
}

interface QueuedReport {
  payload: Buffer;
  /** Runs once the report has been handed to the uplink (e.g. delete its crash file). */
  onSent: (() => void) | undefined;
}

const WINDOW_MS = 60_000;

export class Reporter {
  private readonly send: (payload: Buffer) => boolean;
  private readonly clock: Clock;
  private readonly maxQueued: number;
  private readonly maxPerMinute: number;
  private readonly logger: Logger | undefined;
  private readonly queue: QueuedReport[] = [];
  /** When each of the last sends happened (at most maxPerMinute entries). */
  private readonly sentAt: number[] = [];
  private readonly counters = { sent: 0, dropped: 0 };
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(options: ReporterOptions) {
    this.send = options.send;
    this.clock = options.clock ?? systemClock;
    this.maxQueued = options.maxQueued ?? 50;
    this.maxPerMinute = options.maxPerMinute ?? 6;
    this.logger = options.logger;
  }

  /** Queues a report and sends what the rate limit allows. */
  report(report: ReportInput, onSent?: () => void): void {
    if (this.queue.length >= this.maxQueued) {
      this.queue.shift();
      this.counters.dropped += 1;
      this.logger?.warn({ dropped: this.counters.dropped }, 'report queue is full; dropped the oldest report');
    }
    this.queue.push({ payload: encodeDeviceReport(report), onSent });
    this.flush();
  }

  /** Sends queued reports while connected and within the rate limit. Call when the uplink connects. */
  flush(): void {
    if (this.stopped) return;
    while (this.queue.length > 0) {
      const now = this.clock.now();
      while (this.sentAt.length > 0 && this.sentAt[0]! <= now - WINDOW_MS) this.sentAt.shift();
      if (this.sentAt.length >= this.maxPerMinute) {
        this.scheduleFlush(this.sentAt[0]! + WINDOW_MS - now);
        return;
      }
      const next = this.queue[0]!;
      let sent: boolean;
      try {
        sent = this.send(next.payload);
      } catch (err) {
        this.logger?.warn({ err: errorMessage(err) }, 'could not send a report; it stays queued');
        sent = false;
      }
      // Not connected: wait for the next flush (the caller flushes on connect).
      if (!sent) return;
      this.queue.shift();
      this.sentAt.push(now);
      this.counters.sent += 1;
      try {
        next.onSent?.();
      } catch (err) {
        this.logger?.warn({ err: errorMessage(err) }, 'report sent, but its clean-up failed');
      }
    }
  }

  stats(): ReporterStats {
    return { queued: this.queue.length, ...this.counters };
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private scheduleFlush(delayMs: number): void {
    if (this.timer !== undefined) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, Math.max(0, delayMs)).unref();
  }
}

/** Cuts secrets that can end up inside error messages: PEM blocks and bearer tokens. */
export function redactSecrets(text: string): string {
  return text
    .replace(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?(-----END \1-----|$)/g, '[redacted $1]')
    .replace(/\b(bearer)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [redacted]')
    .replace(/\b(password|passphrase|secret|token|api[_-]?key)(\s*[=:]\s*)[^\s"',;]+/gi, '$1$2[redacted]');
}

/** A DeviceReport for an error: `<name> [code]: message` and its stack, secrets cut out. */
export function reportFromError(kind: DeviceReport['kind'], err: unknown, at: number): ReportInput {
  let message: string;
  let detail: string;
  if (err instanceof Error) {
    const code = err instanceof ShellguardError ? ` [${err.code}]` : '';
    message = `${err.name}${code}: ${err.message}`;
    detail = err.stack ?? '';
  } else {
    message = `non-error thrown: ${String(err)}`;
    detail = '';
  }
  return { kind, at, message: redactSecrets(message.split('\n')[0]!).slice(0, 500), detail: redactSecrets(detail).slice(0, MAX_REPORT_BYTES) };
}

export const CRASH_REPORT_DIR = 'crash-reports';
/** Crash reports kept on disk at most; a crash loop must not fill the disk. */
export const MAX_CRASH_REPORTS = 20;

function crashDir(dataDir: string): string {
  return path.join(dataDir, CRASH_REPORT_DIR);
}

function listCrashFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => /^\d+-\d+\.json$/.test(f)).sort((a, b) => parseInt(a, 10) - parseInt(b, 10) || a.localeCompare(b));
  } catch {
    return [];
  }
}

/**
 * Writes a crash report synchronously (for process.on('uncaughtException')). Returns the file,
 * or undefined if it could not be written — a failing crash handler must not throw again.
 */
export function writeCrashReport(dataDir: string, err: unknown, now: number = Date.now()): string | undefined {
  try {
    const dir = crashDir(dataDir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const existing = listCrashFiles(dir);
    for (const old of existing.slice(0, Math.max(0, existing.length - MAX_CRASH_REPORTS + 1))) {
      try { unlinkSync(path.join(dir, old)); } catch { /* already gone */ }
    }
    const payload = encodeDeviceReport(reportFromError('crash', err, now));
    const file = path.join(dir, `${now}-${process.pid}.json`);
    const temp = `${file}.tmp`;
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, payload);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
    return file;
  } catch {
    return undefined;
  }
}

export interface PendingCrashReport {
  file: string;
  report: DeviceReport;
}

/** Crash reports left by earlier runs, oldest first. Unreadable or malformed files are deleted. */
export function pendingCrashReports(dataDir: string): PendingCrashReport[] {
  const dir = crashDir(dataDir);
  const out: PendingCrashReport[] = [];
  for (const name of listCrashFiles(dir)) {
    const file = path.join(dir, name);
    try {
      if (statSync(file).size > MAX_REPORT_BYTES) throw new Error('too large');
      out.push({ file, report: decodeDeviceReport(readFileSync(file)) });
    } catch {
      removeCrashReport(file);
    }
  }
  return out;
}

export function removeCrashReport(file: string): void {
  try {
    unlinkSync(file);
  } catch { /* already gone */ }
}
