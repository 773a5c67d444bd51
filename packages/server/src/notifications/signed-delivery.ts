/**
 * The headers of one delivery attempt. The signature scheme is the alarm webhooks' own
 * (alarms/webhook-notifier.ts), so one receiver-side check, `verifyWebhookSignature`, serves both.
 */
import { createHash } from 'node:crypto';
import { DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhookBody } from '../alarms/webhook-notifier.ts';

/**
 * draft-ietf-httpapi-idempotency-key-header. The draft makes the value a quoted sf-string; we send
 * the key bare, as Stripe, PayPal and most receivers in use expect. Keys hold no `"` or `\`.
 */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

/**
 * The delivery id (`x-shellguard-delivery`): the same on every attempt and after any restart,
 * because it is derived from what identifies the delivery (endpoint and entry), never drawn at
 * random by the process that happens to send it. UUID-shaped, as the alarm webhooks' ids are
 * (RFC 9562 §5.8, version 8: bits of a SHA-256).
 */
export function deliveryIdOf(endpointId: string, idempotencyKey: string): string {
  const h = createHash('sha256').update(`${endpointId}\n${idempotencyKey}`, 'utf8').digest().subarray(0, 16);
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface SignedDelivery {
  secret: string;
  body: string;
  /** Epoch ms of this attempt; generic bodies carry the same value as `timestamp`. */
  sentAt: number;
  deliveryId: string;
  idempotencyKey: string;
}

export function signedDeliveryHeaders(d: SignedDelivery): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'Shellguard-Outbox/1',
    [SIGNATURE_HEADER]: signWebhookBody(d.secret, d.body),
    [TIMESTAMP_HEADER]: String(d.sentAt),
    [DELIVERY_HEADER]: d.deliveryId,
    [IDEMPOTENCY_KEY_HEADER]: d.idempotencyKey,
  };
}
