/**
 * The guardian's only way to send SNMP to equipment: a net-snmp session made read-only at the
 * lowest layer it has (ARCHITECTURE.md §2).
 *
 * Every request net-snmp sends, whichever public method built it (get, set, trap, inform, walk,
 * the v3 discovery that precedes the first request), goes through `Session.prototype.send(req)`,
 * which calls `req.message.toBuffer()` (the BER/USM encoding, encryption and HMAC) and then
 * `dgram.send(buffer)`. This module guards both:
 *
 * 1. `send` is replaced on the session with a check of the PDU type (and, for a v3 discovery or
 *    retry, of the PDU waiting behind it) against GetRequest, GetNextRequest and GetBulkRequest
 *    (RFC 3416 §3). Anything else is answered `snmp_pdu_refused` before `toBuffer` runs, so no
 *    byte of it ever exists. The encoder is wrapped too and checks again as it encodes.
 * 2. The session's socket is made by us (net-snmp's `dgramModule` option), and its `send` accepts
 *    only a buffer the guarded encoder produced: a datagram built any other way is refused with
 *    `snmp_send_refused`.
 *
 * Callers see only `ReadOnlySnmpSession`'s reading methods; net-snmp's types stay in this file.
 */
import dgram from 'node:dgram';
import snmp from 'net-snmp';
import { SnmpError } from './errors.ts';

/** PDU tags a guardian may send to equipment (RFC 3416 §3: GetRequest-PDU [0], GetNextRequest-PDU [1], GetBulkRequest-PDU [5]). */
export const ALLOWED_REQUEST_PDUS: ReadonlySet<number> = new Set([
  snmp.PduType.GetRequest, snmp.PduType.GetNextRequest, snmp.PduType.GetBulkRequest,
]);

export function pduTypeName(type: unknown): string {
  return typeof type === 'number' && (snmp.PduType as unknown as Record<number, string>)[type] !== undefined
    ? `${(snmp.PduType as unknown as Record<number, string>)[type]} (${type})` : JSON.stringify(type);
}

function refusal(type: unknown): SnmpError {
  return new SnmpError('snmp_pdu_refused', `refused to send a ${pduTypeName(type)} PDU: the guardian only reads equipment (GetRequest, GetNextRequest, GetBulkRequest)`, { pduType: type });
}

/** A value as it came off the wire, before the point's scaling. */
export interface SnmpVarbind {
  oid: string;
  /** ASN.1 type tag (net-snmp ObjectType): Integer 2, OctetString 4, Counter64 70, NoSuchObject 128... */
  type: number;
  value: unknown;
}

export interface ReadOnlySessionOptions {
  host: string;
  port: number;
  version: '2c' | '3';
  community?: string;
  user?: snmp.User;
  timeoutMs: number;
  retries: number;
  /** Told of each datagram the session could not decode (garbage, a forged reply). */
  onDecodeError?: (err: Error) => void;
}

interface GuardedRequest {
  message?: { pdu?: { type?: unknown }; toBuffer?: () => Buffer; [GUARDED]?: true };
  originalPdu?: { type?: unknown };
  responseCb?: (err: unknown) => void;
}
const GUARDED = Symbol('shellguard.readOnlyEncoder');

interface GuardState { approved: WeakSet<Buffer>; refused: number }

/**
 * Whether a datagram is one the guarded encoder made. Node's dgram re-enters send() with the
 * buffer wrapped in a list when the socket was not bound yet, so a list of approved buffers passes.
 */
export function isApproved(data: unknown, approved: WeakSet<Buffer>): boolean {
  if (data instanceof Buffer) return approved.has(data);
  return Array.isArray(data) && data.length === 1 && data[0] instanceof Buffer && approved.has(data[0]);
}

/** A UDP socket whose send takes only buffers the guarded encoder made. */
function guardedDgramModule(state: GuardState): { createSocket: (type: dgram.SocketType) => dgram.Socket } {
  return {
    createSocket: (type) => {
      const socket = dgram.createSocket(type);
      const send = socket.send.bind(socket) as (...args: unknown[]) => void;
      // Bound now, so node's dgram never queues a send and re-enters send() with a copy of the
      // buffer (which the check below could not recognise); sends before 'listening' wait here.
      let listening = false;
      const waiting: unknown[][] = [];
      socket.once('listening', () => { listening = true; for (const args of waiting.splice(0)) send(...args); });
      socket.on('error', () => undefined);
      socket.bind(0);
      (socket as unknown as { send: (...args: unknown[]) => void }).send = (buffer: unknown, ...rest: unknown[]) => {
        if (!isApproved(buffer, state.approved)) {
          state.refused++;
          throw new SnmpError('snmp_send_refused', 'refused a datagram that did not come from the read-only encoder', {});
        }
        if (listening) send(buffer, ...rest); else waiting.push([buffer, ...rest]);
      };
      return socket;
    },
  };
}

/** Replaces the session's send path with the allow-listed one (see the file comment). */
function guardSend(session: snmp.Session, state: GuardState): void {
  const originalSend = (snmp.Session.prototype as unknown as { send: (req: unknown, noWait?: boolean) => unknown }).send;
  (session as unknown as { send: (req: GuardedRequest, noWait?: boolean) => unknown }).send = function guardedSend(req, noWait) {
    const type = req?.message?.pdu?.type;
    const behind = req?.originalPdu?.type;
    if (!ALLOWED_REQUEST_PDUS.has(type as number) || (behind !== undefined && !ALLOWED_REQUEST_PDUS.has(behind as number))) {
      state.refused++;
      req?.responseCb?.(refusal(ALLOWED_REQUEST_PDUS.has(type as number) ? behind : type));
      return session;
    }
    const message = req.message!;
    if (!message[GUARDED] && typeof message.toBuffer === 'function') {
      const encode = message.toBuffer;
      message.toBuffer = function guardedEncode(this: typeof message) {
        // Checked again at the encoder: the PDU could have been swapped since the check above.
        if (!ALLOWED_REQUEST_PDUS.has(this.pdu?.type as number)) { state.refused++; throw refusal(this.pdu?.type); }
        const buffer = encode.call(this);
        state.approved.add(buffer);
        return buffer;
      };
      message[GUARDED] = true;
    }
    return originalSend.call(this, req, noWait);
  };
}

function compareOids(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

export function oidInSubtree(base: string, oid: string): boolean {
  return oid.startsWith(`${base}.`);
}

/** net-snmp's errors -> ours, with what to do; never carries a secret (net-snmp's messages hold none for these). */
export function translateSnmpError(err: unknown, where: string): SnmpError {
  if (err instanceof SnmpError) return err;
  const e = err as Error & { status?: number; code?: number };
  if ((err as Error)?.name === 'RequestTimedOutError') {
    return new SnmpError('snmp_timeout', `no answer from ${where}: check the agent is up, the port, and the community or v3 user (agents drop wrong ones silently)`, { where });
  }
  if (err instanceof snmp.RequestFailedError) {
    return new SnmpError('snmp_error_status', `${where} answered with error-status ${e.message}`, { where, status: e.status });
  }
  if (err instanceof snmp.ResponseInvalidError) {
    // 5 EAuthFailure, 4 ECouldNotDecrypt, 14 ENotInTimeWindow (net-snmp ResponseInvalidCode)
    if (e.code === 5 || e.code === 4 || e.code === 14) {
      return new SnmpError('snmp_auth_failed', `${where} refused the SNMPv3 request (${e.message}): check the user name, authentication and privacy protocols and keys`, { where });
    }
    return new SnmpError('snmp_response_invalid', `the answer of ${where} is not valid: ${e.message}`, { where });
  }
  return new SnmpError('snmp_socket_failed', `SNMP to ${where} failed: ${e?.message ?? String(err)}`, { where });
}

/** A read-only SNMP session to one agent. */
export class ReadOnlySnmpSession {
  readonly #session: snmp.Session;
  readonly #state: GuardState;
  readonly #where: string;
  #closed = false;

  private constructor(session: snmp.Session, state: GuardState, where: string) {
    this.#session = session;
    this.#state = state;
    this.#where = where;
  }

  static open(o: ReadOnlySessionOptions): ReadOnlySnmpSession {
    const state: GuardState = { approved: new WeakSet(), refused: 0 };
    const common = { port: o.port, retries: o.retries, timeout: o.timeoutMs, backoff: 1, dgramModule: guardedDgramModule(state), idBitsSize: 32 as const };
    let session: snmp.Session;
    if (o.version === '3') {
      if (!o.user || o.user.level !== snmp.SecurityLevel.authPriv) throw new SnmpError('snmp_config_invalid', 'an SNMPv3 session needs an authPriv user', {});
      session = snmp.createV3Session(o.host, o.user, { ...common, version: snmp.Version3 });
    } else {
      if (!o.community) throw new SnmpError('snmp_config_invalid', 'an SNMPv2c session needs a community', {});
      session = snmp.createSession(o.host, o.community, { ...common, version: snmp.Version2c });
    }
    // An undecodable datagram makes net-snmp emit 'error'; unhandled, that would end the process.
    session.on('error', (err: unknown) => o.onDecodeError?.(err instanceof Error ? err : new Error(String(err))));
    guardSend(session, state);
    return new ReadOnlySnmpSession(session, state, `${o.host}:${o.port}`);
  }

  /** Requests refused by the guard since the session opened. */
  refusals(): number {
    return this.#state.refused;
  }

  /** The guarded net-snmp session itself: for tests proving that its write paths are refused. */
  get guardedSession(): snmp.Session {
    return this.#session;
  }

  #call<T>(run: (cb: (err: unknown, result?: T) => void) => void): Promise<T> {
    if (this.#closed) return Promise.reject(new SnmpError('snmp_session_closed', `the SNMP session to ${this.#where} is closed`, { where: this.#where }));
    return new Promise<T>((resolve, reject) => {
      try {
        run((err, result) => (err ? reject(translateSnmpError(err, this.#where)) : resolve(result as T)));
      } catch (err) {
        reject(translateSnmpError(err, this.#where));
      }
    });
  }

  /** GetRequest for these OIDs; varbinds in request order, exceptions (noSuchObject...) included. */
  get(oids: string[]): Promise<SnmpVarbind[]> {
    return this.#call<snmp.Varbind[]>((cb) => this.#session.get(oids, cb)).then((vbs) => this.#checked(vbs, oids.length, oids));
  }

  /** GetBulkRequest (RFC 3416 §4.2.3). */
  getBulk(oids: string[], nonRepeaters: number, maxRepetitions: number): Promise<SnmpVarbind[]> {
    return this.#call<snmp.Varbind[]>((cb) => this.#session.getBulk(oids, nonRepeaters, maxRepetitions, cb as never))
      // net-snmp gives the non-repeaters' varbinds, then one list per repeated OID: flattened, each repeated OID's run in turn.
      .then((vbs) => this.#checked(Array.isArray(vbs) ? (vbs as unknown as (snmp.Varbind | snmp.Varbind[])[]).flat() : vbs));
  }

  /**
   * Every instance under `base`, read with GETBULK (max-repetitions at a time). Stops at the end
   * of the subtree, at endOfMibView, at `maxRows`, or when an agent answers an OID that does not
   * increase (RFC 3416 §4.2.2 says it must; a broken agent would otherwise loop forever).
   */
  async walk(base: string, maxRepetitions: number, maxRows = 10_000): Promise<SnmpVarbind[]> {
    const out: SnmpVarbind[] = [];
    let cursor = base;
    for (;;) {
      const vbs = await this.getBulk([cursor], 0, maxRepetitions);
      if (vbs.length === 0) return out;
      for (const vb of vbs) {
        if (vb.type === snmp.ObjectType.EndOfMibView || !oidInSubtree(base, vb.oid)) return out;
        if (compareOids(vb.oid, cursor) <= 0) {
          throw new SnmpError('snmp_response_invalid', `${this.#where} answered GETBULK after ${cursor} with ${vb.oid}, which does not increase (RFC 3416 §4.2.2); the walk of ${base} stopped`, { base, cursor, oid: vb.oid });
        }
        out.push(vb);
        cursor = vb.oid;
        if (out.length >= maxRows) return out;
      }
    }
  }

  #checked(vbs: snmp.Varbind[] | undefined, expected?: number, oids?: string[]): SnmpVarbind[] {
    if (!Array.isArray(vbs) || (expected !== undefined && vbs.length !== expected)) {
      throw new SnmpError('snmp_response_invalid', `${this.#where} answered ${Array.isArray(vbs) ? vbs.length : 'no'} varbinds for ${expected ?? 'a'} request`, { where: this.#where });
    }
    return vbs.map((vb, i) => {
      if (typeof vb?.oid !== 'string') throw new SnmpError('snmp_response_invalid', `${this.#where} answered a varbind without an OID`, { where: this.#where });
      // RFC 3416 §4.2.1: a GetResponse names the same OIDs, in order.
      if (oids && vb.oid !== oids[i]) throw new SnmpError('snmp_response_invalid', `${this.#where} answered ${vb.oid} where ${oids[i]} was asked`, { where: this.#where });
      return { oid: vb.oid, type: vb.type as number, value: vb.value };
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#session.cancelRequests(new SnmpError('snmp_session_closed', `the SNMP session to ${this.#where} is closed`, {}));
    try { this.#session.close(); } catch { /* already closed */ }
  }
}
