import { ShellguardError } from '@shellguard/protocol';

export type BrokerErrorCode =
  /** A device published outside its own topics (ACL, ARCHITECTURE.md §2). */
  | 'publish_refused'
  /** publishToDevice was given a topic that is not addressed to one device. */
  | 'topic_not_device_bound'
  /** The broker is closed or failed to route the message. */
  | 'publish_failed';

export class BrokerError extends ShellguardError<BrokerErrorCode> {}
