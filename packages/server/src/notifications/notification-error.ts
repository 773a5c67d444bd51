/**
 * Errors of the notifications domain: a stable code plus the facts needed to act on it
 * (STYLE.md §5). None of them ever carries an endpoint's secret or routing key.
 */
import { ShellguardError } from '@shellguard/protocol';

export type NotificationErrorCode =
  /** A configured endpoint is unusable; `details.field` names the config path, `details.problem` what is wrong. */
  | 'endpoint_invalid'
  /** An outbox entry cannot be stored (a programming error in the caller, found by its tests). */
  | 'entry_invalid'
  /** A stored payload cannot be rendered in an endpoint's format; the delivery is dead-lettered. */
  | 'payload_invalid';

export class NotificationError extends ShellguardError<NotificationErrorCode> {}
