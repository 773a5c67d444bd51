export type {
  AttemptFailure, AttemptSuccess, DeliveryClaim, DeliveryQuery, DeliveryRecord, DeliveryState, EndpointOutboxStats, OutboxEntry, OutboxStats,
  OutboxStore, OutboxWriter, PendingDelivery,
} from './outbox.ts';
export { assertValidOutboxEntry, MAX_DELIVERY_PAGE } from './outbox.ts';
export { NotificationError, type NotificationErrorCode } from './notification-error.ts';
export { isSubscribed, parseNotificationEndpoints, type EndpointSubscription, type NotificationEndpoint } from './notification-endpoint.ts';
export { SqlOutboxStore, type SqlOutboxStoreOptions } from './sql-outbox-store.ts';
export { OUTBOX_MIGRATIONS } from './outbox-schema.ts';
export { OutboxDispatcher, kickingWriter, type OutboxDelivered, type OutboxDeliveryFailure, type OutboxDispatcherOptions } from './outbox-dispatcher.ts';
export { WEBHOOK_FORMATS, formatAccepts, readIncident, renderWebhookBody, type IncidentNotice, type WebhookEvent, type WebhookFormat } from './webhook-formats.ts';
export { IDEMPOTENCY_KEY_HEADER, deliveryIdOf, signedDeliveryHeaders } from './signed-delivery.ts';
export { httpWebhookTransport, type WebhookRequest, type WebhookResponse, type OutboxTransport } from './http-webhook-transport.ts';
