/**
 * BACnet/IP frames: ASHRAE 135 Annex J (BVLC), clause 6.2 (NPDU), clause 20.1 (APDU headers).
 *
 * The read-only rule lives here (ARCHITECTURE.md §2). `encodeRequest` is the only builder of an
 * outgoing datagram and an `EncodedFrame` can be made by nothing else. It builds only
 *   - confirmed ReadProperty (12), ReadPropertyMultiple (14), SubscribeCOV (5), ReadRange (26);
 *   - unconfirmed Who-Is (8), for commissioning discovery;
 *   - the acknowledgements a client owes: SimpleACK of a ConfirmedCOVNotification (1), and
 *     Segment-ACK while receiving a segmented ComplexACK (clause 5.4);
 *   - BVLC Register-Foreign-Device (J.2.6), to reach a device behind a BBMD.
 * Any other service choice (WriteProperty 15, WritePropertyMultiple 16,
 * DeviceCommunicationControl 17, ReinitializeDevice 20, CreateObject 10, DeleteObject 11,
 * AtomicWriteFile 7, WriteGroup 10u, …) is refused with `bacnet_service_refused` before a byte of
 * it exists: an allow-list, not a deny-list. `checkOutgoing` re-reads finished bytes with the same
 * allow-list; the client runs it on every datagram just before the socket.
 */
import { TagWriter, type ObjectId } from './asn1.ts';
import { malformed } from './asn1.ts';
import { BacnetError } from './errors.ts';

export const BVLC_TYPE = 0x81;
/** BVLC functions (J.2). */
export const Bvlc = {
  result: 0x00, forwardedNpdu: 0x04, registerForeignDevice: 0x05, distributeBroadcastToNetwork: 0x09,
  originalUnicast: 0x0a, originalBroadcast: 0x0b,
} as const;
/** APDU types (clause 20.1.1, high nibble of the first octet). */
export const Pdu = { confirmed: 0, unconfirmed: 1, simpleAck: 2, complexAck: 3, segmentAck: 4, error: 5, reject: 6, abort: 7 } as const;
export const Confirmed = { confirmedCovNotification: 1, subscribeCov: 5, readProperty: 12, readPropertyMultiple: 14, readRange: 26 } as const;
export const Unconfirmed = { iAm: 0, unconfirmedCovNotification: 2, whoIs: 8 } as const;

/** The confirmed services the guardian may request: the reading ones. */
export const ALLOWED_CONFIRMED: ReadonlySet<number> = new Set([Confirmed.readProperty, Confirmed.readPropertyMultiple, Confirmed.subscribeCov, Confirmed.readRange]);
/** The unconfirmed services the guardian may send: Who-Is. */
export const ALLOWED_UNCONFIRMED: ReadonlySet<number> = new Set([Unconfirmed.whoIs]);
/** The only confirmed service the guardian acknowledges (SimpleACK): a device's COV notification. */
export const ALLOWED_SIMPLE_ACK: ReadonlySet<number> = new Set([Confirmed.confirmedCovNotification]);

/** Max APDU accepted, clause 20.1.2.5: code 5 = 1476 octets, the B/IP maximum. */
export const MAX_APDU_CODE = 5;
export const MAX_APDU = 1476;
/** Max segments accepted, clause 20.1.2.4: code 6 = 64 segments. The bound on a reassembled answer. */
export const MAX_SEGMENTS_CODE = 6;
export const MAX_SEGMENTS = 64;
export const MAX_APDU_OF_CODE = [50, 128, 206, 480, 1024, 1476] as const;

export interface PropertyRef { id: number; arrayIndex?: number }
/** A remote BACnet network and MAC address behind a router (DNET/DADR, clause 6.2.2). */
export interface Route { network: number; address: Buffer }

export type BacnetRequest =
  | { pdu: 'confirmed'; service: typeof Confirmed.readProperty; invokeId: number; object: ObjectId; property: PropertyRef }
  | { pdu: 'confirmed'; service: typeof Confirmed.readPropertyMultiple; invokeId: number; specs: { object: ObjectId; properties: PropertyRef[] }[] }
  /** `lifetimeSeconds` undefined: the cancellation form (clause 13.14.1.1.4: both optional parameters absent). */
  | { pdu: 'confirmed'; service: typeof Confirmed.subscribeCov; invokeId: number; processId: number; object: ObjectId; confirmedNotifications: boolean; lifetimeSeconds?: number }
  | { pdu: 'confirmed'; service: typeof Confirmed.readRange; invokeId: number; object: ObjectId; property: PropertyRef; byPosition: { index: number; count: number } }
  | { pdu: 'unconfirmed'; service: typeof Unconfirmed.whoIs; low?: number; high?: number }
  | { pdu: 'simpleAck'; service: typeof Confirmed.confirmedCovNotification; invokeId: number }
  | { pdu: 'segmentAck'; invokeId: number; sequence: number; windowSize: number; negative: boolean }
  | { pdu: 'registerForeignDevice'; ttlSeconds: number };

/** Where a frame goes: a routed device, a local broadcast, a broadcast through our BBMD. */
export interface Destination { route?: Route; broadcast?: 'local' | 'bbmd' }

const TOKEN = Symbol('EncodedFrame');

/** A datagram that passed the allow-list. Only `encodeRequest` can make one. */
export class EncodedFrame {
  readonly bytes: Buffer;
  /** What it is, for logs and tests: `confirmed 12`, `segmentAck`, `registerForeignDevice`. */
  readonly what: string;
  private constructor(token: symbol, bytes: Buffer, what: string) {
    if (token !== TOKEN) throw new BacnetError('bacnet_service_refused', 'BACnet frames are built only by encodeRequest');
    this.bytes = bytes;
    this.what = what;
  }
  /** @internal */
  static [TOKEN](bytes: Buffer, what: string): EncodedFrame { return new EncodedFrame(TOKEN, bytes, what); }
}

function refused(what: string, details: Record<string, unknown>): never {
  throw new BacnetError('bacnet_service_refused', `${what} is not on the read-only allow-list (ReadProperty, ReadPropertyMultiple, SubscribeCOV, ReadRange, Who-Is and the client's acknowledgements); Shellguard never sends it`, details);
}

function invalid(message: string, details: Record<string, unknown> = {}): never {
  throw new BacnetError('bacnet_request_invalid', message, details);
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

function bvlc(func: number, body: Buffer): Buffer {
  const head = Buffer.from([BVLC_TYPE, func, 0, 0]);
  head.writeUInt16BE(4 + body.length, 2);
  return Buffer.concat([head, body]);
}

/** Clause 6.2: version 1, control octet, then DNET/DLEN/DADR and the hop count when routed. */
function npdu(expectingReply: boolean, to: Destination): Buffer {
  const route = to.route;
  const control = (route ? 0x20 : 0) | (expectingReply ? 0x04 : 0);
  if (!route) return Buffer.from([0x01, control]);
  if (!isInt(route.network, 1, 0xfffe) || route.address.length < 1 || route.address.length > 7) invalid('a route needs a network 1-65534 and a MAC address of 1-7 bytes');
  const out = Buffer.alloc(2 + 3 + route.address.length + 1);
  out[0] = 0x01;
  out[1] = control;
  out.writeUInt16BE(route.network, 2);
  out[4] = route.address.length;
  route.address.copy(out, 5);
  out[5 + route.address.length] = 0xff; // hop count (clause 6.2.2)
  return out;
}

function confirmedHeader(service: number, invokeId: number): Buffer {
  // Clause 20.1.2: segmented-response-accepted set; max segments 64, max APDU 1476.
  return Buffer.from([(Pdu.confirmed << 4) | 0x02, (MAX_SEGMENTS_CODE << 4) | MAX_APDU_CODE, invokeId, service]);
}

/**
 * The single chokepoint that turns a request into a datagram. Its argument is checked at run
 * time as if untyped, because the point is that nothing else reaches the wire.
 */
export function encodeRequest(req: BacnetRequest, to: Destination = {}): EncodedFrame {
  const r = (typeof req === 'object' && req !== null ? req : {}) as Record<string, unknown>;
  const pdu = r.pdu;
  const service = r.service;
  if (pdu === 'registerForeignDevice') {
    if (!isInt(r.ttlSeconds, 1, 0xffff)) invalid('the foreign-device TTL must be 1-65535 s', { ttlSeconds: r.ttlSeconds });
    const ttl = Buffer.alloc(2);
    ttl.writeUInt16BE(r.ttlSeconds, 0);
    return EncodedFrame[TOKEN](bvlc(Bvlc.registerForeignDevice, ttl), 'registerForeignDevice');
  }
  if (pdu === 'segmentAck') {
    if (!isInt(r.invokeId, 0, 255) || !isInt(r.sequence, 0, 255) || !isInt(r.windowSize, 1, 127)) invalid('a Segment-ACK needs an invoke id and sequence number 0-255 and a window size 1-127');
    // Clause 20.1.6: SRV = 0 (we are the client), NAK bit as asked.
    const apdu = Buffer.from([(Pdu.segmentAck << 4) | (r.negative === true ? 0x02 : 0), r.invokeId, r.sequence, r.windowSize]);
    return EncodedFrame[TOKEN](bvlc(Bvlc.originalUnicast, Buffer.concat([npdu(false, to), apdu])), 'segmentAck');
  }
  if (pdu === 'simpleAck') {
    if (!isInt(service, 0, 255) || !ALLOWED_SIMPLE_ACK.has(service)) refused(`SimpleACK of service ${String(service)}`, { pdu, service });
    if (!isInt(r.invokeId, 0, 255)) invalid('a SimpleACK needs an invoke id 0-255');
    const apdu = Buffer.from([Pdu.simpleAck << 4, r.invokeId, service]);
    return EncodedFrame[TOKEN](bvlc(Bvlc.originalUnicast, Buffer.concat([npdu(false, to), apdu])), `simpleAck ${service}`);
  }
  if (pdu === 'unconfirmed') {
    if (!isInt(service, 0, 255) || !ALLOWED_UNCONFIRMED.has(service)) refused(`unconfirmed service ${String(service)}`, { pdu, service });
    const w = new TagWriter();
    if (r.low !== undefined || r.high !== undefined) {
      // Clause 16.10.1.1: both limits or neither.
      if (!isInt(r.low, 0, 0x3fffff) || !isInt(r.high, r.low as number, 0x3fffff)) invalid('Who-Is limits must both be instance numbers, low <= high');
      w.contextUnsigned(0, r.low).contextUnsigned(1, r.high);
    }
    const apdu = Buffer.concat([Buffer.from([Pdu.unconfirmed << 4, service]), w.toBuffer()]);
    const func = to.broadcast === 'bbmd' ? Bvlc.distributeBroadcastToNetwork : to.broadcast === 'local' ? Bvlc.originalBroadcast : Bvlc.originalUnicast;
    return EncodedFrame[TOKEN](bvlc(func, Buffer.concat([npdu(false, to), apdu])), `unconfirmed ${service}`);
  }
  if (pdu !== 'confirmed') refused(`PDU type ${JSON.stringify(pdu)}`, { pdu });
  if (!isInt(service, 0, 255) || !ALLOWED_CONFIRMED.has(service)) refused(`confirmed service ${String(service)}`, { pdu, service });
  if (!isInt(r.invokeId, 0, 255)) invalid('an invoke id must be 0-255', { invokeId: r.invokeId });
  const w = new TagWriter();
  const ref = (p: unknown, tagId: number, tagIndex: number): void => {
    const pr = (p ?? {}) as Record<string, unknown>;
    if (!isInt(pr.id, 0, 0x3fffff)) invalid('a property identifier must be 0-4194303', { property: pr.id });
    w.contextEnumerated(tagId, pr.id);
    if (pr.arrayIndex !== undefined) {
      if (!isInt(pr.arrayIndex, 0, 0xfffffffe)) invalid('an array index must be an unsigned number');
      w.contextUnsigned(tagIndex, pr.arrayIndex);
    }
  };
  switch (service) {
    case Confirmed.readProperty:
      // Clause 15.5.1.1: [0] objectIdentifier, [1] propertyIdentifier, [2] propertyArrayIndex.
      w.contextObjectId(0, r.object as ObjectId);
      ref(r.property, 1, 2);
      break;
    case Confirmed.readPropertyMultiple: {
      // Clause 15.7.1.1: a list of ReadAccessSpecification.
      const specs = r.specs;
      if (!Array.isArray(specs) || specs.length === 0) invalid('ReadPropertyMultiple needs at least one object');
      for (const s of specs as { object: ObjectId; properties: PropertyRef[] }[]) {
        if (!Array.isArray(s?.properties) || s.properties.length === 0) invalid('each object of ReadPropertyMultiple needs at least one property');
        w.contextObjectId(0, s.object).opening(1);
        for (const p of s.properties) ref(p, 0, 1);
        w.closing(1);
      }
      break;
    }
    case Confirmed.subscribeCov:
      // Clause 13.14.1: [0] process id, [1] object, [2] confirmed?, [3] lifetime; cancellation omits [2] and [3].
      if (!isInt(r.processId, 0, 0xffffffff)) invalid('a subscriber process id must be an unsigned 32-bit number');
      w.contextUnsigned(0, r.processId).contextObjectId(1, r.object as ObjectId);
      if (r.lifetimeSeconds !== undefined) {
        if (!isInt(r.lifetimeSeconds, 1, 0xffffffff)) invalid('a COV lifetime must be a positive number of seconds (0 means forever, which Shellguard never asks for)');
        w.contextBoolean(2, r.confirmedNotifications === true).contextUnsigned(3, r.lifetimeSeconds);
      }
      break;
    default: {
      // ReadRange, clause 15.8.1.1: [0] object, [1] property, [2] index, [3] byPosition {reference index, count}.
      w.contextObjectId(0, r.object as ObjectId);
      ref(r.property, 1, 2);
      const pos = (r.byPosition ?? {}) as Record<string, unknown>;
      if (!isInt(pos.index, 1, 0xffffffff) || !isInt(pos.count, -0x8000, 0x7fff) || pos.count === 0) invalid('ReadRange by position needs a reference index >= 1 and a non-zero count');
      w.opening(3).appUnsigned(pos.index).appSigned(pos.count).closing(3);
    }
  }
  const apdu = Buffer.concat([confirmedHeader(service, r.invokeId), w.toBuffer()]);
  return EncodedFrame[TOKEN](bvlc(Bvlc.originalUnicast, Buffer.concat([npdu(true, to), apdu])), `confirmed ${service}`);
}

/**
 * Re-reads a finished datagram with the allow-list: the check the client makes just before the
 * socket, so that even a frame built some other way could not leave with a forbidden service.
 */
export function checkOutgoing(frame: EncodedFrame): Buffer {
  if (!(frame instanceof EncodedFrame)) refused('a datagram not built by encodeRequest', {});
  const b = frame.bytes;
  const no = (why: string): never => refused(`an outgoing datagram (${why})`, { frame: frame.what });
  if (b.length < 4 || b[0] !== BVLC_TYPE || b.readUInt16BE(2) !== b.length) no('not a BVLC frame');
  const func = b[1]!;
  if (func === Bvlc.registerForeignDevice) {
    if (b.length !== 6) no('Register-Foreign-Device of the wrong length');
    return b;
  }
  if (func !== Bvlc.originalUnicast && func !== Bvlc.originalBroadcast && func !== Bvlc.distributeBroadcastToNetwork) no(`BVLC function ${func}`);
  if (b[4] !== 0x01) no('NPDU version');
  const control = b[5]!;
  if ((control & 0x80) !== 0) no('a network-layer message');
  let i = 6;
  if (control & 0x20) { if (b.length < i + 3) no('short DNET'); i += 3 + b[i + 2]!; }
  if (control & 0x08) { if (b.length < i + 3) no('short SNET'); i += 3 + b[i + 2]!; }
  if (control & 0x20) i += 1;
  if (i >= b.length) no('no APDU');
  const type = b[i]! >> 4;
  switch (type) {
    case Pdu.confirmed:
      if ((b[i]! & 0x08) !== 0) no('a segmented request');
      if (!ALLOWED_CONFIRMED.has(b[i + 3] ?? -1)) no(`confirmed service ${b[i + 3]}`);
      break;
    case Pdu.unconfirmed:
      if (!ALLOWED_UNCONFIRMED.has(b[i + 1] ?? -1)) no(`unconfirmed service ${b[i + 1]}`);
      break;
    case Pdu.simpleAck:
      if (!ALLOWED_SIMPLE_ACK.has(b[i + 2] ?? -1)) no(`SimpleACK of service ${b[i + 2]}`);
      break;
    case Pdu.segmentAck:
      if ((b[i]! & 0x01) !== 0) no('a server Segment-ACK');
      break;
    default:
      no(`APDU type ${type}`);
  }
  if (func !== Bvlc.originalUnicast && !(type === Pdu.unconfirmed)) no('a broadcast that is not Who-Is');
  return b;
}

// ------------------------------------------------------------------ decoding of incoming frames

export type Apdu =
  | { type: 'complexAck'; invokeId: number; service: number; segment?: { sequence: number; window: number; more: boolean }; data: Buffer }
  | { type: 'simpleAck'; invokeId: number; service: number }
  | { type: 'error'; invokeId: number; service: number; errorClass: number; errorCode: number }
  | { type: 'reject'; invokeId: number; reason: number }
  | { type: 'abort'; invokeId: number; reason: number; fromServer: boolean }
  | { type: 'confirmedRequest'; invokeId: number; service: number; segmented: boolean; data: Buffer }
  | { type: 'unconfirmedRequest'; service: number; data: Buffer }
  | { type: 'segmentAck'; invokeId: number };

export type Incoming =
  | { kind: 'bvlcResult'; code: number }
  | { kind: 'apdu'; apdu: Apdu; source?: { network: number; address: Buffer }; forwardedFrom?: { host: string; port: number } }
  | { kind: 'ignored'; reason: string };

/** Decodes one received datagram; throws only `bacnet_response_invalid`. */
export function decodeFrame(b: Buffer): Incoming {
  if (b.length < 4 || b[0] !== BVLC_TYPE) throw malformed('not a BVLC frame (type 0x81 expected)');
  const length = b.readUInt16BE(2);
  if (length !== b.length) throw malformed(`BVLC length ${length} but the datagram has ${b.length} bytes`);
  const func = b[1]!;
  let i = 4;
  let forwardedFrom: { host: string; port: number } | undefined;
  switch (func) {
    case Bvlc.result:
      if (b.length !== 6) throw malformed('a BVLC-Result is 6 bytes');
      return { kind: 'bvlcResult', code: b.readUInt16BE(4) };
    case Bvlc.forwardedNpdu:
      if (b.length < 10) throw malformed('a Forwarded-NPDU shorter than its address');
      forwardedFrom = { host: `${b[4]}.${b[5]}.${b[6]}.${b[7]}`, port: b.readUInt16BE(8) };
      i = 10;
      break;
    case Bvlc.originalUnicast:
    case Bvlc.originalBroadcast:
      break;
    default:
      return { kind: 'ignored', reason: `BVLC function ${func}` };
  }
  if (b.length < i + 2) throw malformed('no NPDU');
  if (b[i] !== 0x01) throw malformed(`NPDU version ${b[i]} (1 expected)`);
  const control = b[i + 1]!;
  i += 2;
  let source: { network: number; address: Buffer } | undefined;
  if (control & 0x20) {
    if (b.length < i + 3) throw malformed('short DNET');
    i += 3 + b[i + 2]!;
  }
  if (control & 0x08) {
    if (b.length < i + 3) throw malformed('short SNET');
    const slen = b[i + 2]!;
    if (slen === 0 || b.length < i + 3 + slen) throw malformed('bad SADR');
    source = { network: b.readUInt16BE(i), address: Buffer.from(b.subarray(i + 3, i + 3 + slen)) };
    i += 3 + slen;
  }
  if (control & 0x20) i += 1; // hop count
  if (control & 0x80) return { kind: 'ignored', reason: 'network-layer message' };
  if (i >= b.length) throw malformed('no APDU');
  const apdu = decodeApdu(b.subarray(i));
  return { kind: 'apdu', apdu, ...(source ? { source } : {}), ...(forwardedFrom ? { forwardedFrom } : {}) };
}

function need(a: Buffer, n: number, what: string): void {
  if (a.length < n) throw malformed(`a ${what} shorter than its header`);
}

function decodeApdu(a: Buffer): Apdu {
  const type = a[0]! >> 4;
  switch (type) {
    case Pdu.complexAck: {
      const segmented = (a[0]! & 0x08) !== 0;
      if (segmented) {
        need(a, 5, 'segmented ComplexACK');
        return { type: 'complexAck', invokeId: a[1]!, service: a[4]!, segment: { sequence: a[2]!, window: a[3]!, more: (a[0]! & 0x04) !== 0 }, data: a.subarray(5) };
      }
      need(a, 3, 'ComplexACK');
      return { type: 'complexAck', invokeId: a[1]!, service: a[2]!, data: a.subarray(3) };
    }
    case Pdu.simpleAck:
      need(a, 3, 'SimpleACK');
      return { type: 'simpleAck', invokeId: a[1]!, service: a[2]! };
    case Pdu.error: {
      need(a, 3, 'Error-PDU');
      // Clause 21: Error ::= SEQUENCE { error-class ENUMERATED, error-code ENUMERATED } for RP/RPM/COV/RR.
      const data = a.subarray(3);
      const cls = appEnum(data, 0);
      const code = appEnum(data, cls.next);
      return { type: 'error', invokeId: a[1]!, service: a[2]!, errorClass: cls.value, errorCode: code.value };
    }
    case Pdu.reject:
      need(a, 3, 'Reject-PDU');
      return { type: 'reject', invokeId: a[1]!, reason: a[2]! };
    case Pdu.abort:
      need(a, 3, 'Abort-PDU');
      return { type: 'abort', invokeId: a[1]!, reason: a[2]!, fromServer: (a[0]! & 0x01) !== 0 };
    case Pdu.confirmed: {
      const segmented = (a[0]! & 0x08) !== 0;
      need(a, segmented ? 6 : 4, 'confirmed request');
      return { type: 'confirmedRequest', invokeId: a[2]!, service: a[segmented ? 5 : 3]!, segmented, data: a.subarray(segmented ? 6 : 4) };
    }
    case Pdu.unconfirmed:
      need(a, 2, 'unconfirmed request');
      return { type: 'unconfirmedRequest', service: a[1]!, data: a.subarray(2) };
    case Pdu.segmentAck:
      need(a, 4, 'Segment-ACK');
      return { type: 'segmentAck', invokeId: a[1]! };
    default:
      throw malformed(`APDU type ${type}`);
  }
}

function appEnum(b: Buffer, at: number): { value: number; next: number } {
  const t = b[at];
  if (t === undefined || (t & 0xf8) !== 0x90) throw malformed('an Error-PDU without an application-tagged error class and code');
  const len = t & 0x07;
  if (len < 1 || len > 4 || b.length < at + 1 + len) throw malformed('an Error-PDU enumeration of a bad length');
  return { value: b.readUIntBE(at + 1, len), next: at + 1 + len };
}
