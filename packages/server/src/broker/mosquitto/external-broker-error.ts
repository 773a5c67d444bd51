import { ShellguardError } from '@shellguard/protocol';

export type ExternalBrokerErrorCode =
  /** Shellguard could not connect to the external broker (address, TLS, or its certificate refused). */
  | 'external_broker_unreachable'
  /** The broker refused one of Shellguard's own subscriptions: its dynamic-security file lacks the server role. */
  | 'external_broker_not_authorised'
  /** A dynamic-security command failed or got no answer in time. */
  | 'dynsec_command_failed'
  /** Mosquitto could not be started, or did not listen in time (process helper). */
  | 'mosquitto_not_started';

/** Errors of the external (Mosquitto) broker adapter; the shared codes stay BrokerError's. */
export class ExternalBrokerError extends ShellguardError<ExternalBrokerErrorCode> {}
