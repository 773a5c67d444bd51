import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_REPORT_BYTES, ShellguardError, decodeDeviceReport } from '@shellguard/protocol';
import { ManualClock } from '@shellguard/protocol/testing';
import {
  CRASH_REPORT_DIR, MAX_CRASH_REPORTS, Reporter, pendingCrashReports, redactSecrets, removeCrashReport, reportFromError,
  writeCrashReport,
} from '../../src/reports/reporter.ts';

const START = Date.UTC(2026, 0, 5, 8, 0, 0);

describe('Reporter', () => {
  let clock: ManualClock;
  let connected: boolean;
  let sent: Buffer[];
  let reporter: Reporter;

  beforeEach(() => {
    clock = new ManualClock(START);
    connected = true;
    sent = [];
    reporter = new Reporter({
      send: (p) => { if (!connected) return false; sent.push(p); return true; },
      clock,
    });
  });

  const report = (n: number) => reporter.report({ kind: 'error', at: clock.now(), message: `error ${n}`, detail: '' });
  const messages = () => sent.map((p) => decodeDeviceReport(p).message);

  it('sends at most 6 reports a minute and the rest when the window has moved on', async () => {
    for (let i = 1; i <= 10; i++) report(i);
    expect(messages()).toEqual(['error 1', 'error 2', 'error 3', 'error 4', 'error 5', 'error 6']);
    expect(reporter.stats()).toEqual({ queued: 4, sent: 6, dropped: 0 });
    await clock.advanceToAsync(START + 59_999);
    expect(sent.length).toBe(6);
    await clock.advanceToAsync(START + 60_000);
    expect(messages().slice(6)).toEqual(['error 7', 'error 8', 'error 9', 'error 10']);
  });

  it('holds reports while disconnected, at most 50, dropping and counting the oldest', () => {
    connected = false;
    for (let i = 1; i <= 55; i++) report(i);
    expect(reporter.stats()).toEqual({ queued: 50, sent: 0, dropped: 5 });
    connected = true;
    reporter.flush();
    expect(messages()).toEqual(['error 6', 'error 7', 'error 8', 'error 9', 'error 10', 'error 11']);
  });

  it('runs the onSent hook only once the report went out', () => {
    connected = false;
    let done = 0;
    reporter.report({ kind: 'crash', at: START, message: 'boom', detail: '' }, () => { done += 1; });
    expect(done).toBe(0);
    connected = true;
    reporter.flush();
    expect(done).toBe(1);
  });
});

describe('reportFromError', () => {
  it('keeps the code, message and stack of an error and cuts secrets out', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----';
    const err = new ShellguardError('key_invalid', `could not parse ${pem} with password=hunter2 and Bearer abc.def`);
    const r = reportFromError('error', err, START);
    expect(r.message).toContain('ShellguardError [key_invalid]: could not parse');
    const text = JSON.stringify(r);
    expect(text).not.toContain('MIGHAgEA');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('abc.def');
    expect(text).toContain('[redacted PRIVATE KEY]');
  });

  it('leaves ordinary text alone', () => {
    expect(redactSecrets('modbus timeout on ahu-1 after 3 retries')).toBe('modbus timeout on ahu-1 after 3 retries');
  });
});

describe('crash reports on disk', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'sg-crash-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a crash report, reads it back on the next start and deletes it once sent', () => {
    const err = new TypeError('cannot read properties of undefined');
    const file = writeCrashReport(dir, err, START)!;
    expect(path.dirname(file)).toBe(path.join(dir, CRASH_REPORT_DIR));
    const pending = pendingCrashReports(dir);
    expect(pending).toHaveLength(1);
    expect(pending[0]!.report).toMatchObject({ v: 1, kind: 'crash', at: START, message: 'TypeError: cannot read properties of undefined' });
    expect(pending[0]!.report.detail).toContain('reporter.test.ts');
    removeCrashReport(pending[0]!.file);
    expect(pendingCrashReports(dir)).toEqual([]);
  });

  it('bounds each report and the number kept', () => {
    const huge = new Error('x'.repeat(100_000));
    huge.stack = 'y'.repeat(200_000);
    for (let i = 0; i < MAX_CRASH_REPORTS + 5; i++) writeCrashReport(dir, huge, START + i);
    const pending = pendingCrashReports(dir);
    expect(pending).toHaveLength(MAX_CRASH_REPORTS);
    expect(pending[0]!.report.at).toBe(START + 5);
    for (const p of pending) expect(Buffer.byteLength(JSON.stringify(p.report))).toBeLessThanOrEqual(MAX_REPORT_BYTES);
  });

  it('deletes files that are not valid reports instead of uploading them', () => {
    writeCrashReport(dir, new Error('real'), START);
    writeFileSync(path.join(dir, CRASH_REPORT_DIR, `${START + 1}-1.json`), '{"not": "a report"}');
    expect(pendingCrashReports(dir).map((p) => p.report.message)).toEqual(['Error: real']);
    expect(readdirSync(path.join(dir, CRASH_REPORT_DIR))).toHaveLength(1);
  });

  it('never throws, even when the data directory cannot be written', () => {
    writeFileSync(path.join(dir, 'file'), '');
    expect(writeCrashReport(path.join(dir, 'file'), new Error('x'))).toBeUndefined();
  });
});
