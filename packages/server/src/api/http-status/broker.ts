import type { BrokerErrorCode } from '../../broker/broker-error.ts';

/** An HTTP caller never publishes as a device: a broker error behind a route is the server's fault. */
export const brokerHttpStatus: Record<BrokerErrorCode, number> = {
  publish_refused: 500,
  topic_not_device_bound: 500,
  publish_failed: 500,
};
