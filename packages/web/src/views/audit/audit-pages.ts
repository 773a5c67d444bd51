/**
 * Pages of the audit trail, newest first. GET /audit pages both ways: `order=desc` (with
 * `beforeSeq`) gives the newest events before a sequence number, `afterSeq` the oldest after one;
 * target, actor and action filter on the server. One request per page: one more event than the
 * page holds is asked for, to know whether there is another page.
 */
import type { AuditEvent } from '../../app/api-types.ts';

/** The largest `limit` GET /audit accepts (AuditQuery). */
export const MAX_AUDIT_LIMIT = 1000;

export interface AuditFilter {
  target?: string;
  /** Exactly this actor, e.g. user:alice. */
  actor?: string;
  /** Actions starting with this, e.g. alarm. */
  action?: string;
}

export interface AuditListQuery extends AuditFilter {
  limit: number;
  afterSeq?: number;
  beforeSeq?: number;
  order: 'asc' | 'desc';
}

/** GET /audit, as a port (tests give an in-memory log). */
export type ListAudit = (query: AuditListQuery) => Promise<AuditEvent[]>;

export interface AuditPage {
  /** Newest first. */
  events: AuditEvent[];
  /** Events before the oldest shown may exist. */
  hasOlder: boolean;
  /** Events after the newest shown may exist. */
  hasNewer: boolean;
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size >= MAX_AUDIT_LIMIT) throw new RangeError(`page size must be 1..${MAX_AUDIT_LIMIT - 1}`);
}

/** The newest `size` events (of the filter), newest first. */
export async function newestPage(list: ListAudit, size: number, filter: AuditFilter = {}): Promise<AuditPage> {
  checkSize(size);
  const events = await list({ ...filter, order: 'desc', limit: size + 1 });
  return { events: events.slice(0, size), hasOlder: events.length > size, hasNewer: false };
}

/** The `size` newest events before `before` (exclusive), newest first. */
export async function pageBefore(list: ListAudit, before: number, size: number, filter: AuditFilter = {}): Promise<AuditPage> {
  checkSize(size);
  const events = await list({ ...filter, order: 'desc', beforeSeq: before, limit: size + 1 });
  return { events: events.slice(0, size), hasOlder: events.length > size, hasNewer: true };
}

/** The `size` events just after `after`, newest first. */
export async function pageAfter(list: ListAudit, after: number, size: number, filter: AuditFilter = {}): Promise<AuditPage> {
  checkSize(size);
  const events = await list({ ...filter, order: 'asc', afterSeq: after, limit: size + 1 });
  return { events: events.slice(0, size).reverse(), hasOlder: true, hasNewer: events.length > size };
}
