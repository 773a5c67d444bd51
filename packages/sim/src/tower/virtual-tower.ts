/**
 * A simulated signal tower (a Patlite LA6 / NHL on a panel): a TCP server speaking PNS operation
 * control, seen by the guardian only over the wire.
 *
 * Like the device, it reads frames from a byte stream (a frame may arrive split over several
 * segments, or several in one), answers ACK per valid frame and NAK per invalid one, and after a
 * NAK discards bytes until the next 'XXS' frame start. It records every frame it receives with its
 * receive time, so tests and benchmarks can see exactly what reached the tower and when.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  ListenError, PNS_ACK, PNS_DATA_SIZE, PNS_FRAME_LENGTH, PNS_FRAME_START, PNS_HEADER_LENGTH, PNS_LAMPS, PNS_NAK, PnsError,
  decodePnsCommand, listenErrorOf, type PnsBuzzer, type PnsCommand, type PnsErrorCode, type PnsLamp,
} from '@shellguard/protocol';
import { SimError } from '../errors.ts';

/** What the tower shows and sounds. */
export interface TowerState {
  red: PnsLamp;
  amber: PnsLamp;
  green: PnsLamp;
  blue: PnsLamp;
  white: PnsLamp;
  buzzer: PnsBuzzer;
}

/** How the tower answered a frame: `none` while silenced. */
export type TowerAnswer = 'ack' | 'nak' | 'none';

export interface ReceivedFrame {
  /** 1, 2, … in order of receipt, across connections. */
  seq: number;
  /** Which connection it came on (1 for the first accepted). */
  connection: number;
  /** performance.now() when the chunk completing the frame arrived (monotonic, sub-millisecond). */
  receivedAt: number;
  /** Date.now() at the same moment. */
  receivedAtWallMs: number;
  /** The frame's bytes; for an invalid one, the bytes up to where it was found invalid. */
  bytes: Buffer;
  /** The decoded command (valid frames only, applied or not). */
  command?: PnsCommand;
  /** Why the frame was refused (invalid frames only), or `forced_nak` after `nakNext()`. */
  refusal?: PnsErrorCode | 'forced_nak';
  /** Whether the command changed the tower (false when refused, or NAK-ed by `nakNext()`). */
  applied: boolean;
  answer: TowerAnswer;
  /** The tower after this frame. */
  state: TowerState;
}

export interface VirtualTowerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** TCP port; 0 lets the OS pick. */
  port: number;
  /** Monotonic clock for receive times, ms (default performance.now). */
  now?: () => number;
  /** Wall clock, epoch ms (default Date.now). */
  wallClock?: () => number;
  /** Where the port is chosen, for a port-in-use error. */
  portSetting?: string;
}

export interface VirtualTower {
  readonly host: string;
  readonly port: number;
  /** A copy of what the tower shows now. */
  state(): TowerState;
  /** Every frame received since start (the most recent 10 000). */
  frames(): readonly ReceivedFrame[];
  /** Told about each frame as it is handled; returns the function that stops it. */
  onFrame(listener: (frame: ReceivedFrame) => void): () => void;
  /** TCP connections accepted since start. */
  connections(): number;
  /** Answer NAK to the next valid frame, without applying it. */
  nakNext(): void;
  /** While on, frames are still applied and recorded but never answered. */
  silence(on: boolean): void;
  /** Drops every connection and stops listening. */
  close(): Promise<void>;
}

const MAX_FRAME_LOG = 10_000;

export function initialTowerState(): TowerState {
  return { red: 'off', amber: 'off', green: 'off', blue: 'off', white: 'off', buzzer: 'stop' };
}

/** The tower after `cmd`: 'no-change' leaves a lamp or the buzzer as it was. */
export function applyPnsCommand(state: TowerState, cmd: PnsCommand): TowerState {
  const next = { ...state };
  for (const lamp of PNS_LAMPS) {
    const want = cmd[lamp];
    if (want !== 'no-change') next[lamp] = want;
  }
  if (cmd.buzzer !== 'no-change') next.buzzer = cmd.buzzer;
  return next;
}

/** Where the next frame start ('XXS', or a prefix of it at the very end) begins at or after `from`. */
function nextFrameStart(buf: Buffer, from: number): number {
  for (let i = from; i < buf.length; i++) {
    let j = 0;
    while (j < PNS_FRAME_START.length && i + j < buf.length && buf[i + j] === PNS_FRAME_START[j]) j++;
    if (j === PNS_FRAME_START.length || i + j === buf.length) return i;
  }
  return buf.length;
}

type Verdict =
  | { kind: 'incomplete' }
  | { kind: 'valid'; length: number; command: PnsCommand }
  /** `length`: bytes of the invalid frame; `skip`: where resynchronising starts searching. */
  | { kind: 'invalid'; length: number; skip: number; code: PnsErrorCode };

/** Judges the frame that starts at buf[0], as soon as its first wrong byte or its last byte is in. */
function judgeFrame(buf: Buffer): Verdict {
  const prefix = Math.min(buf.length, PNS_FRAME_START.length);
  for (let i = 0; i < prefix; i++) {
    if (buf[i] !== PNS_FRAME_START[i]) return { kind: 'invalid', length: i + 1, skip: 1, code: 'pns_header_invalid' };
  }
  if (buf.length > 3 && buf[3] !== 0x00) return { kind: 'invalid', length: 4, skip: 1, code: 'pns_header_invalid' };
  if (buf.length >= PNS_HEADER_LENGTH && buf.readUInt16BE(4) !== PNS_DATA_SIZE) {
    return { kind: 'invalid', length: PNS_HEADER_LENGTH, skip: 1, code: 'pns_data_size' };
  }
  if (buf.length < PNS_FRAME_LENGTH) return { kind: 'incomplete' };
  try {
    return { kind: 'valid', length: PNS_FRAME_LENGTH, command: decodePnsCommand(buf.subarray(0, PNS_FRAME_LENGTH)) };
  } catch (err) {
    // Header and size were right, so the frame's length is known: skip all of it.
    const code = err instanceof PnsError ? err.code : 'pns_value_invalid';
    return { kind: 'invalid', length: PNS_FRAME_LENGTH, skip: PNS_FRAME_LENGTH, code };
  }
}

export async function startVirtualTower(options: VirtualTowerOptions): Promise<VirtualTower> {
  const host = options.host ?? '127.0.0.1';
  const now = options.now ?? (() => performance.now());
  const wallClock = options.wallClock ?? Date.now;
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new SimError('invalid_option', 'tower port must be 0..65535', { port: options.port });
  }

  let state = initialTowerState();
  const log: ReceivedFrame[] = [];
  const listeners = new Set<(frame: ReceivedFrame) => void>();
  const sockets = new Set<net.Socket>();
  let seq = 0;
  let connections = 0;
  let nakPending = false;
  let silent = false;

  const record = (entry: Omit<ReceivedFrame, 'seq' | 'state'>): void => {
    const frame: ReceivedFrame = { seq: ++seq, ...entry, state: { ...state } };
    log.push(frame);
    if (log.length > MAX_FRAME_LOG) log.shift();
    for (const listener of listeners) {
      try {
        listener(frame);
      } catch {
        // A listener's failure is the test's business, never the tower's.
      }
    }
  };

  const server = net.createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    // A client resetting its connection is not the tower's failure.
    socket.on('error', () => undefined);
    let pending: Buffer = Buffer.alloc(0);
    let resyncing = false;
    const answer = (byte: number): TowerAnswer => {
      if (silent) return 'none';
      if (!socket.destroyed) socket.write(Buffer.from([byte]));
      return byte === PNS_ACK ? 'ack' : 'nak';
    };
    socket.on('data', (chunk: Buffer) => {
      const receivedAt = now();
      const receivedAtWallMs = wallClock();
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length > 0) {
        if (resyncing) {
          const start = nextFrameStart(pending, 0);
          pending = pending.subarray(start);
          // Only a prefix of 'XXS' (or nothing) is left: wait for more bytes.
          if (pending.length < PNS_FRAME_START.length) break;
          resyncing = false;
        }
        const verdict = judgeFrame(pending);
        if (verdict.kind === 'incomplete') break;
        const bytes = Buffer.from(pending.subarray(0, verdict.length));
        if (verdict.kind === 'valid') {
          if (nakPending) {
            nakPending = false;
            record({ connection, receivedAt, receivedAtWallMs, bytes, command: verdict.command, refusal: 'forced_nak', applied: false, answer: answer(PNS_NAK) });
          } else {
            state = applyPnsCommand(state, verdict.command);
            record({ connection, receivedAt, receivedAtWallMs, bytes, command: verdict.command, applied: true, answer: answer(PNS_ACK) });
          }
          pending = pending.subarray(verdict.length);
        } else {
          record({ connection, receivedAt, receivedAtWallMs, bytes, refusal: verdict.code, applied: false, answer: answer(PNS_NAK) });
          pending = pending.subarray(verdict.skip);
          resyncing = true;
        }
      }
      // Keep only what is still needed, never a reference to a large chunk.
      if (pending.length > 0) pending = Buffer.from(pending);
    });
  });
  server.on('error', () => undefined);

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      const translated = listenErrorOf(err, {
        what: 'a simulated signal tower', host, port: options.port,
        setting: options.portSetting ?? 'the port given to startVirtualTower',
      });
      reject(translated instanceof ListenError ? translated
        : new SimError('port_unavailable', `cannot listen on ${host}:${options.port}: ${err.message}`, { host, port: options.port }));
    };
    server.once('error', onError);
    server.listen({ host, port: options.port }, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  let closed: Promise<void> | undefined;

  return {
    host,
    port,
    state: () => ({ ...state }),
    frames: () => [...log],
    onFrame: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    connections: () => connections,
    nakNext: () => {
      nakPending = true;
    },
    silence: (on) => {
      silent = on;
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}
