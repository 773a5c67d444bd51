/**
 * The hash of an audit event. Both forms cover every field and the previous event's hash:
 *
 *   keyed  (every event since the chain was keyed):
 *     HMAC-SHA256(key, "shellguard/audit-event/v1\n" || canonical JSON of { seq, at, actor, action, target, detail, prevHash })
 *   legacy (events written before that, by servers without a key):
 *     SHA-256(canonical JSON of the same object)
 *
 * Anyone can recompute a legacy hash, so a legacy chain alone proves nothing against someone with
 * the file; the first keyed event's prevHash and the anchors are what bind the legacy prefix.
 * The label keeps an event MAC from ever being mistaken for an anchor MAC under the same key.
 */
import { createHash } from 'node:crypto';
import type { AuditEvent } from './audit-log.ts';
import type { AuditKey } from './audit-key.ts';
import { canonicalJson } from './canonical-json.ts';

export const GENESIS_HASH = '0'.repeat(64);
const EVENT_MAC_LABEL = 'shellguard/audit-event/v1\n';

type Unhashed = Omit<AuditEvent, 'hash'>;

function hashedContent(event: Unhashed): string {
  const { seq, at, actor, action, target, detail, prevHash } = event;
  return canonicalJson({ seq, at, actor, action, target, detail, prevHash });
}

/** The keyed hash of an event (HMAC-SHA256 under the audit key). */
export function keyedEventHash(key: AuditKey, event: Unhashed): string {
  return key.mac(EVENT_MAC_LABEL + hashedContent(event));
}

/** The unkeyed hash events had before the chain was keyed (plain SHA-256). */
export function auditEventHash(event: Unhashed): string {
  return createHash('sha256').update(hashedContent(event), 'utf8').digest('hex');
}
