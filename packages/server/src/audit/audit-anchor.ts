/**
 * An anchor: the chain's head (sequence number and hash) at a moment, signed with the audit key,
 * kept outside the database (the anchor file, and the webhook stream). An anchor at event N
 * proves that events 1..N existed with exactly these hashes, so cutting off the tail or
 * re-chaining history behind it is detected even by someone who reads only the database.
 *
 * One anchor is one line of canonical JSON:
 *   {"at":…,"hash":"<head hash>","keyedFrom":<first keyed seq>,"mac":"<hex>","reason":"start","seq":<head seq>,"v":1}
 * with mac = HMAC-SHA256(key, "shellguard/audit-anchor/v1\n" || canonical JSON of the other members).
 * `seq` is also the number of events, since sequence numbers run from 1 without gaps.
 */
import { timingSafeEqual } from 'node:crypto';
import type { AuditKey } from './audit-key.ts';
import { canonicalJson } from './canonical-json.ts';

const ANCHOR_MAC_LABEL = 'shellguard/audit-anchor/v1\n';
const HEX64 = /^[0-9a-f]{64}$/;

/** Why an anchor was written. */
export type AnchorReason = 'start' | 'stop' | 'events' | 'interval';
const REASONS: readonly AnchorReason[] = ['start', 'stop', 'events', 'interval'];

export interface AuditAnchor {
  v: 1;
  /** The head event's sequence number (0 for an empty log) = the number of events. */
  seq: number;
  /** The head event's hash (64 zeros for an empty log). */
  hash: string;
  /** The database's first keyed sequence number, so a changed keying record shows too. */
  keyedFrom: number;
  at: number;
  reason: AnchorReason;
  mac: string;
}

export type UnsignedAnchor = Omit<AuditAnchor, 'v' | 'mac'>;

/**
 * Where anchors go besides the anchor file (a webhook receiver, later perhaps a transparency
 * log). `publish` must return at once: it is called on the anchoring timer, never awaited.
 */
export interface AnchorSink {
  publish(anchor: AuditAnchor): void;
}

/** The webhook payload of an anchor: its `anchor` member is the very line the file holds. */
export const ANCHOR_WEBHOOK_TYPE = 'audit.anchor';

/**
 * Sends anchors through the signed webhooks (same HMAC signature and retries as alarms). A receiver
 * that appends `JSON.stringify(body.anchor)` to a file keeps a copy `shellguard audit verify
 * --anchors` reads.
 */
export function webhookAnchorSink(notifier: { notify(payload: Record<string, unknown>): void }): AnchorSink {
  return { publish: (anchor) => notifier.notify({ type: ANCHOR_WEBHOOK_TYPE, anchor }) };
}

function anchorMac(key: AuditKey, a: Omit<AuditAnchor, 'mac'>): string {
  const { v, seq, hash, keyedFrom, at, reason } = a;
  return key.mac(ANCHOR_MAC_LABEL + canonicalJson({ v, seq, hash, keyedFrom, at, reason }));
}

export function signAnchor(key: AuditKey, fields: UnsignedAnchor): AuditAnchor {
  const unsigned = { v: 1 as const, seq: fields.seq, hash: fields.hash, keyedFrom: fields.keyedFrom, at: fields.at, reason: fields.reason };
  return { ...unsigned, mac: anchorMac(key, unsigned) };
}

/** The anchor as one line of the anchor file (without the newline). */
export function anchorLine(anchor: AuditAnchor): string {
  return canonicalJson(anchor);
}

export type ParsedAnchor =
  | { ok: true; anchor: AuditAnchor }
  | { ok: false; reason: 'malformed' | 'bad_mac' };

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/**
 * Reads one line back: exactly the members above with their types, and a MAC that verifies under
 * `key` (compared in constant time). Member order and spacing do not matter: the MAC covers the
 * canonical form.
 */
export function parseAnchorLine(key: AuditKey, line: string): ParsedAnchor {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, reason: 'malformed' };
  const a = value as Record<string, unknown>;
  const members = Object.keys(a).sort().join(',');
  if (members !== 'at,hash,keyedFrom,mac,reason,seq,v' || a.v !== 1 || !isCount(a.seq) || !isCount(a.at)
    || !isCount(a.keyedFrom) || a.keyedFrom < 1 || typeof a.hash !== 'string' || !HEX64.test(a.hash)
    || typeof a.mac !== 'string' || !HEX64.test(a.mac) || !REASONS.includes(a.reason as AnchorReason)) {
    return { ok: false, reason: 'malformed' };
  }
  const anchor = a as unknown as AuditAnchor;
  const expected = Buffer.from(anchorMac(key, anchor), 'hex');
  const given = Buffer.from(anchor.mac, 'hex');
  if (!timingSafeEqual(expected, given)) return { ok: false, reason: 'bad_mac' };
  return { ok: true, anchor };
}
