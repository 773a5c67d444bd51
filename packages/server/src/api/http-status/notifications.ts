import type { NotificationErrorCode } from '../../notifications/notification-error.ts';

/** Endpoints come from the server's configuration and entries from its own code: never a caller's fault. */
export const notificationHttpStatus: Record<NotificationErrorCode, number> = {
  endpoint_invalid: 500,
  entry_invalid: 500,
  payload_invalid: 500,
};
