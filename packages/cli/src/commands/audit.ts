/** `shellguard audit verify|list`: the hash-chained audit log. */
import type { ApiClient } from '../api-client.ts';
import { isoTime, type Output } from './fleet.ts';

interface AuditEvent {
  seq: number; at: number; actor: string; action: string; target: string; detail: Record<string, unknown>; hash: string;
}

/** Returns whether the chain is intact. */
export async function verifyAudit(client: ApiClient, out: Output): Promise<boolean> {
  const v = await client.get<{ ok: boolean; events: number; brokenAt?: number }>('/audit/verify');
  out.write(v.ok
    ? `audit log intact: ${v.events} event(s), every hash chained\n`
    : `audit log BROKEN at event ${v.brokenAt} of ${v.events}: it was edited or deleted outside Shellguard\n`);
  return v.ok;
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
