/**
 * The guardian's output to one panel's signal tower (Patlite PNS over TCP). This is the only
 * place, beside its twin for the klaxon, where a guardian writes to a device, so it is kept apart
 * from the read-only equipment drivers (ARCHITECTURE.md §2) and kept narrow:
 *
 * - The allow-list is the constructor: a client talks to the one host:port it was built with,
 *   and nothing can change it afterwards.
 * - The only bytes it ever writes are one PNS operation control frame per command, built by
 *   `encodePnsCommand` and checked again by the one socket write (`#writeFrame`).
 * - One command in flight; commands are coalesced. A tower shows a state, not a history, so when
 *   several commands wait only the newest is sent, and the callers of the ones it replaced share
 *   its outcome.
 * - The connection opens on the first command and stays open. A timeout, an error or a garbled
 *   answer drops it; the next command reconnects, after a backoff that doubles while failures
 *   repeat. A command written on a kept-open connection that the tower had dropped meanwhile (a
 *   restart, a power cycle) is sent once more on a fresh one: it sets the whole tower, so sending
 *   it twice is harmless.
 * - Every failure is a `TowerError` naming the panel and the tower's address; no peer behaviour
 *   can throw anything else or crash the process.
 */
import net from 'node:net';
import {
  PNS_ACK, PNS_FRAME_LENGTH, PNS_NAK, PnsError, andonCommand, decodePnsCommand, encodePnsCommand, errorMessage, isValidId,
  type AndonState, type PnsCommand,
} from '@shellguard/protocol';
import { TowerError, type TowerErrorCode } from './tower-error.ts';

/** What the client logs (a pino Logger fits). */
export interface TowerLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface PnsTowerClientOptions {
  /** The panel (asset id) whose tower this is; named in every error and log line. */
  panel: string;
  host: string;
  port: number;
  /** Time allowed for connecting, and for the tower's answer to each frame, ms. Default 2000. */
  timeoutMs?: number;
  /** Delay before reconnecting after a failure, doubled per consecutive failure, ms. Default 250; 0 disables. */
  backoffInitialMs?: number;
  /** Longest reconnect delay, ms. Default 10 000. */
  backoffMaxMs?: number;
  logger?: TowerLogger;
  /** Opens the TCP connection (inject for tests). Default `net.createConnection`. */
  connect?: (host: string, port: number) => net.Socket;
}

/** One operation control frame that passed `encodePnsCommand`. Only `TowerFrame.of` makes one. */
class TowerFrame {
  readonly command: PnsCommand;
  readonly bytes: Buffer;

  private constructor(command: PnsCommand, bytes: Buffer) {
    this.command = command;
    this.bytes = bytes;
  }

  static of(command: PnsCommand): TowerFrame {
    const bytes = encodePnsCommand(command);
    return new TowerFrame(decodePnsCommand(bytes), bytes);
  }
}

interface Waiter {
  resolve: () => void;
  reject: (err: TowerError) => void;
}

interface Job {
  frame: TowerFrame;
  /** Its own caller, and the callers of the commands it replaced. */
  waiters: Waiter[];
  /** Already sent again once after the tower dropped a kept-open connection. */
  resent: boolean;
}

interface Connection {
  socket: net.Socket;
  established: boolean;
  /** Set once the connection is dropped, so late socket events are ignored. */
  dead: boolean;
  /** A frame has been written on it before. */
  used: boolean;
  connectTimer?: NodeJS.Timeout;
}

interface InFlight {
  job: Job;
  conn: Connection;
  timer: NodeJS.Timeout;
  /** Written on a connection that had carried an earlier frame. */
  reusedConnection: boolean;
}

function describeCommand(cmd: PnsCommand): string {
  return `red ${cmd.red}, amber ${cmd.amber}, green ${cmd.green}, blue ${cmd.blue}, white ${cmd.white}, buzzer ${cmd.buzzer}`;
}

function settle(job: Job, err?: TowerError): void {
  for (const w of job.waiters) {
    if (err) w.reject(err);
    else w.resolve();
  }
}

export class PnsTowerClient {
  readonly panel: string;
  readonly host: string;
  readonly port: number;
  /** host:port, as errors and logs name it. */
  readonly address: string;
  readonly #timeoutMs: number;
  readonly #backoffInitialMs: number;
  readonly #backoffMaxMs: number;
  readonly #logger: TowerLogger | undefined;
  readonly #connectFn: (host: string, port: number) => net.Socket;

  /** The newest command not yet written. */
  #next: Job | undefined;
  #inFlight: InFlight | undefined;
  /** The open connection, or the one being opened. */
  #conn: Connection | undefined;
  /** Set while waiting before the next reconnect. */
  #backoff: NodeJS.Timeout | undefined;
  #failures = 0;
  #closed = false;

  constructor(options: PnsTowerClientOptions) {
    const { panel, host, port } = options;
    const invalid = (message: string, details: Record<string, unknown>): never => {
      throw new TowerError('tower_config_invalid', message, { panel: String(panel), ...details });
    };
    if (typeof panel !== 'string' || !isValidId(panel)) invalid('a tower\'s panel must be an asset id (A-Z a-z 0-9 . _ : -)', {});
    if (typeof host !== 'string' || host.length === 0 || /\s/.test(host)) invalid(`the tower of ${panel} needs a host name or address`, { host });
    if (!Number.isInteger(port) || port < 1 || port > 65535) invalid(`the tower of ${panel} needs a TCP port 1-65535`, { port });
    const timeoutMs = options.timeoutMs ?? 2000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) invalid(`timeoutMs for the tower of ${panel} must be a positive number`, { timeoutMs });
    const backoffInitialMs = options.backoffInitialMs ?? 250;
    const backoffMaxMs = options.backoffMaxMs ?? 10_000;
    if (!(backoffInitialMs >= 0 && Number.isFinite(backoffInitialMs)) || !(backoffMaxMs >= 0 && Number.isFinite(backoffMaxMs))) {
      invalid(`backoffInitialMs and backoffMaxMs for the tower of ${panel} must be numbers >= 0`, { backoffInitialMs, backoffMaxMs });
    }
    this.panel = panel;
    this.host = host;
    this.port = port;
    this.address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    this.#timeoutMs = timeoutMs;
    this.#backoffInitialMs = backoffInitialMs;
    this.#backoffMaxMs = backoffMaxMs;
    this.#logger = options.logger;
    this.#connectFn = options.connect ?? ((h, p) => net.createConnection({ host: h, port: p }));
  }

  /**
   * Sets the tower. Resolves when the tower has acknowledged this command, or a newer one that
   * replaced it before it was sent; rejects with a `TowerError` otherwise (`tower_nak`,
   * `tower_timeout`, `tower_connection_failed`, `tower_response_invalid`, `tower_command_invalid`,
   * `tower_client_closed`).
   */
  send(cmd: PnsCommand): Promise<void> {
    let frame: TowerFrame;
    try {
      frame = TowerFrame.of(cmd);
    } catch (err) {
      return Promise.reject(this.#error('tower_command_invalid', `refusing to send an invalid command to the tower of ${this.panel} at ${this.address}: ${errorMessage(err)}`, {
        ...(err instanceof PnsError ? { cause: err.code, offset: err.details.offset } : {}),
      }));
    }
    if (this.#closed) return Promise.reject(this.#closedError());
    return new Promise<void>((resolve, reject) => {
      const replaced = this.#next;
      this.#next = { frame, waiters: [...(replaced?.waiters ?? []), { resolve, reject }], resent: false };
      this.#pump();
    });
  }

  /** Shows an Andon state (see `ANDON_COMMANDS` in @shellguard/protocol). */
  setAndon(state: AndonState): Promise<void> {
    let cmd: PnsCommand;
    try {
      cmd = andonCommand(state);
    } catch (err) {
      return Promise.reject(this.#error('tower_command_invalid', `${errorMessage(err)}; nothing was sent to the tower of ${this.panel} at ${this.address}`, { state }));
    }
    return this.send(cmd);
  }

  /** Fails the waiting and in-flight commands with `tower_client_closed` and drops the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#backoff);
    this.#backoff = undefined;
    const err = this.#closedError();
    const next = this.#next;
    this.#next = undefined;
    const flight = this.#inFlight;
    this.#inFlight = undefined;
    if (flight) {
      clearTimeout(flight.timer);
      settle(flight.job, err);
    }
    if (next) settle(next, err);
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn) {
      conn.dead = true;
      clearTimeout(conn.connectTimer);
      const closed = new Promise<void>((resolve) => (conn.socket.closed ? resolve() : conn.socket.once('close', () => resolve())));
      conn.socket.destroy();
      await closed;
    }
  }

  /** Writes the newest command if nothing is in flight, connecting first when needed. */
  #pump(): void {
    if (this.#closed || this.#inFlight || !this.#next) return;
    const conn = this.#conn;
    if (conn) {
      if (conn.established) this.#write(conn);
      return; // still connecting: 'connect' pumps again
    }
    if (this.#backoff) return; // the backoff timer pumps again
    this.#open();
  }

  #open(): void {
    let socket: net.Socket;
    try {
      socket = this.#connectFn(this.host, this.port);
    } catch (err) {
      const job = this.#next;
      this.#next = undefined;
      this.#failed(job, this.#error('tower_connection_failed', `cannot connect to the tower of ${this.panel} at ${this.address}: ${errorMessage(err)}`));
      return;
    }
    const conn: Connection = { socket, established: false, dead: false, used: false };
    this.#conn = conn;
    socket.setNoDelay(true);
    conn.connectTimer = setTimeout(() => {
      this.#lost(conn, this.#error('tower_timeout', `connecting to the tower of ${this.panel} at ${this.address} timed out after ${this.#timeoutMs} ms`, {
        timeoutMs: this.#timeoutMs,
      }));
    }, this.#timeoutMs);
    socket.once('connect', () => {
      clearTimeout(conn.connectTimer);
      if (conn.dead) return;
      conn.established = true;
      this.#logger?.debug({ panel: this.panel, tower: this.address }, 'connected to the signal tower');
      this.#pump();
    });
    socket.on('data', (chunk: Buffer) => this.#receive(conn, chunk));
    socket.on('error', (err) => {
      this.#lost(conn, this.#error('tower_connection_failed', `connection to the tower of ${this.panel} at ${this.address} failed: ${err.message}`, {
        errno: (err as NodeJS.ErrnoException).code,
      }));
    });
    socket.on('close', () => {
      this.#lost(conn, this.#error('tower_connection_failed', `the tower of ${this.panel} at ${this.address} closed the connection`));
    });
  }

  #write(conn: Connection): void {
    const job = this.#next!;
    this.#next = undefined;
    const reusedConnection = conn.used;
    conn.used = true;
    const flight: InFlight = {
      job,
      conn,
      reusedConnection,
      timer: setTimeout(() => {
        if (this.#inFlight !== flight) return;
        this.#lost(conn, this.#error('tower_timeout', `the tower of ${this.panel} at ${this.address} did not answer within ${this.#timeoutMs} ms`, {
          timeoutMs: this.#timeoutMs,
        }));
      }, this.#timeoutMs),
    };
    this.#inFlight = flight;
    try {
      this.#writeFrame(conn.socket, job.frame);
    } catch (err) {
      this.#lost(conn, err instanceof TowerError ? err : this.#error('tower_connection_failed', `writing to the tower of ${this.panel} at ${this.address} failed: ${errorMessage(err)}`));
    }
  }

  /** The one and only socket write: exactly one operation control frame that passed `encodePnsCommand`, checked again. */
  #writeFrame(socket: net.Socket, frame: TowerFrame): void {
    if (!(frame instanceof TowerFrame) || frame.bytes.length !== PNS_FRAME_LENGTH) {
      throw this.#error('tower_command_invalid', 'refusing to write anything but one PNS operation control frame');
    }
    decodePnsCommand(frame.bytes);
    socket.write(frame.bytes);
  }

  #receive(conn: Connection, chunk: Buffer): void {
    if (conn.dead || chunk.length === 0) return;
    const flight = this.#inFlight;
    if (!flight || flight.conn !== conn) {
      this.#lost(conn, this.#error('tower_response_invalid', `the tower of ${this.panel} at ${this.address} sent ${chunk.length} byte(s) unasked`));
      return;
    }
    const answer = chunk[0]!;
    if (answer !== PNS_ACK && answer !== PNS_NAK) {
      this.#lost(conn, this.#error('tower_response_invalid',
        `the tower of ${this.panel} at ${this.address} answered 0x${answer.toString(16).padStart(2, '0')}, neither ACK (0x06) nor NAK (0x15)`, { answer }));
      return;
    }
    clearTimeout(flight.timer);
    this.#inFlight = undefined;
    if (answer === PNS_ACK) {
      this.#failures = 0;
      settle(flight.job);
    } else {
      // The stream is still in step (one answer per frame), so the connection stays.
      const err = this.#error('tower_nak', `the tower of ${this.panel} at ${this.address} refused (NAK) ${describeCommand(flight.job.frame.command)}`);
      this.#logger?.warn({ panel: this.panel, tower: this.address, code: err.code }, err.message);
      settle(flight.job, err);
    }
    if (chunk.length > 1) {
      // More than one answer to one frame: the stream cannot be trusted any more.
      this.#lost(conn, this.#error('tower_response_invalid', `the tower of ${this.panel} at ${this.address} answered one frame with ${chunk.length} bytes`));
      return;
    }
    this.#pump();
  }

  /** Drops a connection; the command on it fails with `err`, or is sent once more (see the header). */
  #lost(conn: Connection, err: TowerError): void {
    if (conn.dead) return;
    conn.dead = true;
    clearTimeout(conn.connectTimer);
    conn.socket.destroy();
    if (this.#conn === conn) this.#conn = undefined;
    if (this.#closed) return;
    if (!conn.established) {
      // Connecting failed: the command waiting for this connection fails with it.
      const job = this.#next;
      this.#next = undefined;
      this.#failed(job, err);
      return;
    }
    const flight = this.#inFlight;
    if (flight?.conn !== conn) {
      // An idle connection: nothing was lost, the next command reconnects.
      if (err.code !== 'tower_connection_failed') this.#logger?.warn({ panel: this.panel, tower: this.address, code: err.code }, err.message);
      else this.#logger?.debug({ panel: this.panel, tower: this.address }, 'the idle tower connection closed');
      if (err.code === 'tower_response_invalid') this.#recordFailure();
      queueMicrotask(() => this.#pump());
      return;
    }
    clearTimeout(flight.timer);
    this.#inFlight = undefined;
    if (err.code === 'tower_connection_failed' && flight.reusedConnection && !flight.job.resent) {
      flight.job.resent = true;
      const newer = this.#next;
      if (newer) newer.waiters.unshift(...flight.job.waiters);
      else this.#next = flight.job;
      this.#logger?.debug({ panel: this.panel, tower: this.address, err: err.message }, 'the tower dropped the kept-open connection; sending again on a new one');
      queueMicrotask(() => this.#pump());
      return;
    }
    this.#failed(flight.job, err);
  }

  /** A command failed for want of a working connection: it fails, and reconnecting backs off. */
  #failed(job: Job | undefined, err: TowerError): void {
    this.#recordFailure();
    this.#logger?.warn({ panel: this.panel, tower: this.address, code: err.code, failures: this.#failures }, err.message);
    if (job) settle(job, err);
    // A command that arrived meanwhile waits for the backoff, then goes on a new connection.
    queueMicrotask(() => this.#pump());
  }

  #recordFailure(): void {
    this.#failures++;
    const delay = this.#backoffInitialMs === 0 ? 0 : Math.min(this.#backoffMaxMs, this.#backoffInitialMs * 2 ** (this.#failures - 1));
    clearTimeout(this.#backoff);
    this.#backoff = undefined;
    if (delay === 0) return;
    this.#backoff = setTimeout(() => {
      this.#backoff = undefined;
      this.#pump();
    }, delay);
  }

  #error(code: TowerErrorCode, message: string, details: Record<string, unknown> = {}): TowerError {
    return new TowerError(code, message, { panel: this.panel, tower: this.address, ...details });
  }

  #closedError(): TowerError {
    return this.#error('tower_client_closed', `the client for the tower of ${this.panel} at ${this.address} is closed`);
  }
}
