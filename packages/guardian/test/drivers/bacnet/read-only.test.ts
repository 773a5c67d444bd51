/**
 * Read-only below the socket (ARCHITECTURE.md §2, frame.ts): a write, or any service off the
 * allow-list, is refused by `encodeRequest` before a byte of it exists; `checkOutgoing` refuses
 * finished bytes that were changed after encoding; and the client refuses before it even opens a
 * socket, so a UDP socket standing in for the device receives nothing.
 */
import { describe, expect, it, vi } from 'vitest';
import dgram from 'node:dgram';
import fc from 'fast-check';
import { BacnetError } from '../../../src/drivers/bacnet/errors.ts';
import {
  ALLOWED_CONFIRMED, EncodedFrame, checkOutgoing, encodeRequest, type BacnetRequest, type Destination,
} from '../../../src/drivers/bacnet/frame.ts';
import { BacnetClient } from '../../../src/drivers/bacnet/bacnet-client.ts';

const AI_5 = { type: 0, instance: 5 };
const PRESENT_VALUE = { id: 85 };

/** Confirmed services a write-capable client would send (clause 21, BACnetConfirmedServiceChoice). */
const CONFIRMED_WRITES: Record<string, number> = {
  AtomicWriteFile: 7, AddListElement: 8, RemoveListElement: 9, CreateObject: 10, DeleteObject: 11,
  WriteProperty: 15, WritePropertyMultiple: 16, DeviceCommunicationControl: 17, ReinitializeDevice: 20,
};
/** Unconfirmed services other than Who-Is (BACnetUnconfirmedServiceChoice). */
const UNCONFIRMED_OTHERS: Record<string, number> = {
  'I-Am': 0, 'I-Have': 1, UnconfirmedCOVNotification: 2, UnconfirmedEventNotification: 3, UnconfirmedPrivateTransfer: 4,
  UnconfirmedTextMessage: 5, TimeSynchronization: 6, 'Who-Has': 7, UTCTimeSynchronization: 9, WriteGroup: 10,
};

/** A request as an attacker (or a bug) would hand it over: any shape at all. */
function forged(req: unknown, to?: Destination): EncodedFrame {
  return encodeRequest(req as BacnetRequest, to);
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(BacnetError);
    return (err as BacnetError).code;
  }
  return undefined;
}

function readProperty(invokeId = 1): EncodedFrame {
  return encodeRequest({ pdu: 'confirmed', service: 12, invokeId, object: AI_5, property: PRESENT_VALUE });
}

/**
 * What a device would take a datagram for, located as Annex J and clause 6.2.2 say: one of the
 * allowed kinds, or 'other'. An independent reading of the allow-list, to check checkOutgoing by.
 */
function kindOf(b: Buffer): string {
  if (b[0] !== 0x81) return 'other';
  if (b[1] === 0x05) return b.length === 6 ? 'registerForeignDevice' : 'other';
  const control = b[5]!;
  if (b[4] !== 0x01 || control & 0x80) return 'other';
  let i = 6;
  if (control & 0x20) i += 3 + b[i + 2]!; // DNET, DLEN, DADR
  if (control & 0x08) i += 3 + b[i + 2]!; // SNET, SLEN, SADR
  if (control & 0x20) i += 1; // hop count
  const type = b[i]! >> 4;
  const unicast = b[1] === 0x0a;
  if (type === 0 && unicast && !(b[i]! & 0x08) && [5, 12, 14, 26].includes(b[i + 3]!)) return 'confirmed';
  if (type === 1 && b[i + 1] === 8) return 'unconfirmed';
  if (type === 2 && unicast && b[i + 2] === 1) return 'simpleAck';
  if (type === 4 && unicast && !(b[i]! & 0x01)) return 'segmentAck';
  return 'other';
}

async function countingSocket(): Promise<{ port: number; received: Buffer[]; close(): void }> {
  const s = dgram.createSocket('udp4');
  const received: Buffer[] = [];
  s.on('message', (m) => received.push(m));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { port: s.address().port, received, close: () => s.close() };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe('encodeRequest', () => {
  it('builds ReadProperty exactly as ASHRAE 135 Annex F.3.5 (with our max-segments/max-APDU octet)', () => {
    // BVLC Original-Unicast, NPDU expecting-reply, Confirmed-Request SA=1 maxSeg=64 maxAPDU=1476,
    // invoke 1, ReadProperty, [0] analog-input 5, [1] present-value.
    expect(readProperty().bytes.toString('hex')).toBe('810a001101040265010c0c00000005' + '1955');
    expect(readProperty().what).toBe('confirmed 12');
  });

  it.each(Object.entries(CONFIRMED_WRITES))('refuses confirmed %s (%i) before any byte exists', (_name, service) => {
    const attempt = (): EncodedFrame => forged({ pdu: 'confirmed', service, invokeId: 1, object: AI_5, property: PRESENT_VALUE, specs: [{ object: AI_5, properties: [PRESENT_VALUE] }] });
    expect(attempt).toThrow(BacnetError);
    expect(codeOf(attempt)).toBe('bacnet_service_refused');
    expect(attempt).toThrow(/not on the read-only allow-list/);
  });

  it('refuses every confirmed service choice 0-40 that is not ReadProperty, RPM, SubscribeCOV or ReadRange', () => {
    const allowed: number[] = [];
    for (let service = 0; service <= 40; service++) {
      const code = codeOf(() => forged({ pdu: 'confirmed', service, invokeId: 3, object: AI_5, property: PRESENT_VALUE, specs: [{ object: AI_5, properties: [PRESENT_VALUE] }], processId: 1, lifetimeSeconds: 60, byPosition: { index: 1, count: 5 } }));
      if (code === undefined) allowed.push(service);
      else expect(code, `service ${service}`).toBe('bacnet_service_refused');
    }
    expect(allowed).toEqual([5, 12, 14, 26]);
    expect([...ALLOWED_CONFIRMED].sort((a, b) => a - b)).toEqual(allowed);
  });

  it.each(Object.entries(UNCONFIRMED_OTHERS))('refuses unconfirmed %s (%i)', (_name, service) => {
    expect(codeOf(() => forged({ pdu: 'unconfirmed', service }))).toBe('bacnet_service_refused');
    expect(codeOf(() => forged({ pdu: 'unconfirmed', service }, { broadcast: 'local' }))).toBe('bacnet_service_refused');
  });

  it('sends no unconfirmed service but Who-Is (8), for any choice 0-255', () => {
    const built: number[] = [];
    for (let service = 0; service <= 255; service++) {
      if (codeOf(() => forged({ pdu: 'unconfirmed', service })) === undefined) built.push(service);
    }
    expect(built).toEqual([8]);
  });

  it('acknowledges only a ConfirmedCOVNotification (SimpleACK of 1)', () => {
    for (let service = 0; service <= 255; service++) {
      const code = codeOf(() => forged({ pdu: 'simpleAck', service, invokeId: 9 }));
      expect(code, `SimpleACK of ${service}`).toBe(service === 1 ? undefined : 'bacnet_service_refused');
    }
    expect(forged({ pdu: 'simpleAck', service: 1, invokeId: 9 }).bytes.toString('hex')).toBe('810a000901002009' + '01');
  });

  it('refuses forged request objects: other PDU types, non-numeric services, non-objects', () => {
    const attempts: unknown[] = [
      null, undefined, 15, 'WriteProperty', [], {},
      { pdu: 'complexAck', service: 12, invokeId: 1 }, { pdu: 'error', service: 15 }, { pdu: 'abort', invokeId: 1 },
      { pdu: 'reject', invokeId: 1 }, { pdu: 'writeProperty', service: 15 }, { pdu: 'CONFIRMED', service: 12, invokeId: 1 },
      { pdu: 'confirmed', service: '12', invokeId: 1, object: AI_5, property: PRESENT_VALUE },
      { pdu: 'confirmed', service: 12.5, invokeId: 1, object: AI_5, property: PRESENT_VALUE },
      { pdu: 'confirmed', service: 12 + 256, invokeId: 1, object: AI_5, property: PRESENT_VALUE },
      { pdu: 'confirmed', service: Number.NaN, invokeId: 1 }, { pdu: 'confirmed', service: [12], invokeId: 1 },
      { pdu: 'confirmed', service: { valueOf: () => 12 }, invokeId: 1, object: AI_5, property: PRESENT_VALUE },
      { pdu: 'unconfirmed', service: '8' }, { pdu: 'simpleAck', service: '1', invokeId: 1 },
      // Inherited fields are read like own ones: still refused.
      Object.create({ pdu: 'confirmed', service: 15, invokeId: 1, object: AI_5, property: PRESENT_VALUE }),
    ];
    for (const req of attempts) expect(codeOf(() => forged(req)), JSON.stringify(req)).toBe('bacnet_service_refused');
  });

  it('reads the service once: a getter that turns ReadProperty into WriteProperty cannot smuggle a write', () => {
    let reads = 0;
    const req = { pdu: 'confirmed', invokeId: 1, object: AI_5, property: PRESENT_VALUE, get service() { reads++; return reads === 1 ? 12 : 15; } };
    const frame = forged(req);
    expect(reads).toBe(1);
    expect(frame.bytes[9]).toBe(12);
    expect(checkOutgoing(frame)).toBe(frame.bytes);
  });

  it('whatever it is given, it throws a BacnetError or builds a frame checkOutgoing passes, on an allowed service', () => {
    const objectId = fc.record({ type: fc.integer({ min: -2, max: 1100 }), instance: fc.integer({ min: -2, max: 0x400002 }) });
    const prop = fc.record({ id: fc.integer({ min: -1, max: 0x400001 }), arrayIndex: fc.option(fc.integer({ min: -1, max: 20 }), { nil: undefined }) });
    fc.assert(fc.property(
      fc.record({
        pdu: fc.constantFrom('confirmed', 'unconfirmed', 'simpleAck', 'segmentAck', 'registerForeignDevice', 'complexAck', 'abort'),
        service: fc.oneof(fc.integer({ min: -1, max: 260 }), fc.constantFrom(5, 8, 12, 14, 26)),
        invokeId: fc.integer({ min: -1, max: 257 }),
        object: objectId,
        property: prop,
        specs: fc.array(fc.record({ object: objectId, properties: fc.array(prop, { maxLength: 3 }) }), { maxLength: 3 }),
        processId: fc.integer({ min: -1, max: 10 }),
        lifetimeSeconds: fc.option(fc.integer({ min: -1, max: 600 }), { nil: undefined }),
        byPosition: fc.record({ index: fc.integer({ min: -1, max: 10 }), count: fc.integer({ min: -3, max: 3 }) }),
        low: fc.option(fc.integer({ min: -1, max: 10 }), { nil: undefined }),
        high: fc.option(fc.integer({ min: -1, max: 10 }), { nil: undefined }),
        sequence: fc.integer({ min: -1, max: 256 }),
        windowSize: fc.integer({ min: -1, max: 128 }),
        negative: fc.boolean(),
        ttlSeconds: fc.integer({ min: -1, max: 70000 }),
      }),
      (req) => {
        let frame: EncodedFrame;
        try {
          frame = forged(req);
        } catch (err) {
          expect(err).toBeInstanceOf(BacnetError);
          expect(['bacnet_service_refused', 'bacnet_request_invalid']).toContain((err as BacnetError).code);
          return;
        }
        const b = checkOutgoing(frame);
        expect(kindOf(b)).toBe(req.pdu);
      },
    ), { numRuns: 3000 });
  });
});

describe('EncodedFrame', () => {
  it('cannot be constructed from outside frame.ts', () => {
    const Ctor = EncodedFrame as unknown as new (...args: unknown[]) => EncodedFrame;
    expect(() => new Ctor()).toThrow(expect.objectContaining({ code: 'bacnet_service_refused' }) as Error);
    // A look-alike token is a different symbol.
    expect(() => new Ctor(Symbol('EncodedFrame'), Buffer.from('810a0011010402650f0f0c000000051955', 'hex'), 'confirmed 15'))
      .toThrow(expect.objectContaining({ code: 'bacnet_service_refused' }) as Error);
  });

  it('checkOutgoing refuses a look-alike object or a frame made without the constructor, when its bytes are off the allow-list', () => {
    const writeProperty = Buffer.from('810a0018010402650f0f0c0000000519553e4442c800003f', 'hex');
    expect(codeOf(() => checkOutgoing({ bytes: writeProperty, what: 'confirmed 12' } as unknown as EncodedFrame))).toBe('bacnet_service_refused');
    expect(codeOf(() => checkOutgoing(readProperty().bytes as unknown as EncodedFrame))).toBe('bacnet_service_refused');
    // Object.create passes instanceof; the bytes are read again and refused.
    const fake = Object.assign(Object.create(EncodedFrame.prototype) as EncodedFrame, { bytes: writeProperty, what: 'confirmed 12' });
    expect(fake instanceof EncodedFrame).toBe(true);
    expect(codeOf(() => checkOutgoing(fake))).toBe('bacnet_service_refused');
    // Even the symbol-keyed factory, dug out by reflection, does not get a write past the check.
    const [token] = Object.getOwnPropertySymbols(EncodedFrame);
    const factory = (EncodedFrame as unknown as Record<symbol, (b: Buffer, w: string) => EncodedFrame>)[token!]!;
    expect(codeOf(() => checkOutgoing(factory(writeProperty, 'confirmed 12')))).toBe('bacnet_service_refused');
  });
});

describe('checkOutgoing', () => {
  it('passes what encodeRequest built, unchanged', () => {
    const frames = [
      readProperty(),
      encodeRequest({ pdu: 'confirmed', service: 14, invokeId: 2, specs: [{ object: AI_5, properties: [PRESENT_VALUE, { id: 111 }] }] }),
      encodeRequest({ pdu: 'confirmed', service: 5, invokeId: 3, processId: 18, object: AI_5, confirmedNotifications: true, lifetimeSeconds: 300 }),
      encodeRequest({ pdu: 'confirmed', service: 26, invokeId: 4, object: { type: 20, instance: 1 }, property: { id: 131 }, byPosition: { index: 1, count: 10 } }),
      encodeRequest({ pdu: 'unconfirmed', service: 8 }, { broadcast: 'local' }),
      encodeRequest({ pdu: 'unconfirmed', service: 8, low: 1, high: 9 }, { broadcast: 'bbmd' }),
      encodeRequest({ pdu: 'segmentAck', invokeId: 5, sequence: 3, windowSize: 4, negative: true }),
      encodeRequest({ pdu: 'registerForeignDevice', ttlSeconds: 60 }),
      encodeRequest({ pdu: 'confirmed', service: 12, invokeId: 6, object: AI_5, property: PRESENT_VALUE }, { route: { network: 5, address: Buffer.from([0x0a]) } }),
    ];
    for (const f of frames) expect(checkOutgoing(f), f.what).toBe(f.bytes);
  });

  // Offsets in an unrouted confirmed request: BVLC 0-3, NPDU 4-5, APDU type 6, max 7, invoke 8, service 9.
  const tampers: [string, (f: EncodedFrame) => void][] = [
    ['the service byte set to WriteProperty (15)', (f) => { f.bytes[9] = 15; }],
    ['the service byte set to ReinitializeDevice (20)', (f) => { f.bytes[9] = 20; }],
    ['the segmented-message bit set', (f) => { f.bytes[6]! |= 0x08; }],
    ['the APDU turned into a ComplexACK', (f) => { f.bytes[6] = 0x30; }],
    ['the APDU turned into an Abort', (f) => { f.bytes[6] = 0x70; }],
    ['the NPDU turned into a network-layer message', (f) => { f.bytes[5]! |= 0x80; }],
    ['the NPDU version changed', (f) => { f.bytes[4] = 0x02; }],
    ['the BVLC function set to Write-Broadcast-Distribution-Table (0x01)', (f) => { f.bytes[1] = 0x01; }],
    ['the BVLC function set to Forwarded-NPDU (0x04)', (f) => { f.bytes[1] = 0x04; }],
    ['the BVLC function set to Delete-Foreign-Device-Table-Entry (0x08)', (f) => { f.bytes[1] = 0x08; }],
    ['the BVLC function set to Original-Broadcast (a broadcast read)', (f) => { f.bytes[1] = 0x0b; }],
    ['the BVLC type byte changed', (f) => { f.bytes[0] = 0x82; }],
    ['the BVLC length changed', (f) => { f.bytes[3] = 0x10; }],
  ];
  it.each(tampers)('refuses a ReadProperty frame with %s after encoding', (_what, tamper) => {
    const frame = readProperty();
    tamper(frame);
    expect(codeOf(() => checkOutgoing(frame))).toBe('bacnet_service_refused');
  });

  it('refuses a Who-Is turned into WriteGroup, a SimpleACK of another service, a server Segment-ACK, a BDT write', () => {
    const whoIs = encodeRequest({ pdu: 'unconfirmed', service: 8 }, { broadcast: 'local' });
    whoIs.bytes[7] = 10;
    const ack = encodeRequest({ pdu: 'simpleAck', service: 1, invokeId: 2 });
    ack.bytes[8] = 15;
    const segAck = encodeRequest({ pdu: 'segmentAck', invokeId: 5, sequence: 3, windowSize: 4, negative: false });
    segAck.bytes[6]! |= 0x01;
    const broadcastAck = encodeRequest({ pdu: 'segmentAck', invokeId: 5, sequence: 3, windowSize: 4, negative: false });
    broadcastAck.bytes[1] = 0x0b;
    const register = encodeRequest({ pdu: 'registerForeignDevice', ttlSeconds: 60 });
    register.bytes[1] = 0x01;
    for (const f of [whoIs, ack, segAck, broadcastAck, register]) expect(codeOf(() => checkOutgoing(f)), f.what).toBe('bacnet_service_refused');
  });

  it('refuses every single-byte change of a ReadProperty frame that would reach the device as another service', () => {
    for (let at = 0; at < readProperty().bytes.length; at++) {
      for (let v = 0; v <= 255; v++) {
        const f = readProperty();
        if (f.bytes[at] === v) continue;
        f.bytes[at] = v;
        let passed = true;
        try { checkOutgoing(f); } catch (err) { expect((err as BacnetError).code).toBe('bacnet_service_refused'); passed = false; }
        // What does pass is still an allowed datagram (a changed invoke id, object or property;
        // at most a SimpleACK of a COV notification), never a write.
        if (passed) expect(['confirmed', 'simpleAck', 'segmentAck'], `byte ${at} = ${v}`).toContain(kindOf(f.bytes));
      }
    }
  });
});

describe('encodeRequest argument checks', () => {
  const invalid: [string, unknown][] = [
    ['an instance above 4194303', { pdu: 'confirmed', service: 12, invokeId: 1, object: { type: 0, instance: 4194304 }, property: PRESENT_VALUE }],
    ['a negative instance', { pdu: 'confirmed', service: 12, invokeId: 1, object: { type: 0, instance: -1 }, property: PRESENT_VALUE }],
    ['an object type above 1023', { pdu: 'confirmed', service: 12, invokeId: 1, object: { type: 1024, instance: 1 }, property: PRESENT_VALUE }],
    ['a fractional instance', { pdu: 'confirmed', service: 12, invokeId: 1, object: { type: 0, instance: 1.5 }, property: PRESENT_VALUE }],
    ['no object at all', { pdu: 'confirmed', service: 12, invokeId: 1, property: PRESENT_VALUE }],
    ['a null object', { pdu: 'confirmed', service: 26, invokeId: 1, object: null, property: PRESENT_VALUE, byPosition: { index: 1, count: 1 } }],
    ['an invoke id of 256', { pdu: 'confirmed', service: 12, invokeId: 256, object: AI_5, property: PRESENT_VALUE }],
    ['an invoke id of -1', { pdu: 'confirmed', service: 12, invokeId: -1, object: AI_5, property: PRESENT_VALUE }],
    ['no invoke id', { pdu: 'confirmed', service: 12, object: AI_5, property: PRESENT_VALUE }],
    ['a property id above 4194303', { pdu: 'confirmed', service: 12, invokeId: 1, object: AI_5, property: { id: 0x400000 } }],
    ['no property', { pdu: 'confirmed', service: 12, invokeId: 1, object: AI_5 }],
    ['a negative array index', { pdu: 'confirmed', service: 12, invokeId: 1, object: AI_5, property: { id: 85, arrayIndex: -1 } }],
    ['an RPM without objects', { pdu: 'confirmed', service: 14, invokeId: 1, specs: [] }],
    ['an RPM object without properties', { pdu: 'confirmed', service: 14, invokeId: 1, specs: [{ object: AI_5, properties: [] }] }],
    ['an RPM spec that is null', { pdu: 'confirmed', service: 14, invokeId: 1, specs: [null] }],
    ['an RPM spec without its object', { pdu: 'confirmed', service: 14, invokeId: 1, specs: [{ properties: [PRESENT_VALUE] }] }],
    ['a COV process id of 2^32', { pdu: 'confirmed', service: 5, invokeId: 1, processId: 2 ** 32, object: AI_5, confirmedNotifications: true, lifetimeSeconds: 60 }],
    ['a COV lifetime of 0 (forever)', { pdu: 'confirmed', service: 5, invokeId: 1, processId: 1, object: AI_5, confirmedNotifications: true, lifetimeSeconds: 0 }],
    ['a ReadRange count of 0', { pdu: 'confirmed', service: 26, invokeId: 1, object: AI_5, property: PRESENT_VALUE, byPosition: { index: 1, count: 0 } }],
    ['a ReadRange reference index of 0', { pdu: 'confirmed', service: 26, invokeId: 1, object: AI_5, property: PRESENT_VALUE, byPosition: { index: 0, count: 5 } }],
    ['a Who-Is with low > high', { pdu: 'unconfirmed', service: 8, low: 10, high: 9 }],
    ['a Who-Is with only a low limit', { pdu: 'unconfirmed', service: 8, low: 10 }],
    ['a Who-Is limit above 4194303', { pdu: 'unconfirmed', service: 8, low: 0, high: 0x400000 }],
    ['a Segment-ACK window of 0', { pdu: 'segmentAck', invokeId: 1, sequence: 0, windowSize: 0, negative: false }],
    ['a Segment-ACK window of 128', { pdu: 'segmentAck', invokeId: 1, sequence: 0, windowSize: 128, negative: false }],
    ['a Segment-ACK sequence of 256', { pdu: 'segmentAck', invokeId: 1, sequence: 256, windowSize: 1, negative: false }],
    ['a SimpleACK invoke id of 300', { pdu: 'simpleAck', service: 1, invokeId: 300 }],
    ['a foreign-device TTL of 0', { pdu: 'registerForeignDevice', ttlSeconds: 0 }],
    ['a foreign-device TTL of 65536', { pdu: 'registerForeignDevice', ttlSeconds: 65536 }],
  ];
  it.each(invalid)('refuses %s with bacnet_request_invalid', (_what, req) => {
    expect(codeOf(() => forged(req))).toBe('bacnet_request_invalid');
  });

  it('refuses a route outside clause 6.2.2 (network 0 or 65535, a MAC of 0 or 8 bytes)', () => {
    for (const route of [{ network: 0, address: Buffer.from([1]) }, { network: 0xffff, address: Buffer.from([1]) }, { network: 5, address: Buffer.alloc(0) }, { network: 5, address: Buffer.alloc(8) }]) {
      expect(codeOf(() => encodeRequest({ pdu: 'confirmed', service: 12, invokeId: 1, object: AI_5, property: PRESENT_VALUE }, { route }))).toBe('bacnet_request_invalid');
    }
  });

  it('accepts the edges of the ranges', () => {
    expect(encodeRequest({ pdu: 'confirmed', service: 12, invokeId: 255, object: { type: 1023, instance: 4194303 }, property: { id: 0x3fffff, arrayIndex: 0 } }).bytes.subarray(6).toString('hex'))
      .toBe('0265ff0c' + '0cffffffff' + '1b3fffff' + '2900');
    expect(encodeRequest({ pdu: 'unconfirmed', service: 8, low: 0, high: 4194303 }).bytes.subarray(6).toString('hex')).toBe('1008' + '0900' + '1b3fffff');
  });
});

describe('BacnetClient read-only rule', () => {
  it('rejects WriteProperty before opening a socket: the device receives nothing', async () => {
    const device = await countingSocket();
    const createSocket = vi.spyOn(dgram, 'createSocket');
    const client = new BacnetClient({ host: '127.0.0.1', port: device.port, timeoutMs: 300, retries: 0 });
    try {
      for (const service of Object.values(CONFIRMED_WRITES)) {
        const write = { pdu: 'confirmed', service, object: AI_5, property: PRESENT_VALUE, value: 100 };
        await expect(client.confirmed(write as never)).rejects.toMatchObject({ name: 'BacnetError', code: 'bacnet_service_refused' });
      }
      expect(createSocket).not.toHaveBeenCalled();
      expect(client.sent).toEqual([]);
      // The same client does read: its ReadProperty is the first datagram the device ever sees.
      await expect(client.confirmed({ pdu: 'confirmed', service: 12, object: AI_5, property: PRESENT_VALUE })).rejects.toMatchObject({ code: 'bacnet_timeout' });
      expect(createSocket).toHaveBeenCalledTimes(1);
      await until(() => device.received.length > 0, 'the ReadProperty');
      expect(device.received).toHaveLength(1);
      expect(device.received[0]![9]).toBe(12);
      expect(client.sent).toEqual(['confirmed 12']);
    } finally {
      createSocket.mockRestore();
      await client.close();
      device.close();
    }
  });

  it('rejects a request whose service turns into WriteProperty after the first check, sending nothing', async () => {
    const device = await countingSocket();
    const client = new BacnetClient({ host: '127.0.0.1', port: device.port, timeoutMs: 300, retries: 0 });
    try {
      let reads = 0;
      const shifty = { pdu: 'confirmed', object: AI_5, property: PRESENT_VALUE, get service() { reads++; return reads === 1 ? 12 : 15; } };
      await expect(client.confirmed(shifty as never)).rejects.toMatchObject({ code: 'bacnet_service_refused' });
      expect(reads).toBeGreaterThan(1);
      expect(client.sent).toEqual([]);
      await expect(client.confirmed({ pdu: 'confirmed', service: 14, specs: [{ object: AI_5, properties: [PRESENT_VALUE] }] })).rejects.toMatchObject({ code: 'bacnet_timeout' });
      await until(() => device.received.length > 0, 'the ReadPropertyMultiple');
      expect(device.received.map((d) => d[9])).toEqual([14]);
    } finally {
      await client.close();
      device.close();
    }
  });

  it('rejects invalid arguments with bacnet_request_invalid, also before a socket exists', async () => {
    const device = await countingSocket();
    const client = new BacnetClient({ host: '127.0.0.1', port: device.port, timeoutMs: 300, retries: 0 });
    try {
      await expect(client.confirmed({ pdu: 'confirmed', service: 12, object: { type: 0, instance: 4194304 }, property: PRESENT_VALUE })).rejects.toMatchObject({ code: 'bacnet_request_invalid' });
      await expect(client.confirmed({ pdu: 'confirmed', service: 14, specs: [] })).rejects.toMatchObject({ code: 'bacnet_request_invalid' });
      await expect(client.confirmed({ pdu: 'confirmed', service: 5, processId: 1, object: AI_5, confirmedNotifications: true, lifetimeSeconds: 0 })).rejects.toMatchObject({ code: 'bacnet_request_invalid' });
      expect(client.sent).toEqual([]);
      expect(device.received).toEqual([]);
    } finally {
      await client.close();
      device.close();
    }
  });
});
