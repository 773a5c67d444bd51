/**
 * A server socket that could not listen (the API, the broker, simulated equipment), said the way
 * a person can act on: which port on which address, and which setting moves it. Every process that
 * listens raises the same codes, so the CLI prints them all alike.
 */
import { ShellguardError } from './errors.ts';

export type ListenErrorCode =
  /** EADDRINUSE: another process holds the port. */
  | 'port_in_use'
  /** EACCES: a port below 1024 without the privilege to bind it. */
  | 'port_not_permitted'
  /** EADDRNOTAVAIL: the host is not an address of this machine. */
  | 'address_not_available';

export class ListenError extends ShellguardError<ListenErrorCode> {}

export interface ListenTarget {
  /** What was to listen, e.g. "the HTTPS API". */
  what: string;
  host: string;
  port: number;
  /** Where the port is chosen, e.g. "api.port in server.yaml, or --api-port for shellguard demo". */
  setting: string;
}

/**
 * The ListenError for a failed listen, or `err` itself when it is not one of the errors above.
 * Use as `catch (err) { throw listenErrorOf(err, target) }`.
 */
export function listenErrorOf(err: unknown, target: ListenTarget): unknown {
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  const { what, host, port, setting } = target;
  const details = { host, port, errno };
  switch (errno) {
    case 'EADDRINUSE':
      return new ListenError('port_in_use',
        `port ${port} on ${host} is already in use (wanted for ${what}); stop the other process or choose another port (${setting})`, details);
    case 'EACCES':
      return new ListenError('port_not_permitted',
        `not permitted to listen on port ${port} on ${host} (for ${what}); choose a port above 1023 (${setting})`, details);
    case 'EADDRNOTAVAIL':
      return new ListenError('address_not_available',
        `${host} is not an address of this machine, so ${what} cannot listen on it; use one of its addresses, e.g. 127.0.0.1 or 0.0.0.0`, details);
    default:
      return err;
  }
}
