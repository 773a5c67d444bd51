/**
 * The read-only BACnet/IP client of one device: one UDP socket, confirmed requests matched by
 * invoke id and source address, APDU timeouts and retries (clause 5.3), segmented ComplexACKs
 * reassembled with Segment-ACKs (clause 5.4), foreign-device registration with a BBMD (Annex J.5),
 * and the device's unsolicited COV notifications handed to a listener.
 *
 * `#send` is the only socket write, and it re-checks every datagram with `checkOutgoing`.
 */
import dgram from 'node:dgram';
import { systemClock, type Clock, type TimerHandle } from '@shellguard/protocol';
import { type ObjectId } from './asn1.ts';
import {
  Confirmed, MAX_APDU, MAX_SEGMENTS, Unconfirmed, checkOutgoing, decodeFrame, encodeRequest,
  type Apdu, type BacnetRequest, type Destination, type EncodedFrame, type Route,
} from './frame.ts';
import { decodeCovNotification, type CovNotification } from './services.ts';
import { ABORT_REASONS, BacnetError, ERROR_CLASSES, ERROR_CODES, REJECT_REASONS, nameOf } from './errors.ts';

export interface BacnetClientOptions {
  host: string;
  port: number;
  /** APDU timeout per attempt (ms). */
  timeoutMs: number;
  /** Retries after a timeout (clause 12.11.21 Number_Of_APDU_Retries; default 2). */
  retries?: number;
  route?: Route;
  foreignDevice?: { host: string; port: number; ttlSeconds: number };
  clock?: Clock;
  /** Local address to bind (default: any). */
  bindHost?: string;
}

/** A confirmed request without its invoke id: the client picks one. */
export type ConfirmedRequest = Extract<BacnetRequest, { pdu: 'confirmed' }> extends infer R ? R extends unknown ? Omit<R, 'invokeId'> : never : never;

interface Pending {
  service: number;
  resolve(data: Buffer): void;
  reject(err: BacnetError): void;
  timer?: TimerHandle;
  /** Resets the APDU timer while a segmented answer is arriving. */
  rearm(): void;
  segments?: { expected: number; windowStart: number; parts: Buffer[]; bytes: number };
}

const REGISTRATION_RETRY_MS = 5000;

export class BacnetClient {
  readonly #o: BacnetClientOptions;
  readonly #clock: Clock;
  readonly #pending = new Map<number, Pending>();
  readonly #covListeners = new Set<(n: CovNotification) => void>();
  #socket: dgram.Socket | undefined;
  #opening: Promise<dgram.Socket> | undefined;
  #nextInvokeId = 0;
  #closed = false;
  #registration: { timer?: TimerHandle; waiter?: { resolve(): void; reject(e: BacnetError): void } } = {};
  #registering: Promise<void> | undefined;
  /** Datagrams sent, by kind, for tests and diagnostics. */
  readonly sent: string[] = [];

  constructor(options: BacnetClientOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** COV notifications (confirmed ones are acknowledged first); returns an unsubscribe function. */
  onCovNotification(listener: (n: CovNotification) => void): () => void {
    this.#covListeners.add(listener);
    return () => this.#covListeners.delete(listener);
  }

  async #open(): Promise<dgram.Socket> {
    if (this.#closed) throw closedError();
    if (this.#socket) return this.#socket;
    this.#opening ??= new Promise<dgram.Socket>((resolve, reject) => {
      const socket = dgram.createSocket('udp4');
      socket.once('error', (err) => reject(new BacnetError('bacnet_socket_failed', `cannot open a UDP socket for BACnet/IP: ${err.message}`)));
      socket.on('message', (msg, rinfo) => this.#receive(msg, rinfo));
      socket.bind(0, this.#o.bindHost, () => {
        socket.removeAllListeners('error');
        socket.on('error', () => { /* per-request timeouts report a broken path */ });
        this.#socket = socket;
        resolve(socket);
      });
    }).finally(() => { this.#opening = undefined; });
    const socket = await this.#opening;
    if (this.#o.foreignDevice) await this.#register();
    return socket;
  }

  /** The single socket write: the allow-list is checked again on the finished bytes. */
  #send(frame: EncodedFrame, to: { host: string; port: number }): void {
    const bytes = checkOutgoing(frame);
    if (!this.#socket) throw closedError();
    this.sent.push(frame.what);
    this.#socket.send(bytes, to.port, to.host);
  }

  #dest(): Destination { return this.#o.route ? { route: this.#o.route } : {}; }

  // ---------------------------------------------------------------- foreign device (Annex J.5.2)

  /** One registration at a time: requests that open the socket together share it (a second would take the first's BVLC-Result). */
  #register(): Promise<void> {
    this.#registering ??= this.#registerOnce().finally(() => { this.#registering = undefined; });
    return this.#registering;
  }

  async #registerOnce(): Promise<void> {
    const fd = this.#o.foreignDevice!;
    const attempt = (): Promise<void> => new Promise<void>((resolve, reject) => {
      this.#registration.waiter = { resolve, reject };
      this.#send(encodeRequest({ pdu: 'registerForeignDevice', ttlSeconds: fd.ttlSeconds }), fd);
      const t = this.#clock.setTimeout(() => reject(new BacnetError('bacnet_registration_failed', `no answer from the BBMD at ${fd.host}:${fd.port} to the foreign-device registration; check its address and that it accepts foreign devices`)), this.#o.timeoutMs);
      t.unref();
      const done = (): void => this.#clock.clearTimeout(t);
      this.#registration.waiter = { resolve: () => { done(); resolve(); }, reject: (e) => { done(); reject(e); } };
    });
    try {
      await attempt();
      this.#scheduleRegistration(fd.ttlSeconds * 500);
    } catch (err) {
      this.#scheduleRegistration(REGISTRATION_RETRY_MS);
      throw err;
    }
  }

  /** J.5.2.3: re-register before the TTL runs out; at half of it, as BACnet stacks commonly do. */
  #scheduleRegistration(ms: number): void {
    if (this.#closed) return;
    this.#clock.clearTimeout(this.#registration.timer);
    this.#registration.timer = this.#clock.setTimeout(() => { this.#register().catch(() => { /* retried on the next timer */ }); }, ms).unref();
  }

  // ---------------------------------------------------------------- confirmed requests

  /** Sends a confirmed request and resolves with the ComplexACK's service data (empty for a SimpleACK). */
  async confirmed(req: ConfirmedRequest): Promise<Buffer> {
    // Refuse a forbidden service before anything else happens (and before a socket exists).
    encodeRequest({ ...req, invokeId: 0 } as BacnetRequest, this.#dest());
    await this.#open();
    const retries = this.#o.retries ?? 2;
    let last: BacnetError | undefined;
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        return await this.#once(req);
      } catch (err) {
        last = err as BacnetError;
        if (last.code !== 'bacnet_timeout' || this.#closed) throw last;
      }
    }
    throw last!;
  }

  #allocateInvokeId(): number {
    for (let i = 0; i < 256; i++) {
      const id = (this.#nextInvokeId + i) & 0xff;
      if (!this.#pending.has(id)) {
        this.#nextInvokeId = (id + 1) & 0xff;
        return id;
      }
    }
    throw new BacnetError('bacnet_request_invalid', 'all 256 invoke ids are in use; too many requests to one device at once');
  }

  #once(req: ConfirmedRequest): Promise<Buffer> {
    const invokeId = this.#allocateInvokeId();
    const frame = encodeRequest({ ...req, invokeId } as BacnetRequest, this.#dest());
    return new Promise<Buffer>((resolve, reject) => {
      const p: Pending = {
        service: req.service,
        resolve: (d) => { this.#finish(invokeId, p); resolve(d); },
        reject: (e) => { this.#finish(invokeId, p); reject(e); },
        rearm: () => {
          this.#clock.clearTimeout(p.timer);
          p.timer = this.#clock.setTimeout(() => p.reject(new BacnetError('bacnet_timeout', `no answer from ${this.#where()} within ${this.#o.timeoutMs} ms; check that the device is on and reachable over UDP`, { service: req.service })), this.#o.timeoutMs);
        },
      };
      this.#pending.set(invokeId, p);
      p.rearm();
      this.#send(frame, this.#o);
    });
  }

  #finish(invokeId: number, p: Pending): void {
    this.#clock.clearTimeout(p.timer);
    if (this.#pending.get(invokeId) === p) this.#pending.delete(invokeId);
  }

  #where(): string {
    const r = this.#o.route;
    return `the BACnet device at ${this.#o.host}:${this.#o.port}${r ? ` (network ${r.network}, MAC ${r.address.toString('hex')})` : ''}`;
  }

  // ---------------------------------------------------------------- receiving

  #receive(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    let incoming;
    try {
      incoming = decodeFrame(msg);
    } catch {
      return; // malformed datagrams are dropped; the request they might answer times out
    }
    const fd = this.#o.foreignDevice;
    if (incoming.kind === 'bvlcResult') {
      if (fd && rinfo.address === fd.host && rinfo.port === fd.port && this.#registration.waiter) {
        const w = this.#registration.waiter;
        this.#registration.waiter = undefined;
        if (incoming.code === 0) w.resolve();
        else w.reject(new BacnetError('bacnet_registration_refused', `the BBMD at ${fd.host}:${fd.port} refused the foreign-device registration (BVLC-Result 0x${incoming.code.toString(16).padStart(4, '0')}); add this guardian to what it accepts`));
      }
      return;
    }
    if (incoming.kind !== 'apdu') return;
    // Only the device answers: anything from another address (or, routed, another SADR) is ignored.
    // A Forwarded-NPDU counts only when our own BBMD relayed it: anyone else could claim any origin.
    const viaOurBbmd = fd !== undefined && rinfo.address === fd.host && rinfo.port === fd.port;
    const fromDevice = incoming.forwardedFrom
      ? viaOurBbmd && incoming.forwardedFrom.host === this.#o.host && incoming.forwardedFrom.port === this.#o.port
      : rinfo.address === this.#o.host && rinfo.port === this.#o.port;
    if (!fromDevice) return;
    const route = this.#o.route;
    if (route && (!incoming.source || incoming.source.network !== route.network || !incoming.source.address.equals(route.address))) return;
    if (!route && incoming.source) return;
    this.#dispatch(incoming.apdu);
  }

  #dispatch(a: Apdu): void {
    switch (a.type) {
      case 'confirmedRequest':
        if (a.service === Confirmed.confirmedCovNotification && !a.segmented) {
          let n: CovNotification;
          try { n = decodeCovNotification(a.data); } catch { return; }
          // Clause 13.7: the subscriber acknowledges a confirmed notification with a SimpleACK.
          this.#send(encodeRequest({ pdu: 'simpleAck', service: Confirmed.confirmedCovNotification, invokeId: a.invokeId }, this.#dest()), this.#o);
          for (const l of this.#covListeners) l(n);
        }
        return;
      case 'unconfirmedRequest':
        if (a.service === Unconfirmed.unconfirmedCovNotification) {
          let n: CovNotification;
          try { n = decodeCovNotification(a.data); } catch { return; }
          for (const l of this.#covListeners) l(n);
        }
        return;
      case 'segmentAck':
        return;
      default:
        break;
    }
    const p = this.#pending.get(a.invokeId);
    if (!p) return;
    switch (a.type) {
      case 'simpleAck':
        if (a.service === p.service) p.resolve(Buffer.alloc(0));
        return;
      case 'complexAck':
        if (a.service !== p.service) return p.reject(new BacnetError('bacnet_response_invalid', `${this.#where()} answered service ${p.service} with an acknowledgement of service ${a.service}`));
        // We announce 1476 octets (clause 20.1.2.5): a longer unsegmented answer breaks the contract.
        if (!a.segment && a.data.length + 3 > MAX_APDU) return p.reject(new BacnetError('bacnet_response_invalid', `${this.#where()} sent an unsegmented answer of ${a.data.length + 3} octets, more than the ${MAX_APDU} this client accepts`));
        if (!a.segment) return p.resolve(a.data);
        return this.#segment(a.invokeId, p, a.segment, a.data);
      case 'error':
        return p.reject(new BacnetError('bacnet_error', `${this.#where()} answered with an error: ${nameOf(ERROR_CLASSES, a.errorClass)}/${nameOf(ERROR_CODES, a.errorCode)}`, { errorClass: a.errorClass, errorCode: a.errorCode }));
      case 'reject':
        return p.reject(new BacnetError('bacnet_reject', `${this.#where()} rejected the request: ${nameOf(REJECT_REASONS, a.reason)}`, { reason: a.reason }));
      case 'abort':
        return p.reject(new BacnetError('bacnet_abort', `${this.#where()} aborted the request: ${nameOf(ABORT_REASONS, a.reason)}`, { reason: a.reason }));
    }
  }

  /**
   * Clause 5.4.4.3-4: segment 0 is acknowledged at once (the server sends it alone and waits for
   * our actual window size); then the last segment of each window and the final one. In-order
   * segments are kept; a duplicate is re-acknowledged, a gap negatively, and the server resends
   * from there, so a new window starts.
   */
  #segment(invokeId: number, p: Pending, seg: { sequence: number; window: number; more: boolean }, data: Buffer): void {
    const window = Math.min(Math.max(seg.window, 1), 127);
    const ack = (sequence: number, negative: boolean): void =>
      this.#send(encodeRequest({ pdu: 'segmentAck', invokeId, sequence: sequence & 0xff, windowSize: window, negative }, this.#dest()), this.#o);
    if (!p.segments) {
      if (seg.sequence !== 0) return ack(0xff, true);
      p.segments = { expected: 0, windowStart: 0, parts: [], bytes: 0 };
    }
    const s = p.segments;
    const diff = (seg.sequence - (s.expected & 0xff) + 256) & 0xff;
    if (diff !== 0) {
      // diff > 128: an old (duplicate) segment; otherwise a gap. Either way, say what we have.
      s.windowStart = s.expected;
      return ack(s.expected - 1, diff < 128);
    }
    s.parts.push(Buffer.from(data));
    s.bytes += data.length;
    s.expected++;
    if (s.expected > MAX_SEGMENTS || s.bytes > MAX_APDU * MAX_SEGMENTS) {
      return p.reject(new BacnetError('bacnet_segmentation_failed', `${this.#where()} sent an answer of more than ${MAX_SEGMENTS} segments or ${MAX_APDU * MAX_SEGMENTS} bytes; read fewer points per request`));
    }
    p.rearm();
    if (!seg.more) {
      ack(seg.sequence, false);
      return p.resolve(Buffer.concat(s.parts));
    }
    if (s.expected === 1 || s.expected - s.windowStart >= window) {
      ack(seg.sequence, false);
      s.windowStart = s.expected;
    }
  }

  // ---------------------------------------------------------------- lifecycle

  get closed(): boolean { return this.#closed; }

  /** Sends one frame that needs no answer (a COV cancellation is confirmed and goes through `confirmed`). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearTimeout(this.#registration.timer);
    for (const [, p] of this.#pending) p.reject(closedError());
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) await new Promise<void>((r) => socket.close(() => r()));
  }
}

function closedError(): BacnetError {
  return new BacnetError('bacnet_client_closed', 'the BACnet client is closed');
}

export type { ObjectId };
