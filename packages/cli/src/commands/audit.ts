/** `shellguard audit verify|list`: the keyed, anchored audit chain. */
import { ShellguardError } from '@shellguard/protocol';
import { verifyAuditDatabase, type AuditVerification } from '@shellguard/server';
import type { ApiClient } from '../api-client.ts';
import { isoTime, type Output } from './fleet.ts';

interface AuditEvent {
  seq: number; at: number; actor: string; action: string; target: string; detail: Record<string, unknown>; hash: string;
}

/** What a server answers; servers before the keyed chain send only ok, events and brokenAt. */
type VerificationAnswer = Pick<AuditVerification, 'ok' | 'events' | 'brokenAt'> & Partial<AuditVerification>;

/** Prints a verification: what is wrong and where, one line per problem. Returns whether it is intact. */
export function printVerification(out: Output, v: VerificationAnswer, opts: { offline?: boolean } = {}): boolean {
  const anchors = v.anchors;
  if (v.ok) {
    const keyed = v.keyedFromSeq === undefined ? ''
      : v.keyedFromSeq <= 1 ? ', every event keyed' : `, keyed from event ${v.keyedFromSeq} (earlier events predate the key)`;
    out.write(`audit log intact: ${v.events} event(s), every hash chained${keyed}\n`);
    if (anchors) {
      out.write(anchors.newest
        ? `${anchors.checked} anchor(s) agree; newest: event ${anchors.newest.seq} at ${isoTime(anchors.newest.at)}\n`
        : 'no anchors checked: a cut-off tail would not show\n');
    }
    if (v.problems !== undefined && v.keyedFromSeq === undefined) {
      out.write('warning: this chain was never keyed; anyone with the database file can rewrite it undetected\n');
    }
    return true;
  }
  const problems = v.problems ?? [];
  const what = problems.length > 0 ? `${problems.length} problem(s)` : 'it was edited or deleted outside Shellguard';
  out.write(v.brokenAt !== undefined
    ? `audit log BROKEN at event ${v.brokenAt} of ${v.events}: ${what}\n`
    : `audit log BROKEN (${v.events} event(s)): ${what}\n`);
  const width = Math.max(0, ...problems.map((p) => p.code.length));
  // Each message names its place (events, anchor line), so the line reads on its own.
  for (const p of problems) out.write(`  ${p.code.padEnd(width)}  ${p.message}\n`);
  if (v.omittedProblems) out.write(`  … and ${v.omittedProblems} more problem(s)\n`);
  if (opts.offline && problems.some((p) => p.code === 'truncated')) {
    out.write('(if this is a copy of a running server\'s database, copy shellguard.sqlite-wal with it: without it the newest events are not in the copy)\n');
  }
  return false;
}

/** Asks the server to verify its chain and anchors; returns whether they are intact. */
export async function verifyAudit(client: ApiClient, out: Output): Promise<boolean> {
  return printVerification(out, await client.get<VerificationAnswer>('/audit/verify'));
}

export interface OfflineVerifyOptions {
  db?: string;
  key?: string;
  anchors?: string;
}

/**
 * `audit verify --db --key [--anchors]`: checks a copy of the SQLite database with no server
 * running (opened read-only), or the server's PostgreSQL database (`--db postgres://…`, only read).
 * Returns whether it is intact.
 */
export async function verifyAuditOffline(out: Output, opts: OfflineVerifyOptions): Promise<boolean> {
  if (opts.db === undefined) {
    throw new ShellguardError('cli_usage', '--key and --anchors go with --db (offline check); without --db, verify asks the server');
  }
  if (opts.key === undefined) throw new ShellguardError('cli_usage', 'an offline check needs the audit key: --key <audit.key>');
  if (opts.anchors === undefined) out.write('warning: no --anchors file: a cut-off tail cannot be detected\n');
  const v = await verifyAuditDatabase({ databaseFile: opts.db, keyFile: opts.key, ...(opts.anchors !== undefined ? { anchorFile: opts.anchors } : {}) });
  return printVerification(out, v, { offline: true });
}

/** `audit verify`: offline when --db (or --key/--anchors) is given, else over the API. */
export async function runAuditVerify(opts: OfflineVerifyOptions, client: () => ApiClient, out: Output): Promise<boolean> {
  if (opts.db !== undefined || opts.key !== undefined || opts.anchors !== undefined) return verifyAuditOffline(out, opts);
  return verifyAudit(client(), out);
}

export async function listAudit(
  client: ApiClient, out: Output, opts: { after?: number; limit?: number; target?: string; json?: boolean } = {},
): Promise<void> {
  const { events } = await client.get<{ events: AuditEvent[] }>('/audit', { afterSeq: opts.after, limit: opts.limit, target: opts.target });
  if (opts.json) {
    out.write(`${JSON.stringify(events, null, 2)}\n`);
    return;
  }
  for (const e of events) {
    out.write(`${e.seq}  ${isoTime(e.at)}  ${e.actor}  ${e.action}  ${e.target}  ${JSON.stringify(e.detail)}\n`);
  }
  if (events.length === 0) out.write('no audit events\n');
  else out.write(`(${events.length} event(s); next page: --after ${events[events.length - 1]!.seq})\n`);
}
