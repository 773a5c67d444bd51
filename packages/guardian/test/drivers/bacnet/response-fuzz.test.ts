/**
 * Whatever a device sends, the decoders return a value or throw `bacnet_response_invalid`, never
 * another error and never a read past the end; known-good encodings from ASHRAE 135 decode to
 * what the standard says they mean. And a hostile device on a real UDP socket — garbage,
 * truncated, wrong-service, oversized answers — leaves BacnetDriver.read resolving with every
 * point bad and explained, the process running.
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import pino from 'pino';
import { Quality, parseProfile, profileOfProtocol, systemClock, type BacnetProfile } from '@shellguard/protocol';
import { AppTag, TagReader, TagWriter, type ObjectId } from '../../../src/drivers/bacnet/asn1.ts';
import { BacnetError } from '../../../src/drivers/bacnet/errors.ts';
import { decodeFrame } from '../../../src/drivers/bacnet/frame.ts';
import {
  decodeCovNotification, decodeIAm, decodeReadPropertyAck, decodeReadPropertyMultipleAck, decodeReadRangeAck,
} from '../../../src/drivers/bacnet/services.ts';
import { BacnetClient } from '../../../src/drivers/bacnet/bacnet-client.ts';
import { BacnetDriver } from '../../../src/drivers/bacnet/bacnet-driver.ts';
import type { DriverContext, PollResult } from '../../../src/drivers/driver.ts';
import { bvlc, hex, unicast } from './frames.ts';


const complexAck = (invokeId: number, service: number, data: Buffer): Buffer => unicast(Buffer.concat([Buffer.from([0x30, invokeId, service]), data]));

// ------------------------------------------------------------------ known-good encodings

/** Clause 15.5, Annex F.3.5: ReadProperty-ACK, analog-input 5 present-value = REAL 72.3. */
const RP_ACK = hex('0C 00000005 19 55 3E 44 4290999A 3F');
/** Device 1234 object-list[2] = analog-input 1 (an array index, clause 15.5.1.3.3). */
const RP_ACK_INDEXED = hex('0C 020004D2 19 4C 29 02 3E C4 00000001 3F');
/** A value list holding a constructed value (skipped) and a Double. */
const RP_ACK_CONSTRUCTED = hex('0C 00800001 19 55 3E 0E 21 01 1E 91 00 1F 0F 55 08 4051800000000000 3F');
/** Annex F.3.7: ReadPropertyMultiple-ACK, analog-input 16 present-value 72.3 and reliability no-fault-detected; analog-input 17 unknown-object. */
const RPM_ACK = hex('0C 00000010 1E 29 55 4E 44 4290999A 4F 29 67 4E 91 00 4F 1F' + '0C 00000011 1E 29 55 5E 91 01 91 1F 5F 1F');
/** Annex F.1.2: ConfirmedCOVNotification, process 18, device 4, analog-input 10, present-value 65.0 and status-flags. */
const COV = hex('09 12 1C 02000004 2C 0000000A 39 00 4E 09 55 2E 44 42820000 2F 09 6F 2E 82 0400 2F 4F');
/** Clause 16.10.3: I-Am of device 3, max APDU 1476, segmented-both, vendor 99. */
const I_AM = hex('C4 02000003 22 05C4 91 00 21 63');
/** Clause 15.8.1.3: ReadRange-ACK of trend-log 1 log-buffer, two records (REAL and unsigned), first and last item, first sequence 7. */
const RR_ACK = hex(
  '0C 05000001 19 83 3A 05 C0 49 02 5E'
  + '0E A4 7C050F03 B4 0C1E0000 0F 1E 2C 41AC0000 1F 2A 0400'
  + '0E A4 7C050F03 B4 0C1F0000 0F 1E 39 07 1F'
  + '5F 69 07',
);

const FRAMES: Buffer[] = [
  complexAck(1, 12, RP_ACK),
  complexAck(2, 14, RPM_ACK),
  unicast(Buffer.concat([hex('3C 03 00 04 0E'), RPM_ACK.subarray(0, 9)])), // segmented ComplexACK, more follows
  unicast(hex('50 04 0C 91 01 91 1F')), // Error-PDU object/unknown-object
  unicast(hex('60 05 09')), // Reject-PDU unrecognized-service
  unicast(hex('71 06 04')), // Abort-PDU from the server
  unicast(hex('20 07 05')), // SimpleACK of SubscribeCOV
  unicast(hex('40 08 02 04')), // Segment-ACK
  unicast(Buffer.concat([hex('00 05 09 01'), COV])), // ConfirmedCOVNotification request
  unicast(Buffer.concat([hex('10 00'), I_AM])), // I-Am
  bvlc(0x00, hex('0030')), // BVLC-Result NAK of a registration
  bvlc(0x04, Buffer.concat([hex('7F000001 BAC0 0100 30 09 0C'), RP_ACK])), // Forwarded-NPDU
  bvlc(0x0a, Buffer.concat([hex('0108 0005 01 0A 30 0A 0C'), RP_ACK])), // from network 5, MAC 0A
  bvlc(0x0a, Buffer.concat([hex('0128 FFFF 00 0005 01 0A FF 30 0B 0C'), RP_ACK])), // DNET broadcast and SNET
  bvlc(0x0b, hex('0180 00 0005')), // a network-layer message
];

// ------------------------------------------------------------------ fuzzing

/** Truncated, bit-flipped, overwritten, extended and spliced versions of a good encoding. */
function mutationsOf(seed: Buffer): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.nat({ max: seed.length - 1 }).map((n) => seed.subarray(0, n)),
    fc.nat({ max: seed.length * 8 - 1 }).map((bit) => { const b = Buffer.from(seed); b[bit >> 3]! ^= 1 << (bit & 7); return b; }),
    fc.array(fc.tuple(fc.nat({ max: seed.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 })
      .map((edits) => { const b = Buffer.from(seed); for (const [at, v] of edits) b[at] = v; return b; }),
    fc.uint8Array({ minLength: 1, maxLength: 24 }).map((extra) => Buffer.concat([seed, extra])),
    fc.tuple(fc.nat({ max: seed.length }), fc.uint8Array({ minLength: 1, maxLength: 8 }))
      .map(([at, extra]) => Buffer.concat([seed.subarray(0, at), extra, seed.subarray(at)])),
    // An extended length or tag-number octet where a tag was (clause 20.2.1.2-3).
    fc.tuple(fc.nat({ max: seed.length - 1 }), fc.constantFrom(0x05, 0x0d, 0xf5, 0xfd, 0x3e, 0x3f))
      .map(([at, tag]) => Buffer.concat([seed.subarray(0, at), Buffer.from([tag, 0xfe, 0xff, 0xff]), seed.subarray(at + 1)])),
  );
}

function inputsFor(seeds: Buffer[]): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)) },
    { weight: 4, arbitrary: fc.constantFrom(...seeds).chain(mutationsOf) },
  );
}

/** The decoders' contract: a value, or a BacnetError with code bacnet_response_invalid. */
function decodesOrRefuses(decode: (b: Buffer) => unknown, b: Buffer): 'value' | 'refused' {
  try {
    decode(b);
    return 'value';
  } catch (err) {
    if (!(err instanceof BacnetError)) throw new Error(`${decode.name} threw ${String(err)} on ${b.toString('hex')}`);
    expect(err.code).toBe('bacnet_response_invalid');
    expect(err.message).toMatch(/^malformed BACnet data: /);
    return 'refused';
  }
}

const DECODERS: { name: string; decode: (b: Buffer) => unknown; seeds: Buffer[] }[] = [
  { name: 'decodeFrame', decode: decodeFrame, seeds: FRAMES },
  { name: 'decodeReadPropertyAck', decode: decodeReadPropertyAck, seeds: [RP_ACK, RP_ACK_INDEXED, RP_ACK_CONSTRUCTED] },
  { name: 'decodeReadPropertyMultipleAck', decode: decodeReadPropertyMultipleAck, seeds: [RPM_ACK] },
  { name: 'decodeReadRangeAck', decode: decodeReadRangeAck, seeds: [RR_ACK] },
  { name: 'decodeCovNotification', decode: decodeCovNotification, seeds: [COV] },
  { name: 'decodeIAm', decode: decodeIAm, seeds: [I_AM] },
];

describe.each(DECODERS)('$name on hostile bytes', ({ decode, seeds }) => {
  it('decodes every seed (so the mutations start from valid data)', () => {
    for (const s of seeds) expect(decodesOrRefuses(decode, s), s.toString('hex')).toBe('value');
  });

  it('returns a value or throws bacnet_response_invalid, for random and mutated input', () => {
    const outcomes = { value: 0, refused: 0 };
    fc.assert(fc.property(inputsFor(seeds), (b) => { outcomes[decodesOrRefuses(decode, b)]++; }), { numRuns: 5000 });
    // Both branches were exercised: the fuzzing reached past the first byte check.
    expect(outcomes.refused).toBeGreaterThan(0);
    expect(outcomes.value).toBeGreaterThan(0);
  });

  it('returns a value or refuses, for every prefix of a good encoding', () => {
    for (const s of seeds) {
      for (let n = 0; n < s.length; n++) decodesOrRefuses(decode, s.subarray(0, n));
    }
  });
});

describe('strictness', () => {
  it('refuses every truncation of single-production encodings and of every frame', () => {
    const strict: [(b: Buffer) => unknown, Buffer][] = [
      [decodeReadPropertyAck, RP_ACK], [decodeReadPropertyAck, RP_ACK_INDEXED], [decodeCovNotification, COV], [decodeIAm, I_AM],
      ...FRAMES.map((f): [(b: Buffer) => unknown, Buffer] => [decodeFrame, f]),
    ];
    for (const [decode, seed] of strict) {
      for (let n = 0; n < seed.length; n++) expect(decodesOrRefuses(decode, seed.subarray(0, n)), `${decode.name} of ${n} bytes`).toBe('refused');
    }
  });

  it('refuses trailing bytes after a complete production, and a BVLC length that is not the datagram length', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 16 }), (extra) => {
      const tail = Buffer.from(extra);
      for (const [decode, seed] of [[decodeReadPropertyAck, RP_ACK], [decodeCovNotification, COV], [decodeIAm, I_AM], [decodeReadRangeAck, RR_ACK]] as const) {
        expect(decodesOrRefuses(decode, Buffer.concat([seed, tail]))).toBe('refused');
      }
      for (const f of FRAMES) expect(decodesOrRefuses(decodeFrame, Buffer.concat([f, tail]))).toBe('refused');
    }), { numRuns: 300 });
  });

  it('refuses a value whose length runs past the end, even when the length is 2^32 - 1', () => {
    expect(() => decodeReadPropertyAck(hex('0C 00000005 19 55 3E 75 FF FFFFFFFF 00 3F'))).toThrow(/runs past the end/);
    expect(() => decodeReadPropertyAck(hex('0C 00000005 19 55 3E 75 FE FFFF 3F'))).toThrow(/runs past the end/);
    expect(() => new TagReader(hex('0D FE 01')).tag()).toThrow(BacnetError);
  });
});

// ------------------------------------------------------------------ round trips of ASHRAE 135 examples

describe('known-good encodings (ASHRAE 135)', () => {
  it('ReadProperty-ACK: analog-input 5 present-value 72.3', () => {
    const r = decodeReadPropertyAck(RP_ACK);
    expect(r.object).toEqual({ type: 0, instance: 5 });
    expect(r.property).toBe(85);
    expect(r.arrayIndex).toBeUndefined();
    expect(r.values).toHaveLength(1);
    expect(r.values![0]!.tag).toBe(AppTag.real);
    expect((r.values![0] as { value: number }).value).toBeCloseTo(72.3, 5);
    // The same, in a frame.
    const f = decodeFrame(complexAck(1, 12, RP_ACK));
    expect(f).toMatchObject({ kind: 'apdu', apdu: { type: 'complexAck', invokeId: 1, service: 12 } });
    expect(f.kind === 'apdu' && f.apdu.type === 'complexAck' && f.apdu.data.equals(RP_ACK)).toBe(true);
  });

  it('ReadProperty-ACK with an array index, and with a constructed value passed over', () => {
    expect(decodeReadPropertyAck(RP_ACK_INDEXED)).toEqual({ object: { type: 8, instance: 1234 }, property: 76, arrayIndex: 2, values: [{ tag: AppTag.objectId, value: { type: 0, instance: 1 } }] });
    expect(decodeReadPropertyAck(RP_ACK_CONSTRUCTED)).toEqual({ object: { type: 2, instance: 1 }, property: 85, values: [{ tag: AppTag.double, value: 70 }] });
  });

  it('ReadPropertyMultiple-ACK: values and a per-property error', () => {
    const [pv, reliability, missing, ...rest] = decodeReadPropertyMultipleAck(RPM_ACK);
    expect(rest).toEqual([]);
    expect(pv!.object).toEqual({ type: 0, instance: 16 });
    expect(pv!.property).toBe(85);
    expect((pv!.values![0] as { value: number }).value).toBeCloseTo(72.3, 5);
    expect(reliability).toEqual({ object: { type: 0, instance: 16 }, property: 103, values: [{ tag: AppTag.enumerated, value: 0 }] });
    expect(missing).toEqual({ object: { type: 0, instance: 17 }, property: 85, error: { errorClass: 1, errorCode: 31 } });
  });

  it('ConfirmedCOVNotification (Annex F.1.2)', () => {
    expect(decodeCovNotification(COV)).toEqual({
      processId: 18, device: { type: 8, instance: 4 }, object: { type: 0, instance: 10 }, timeRemaining: 0,
      values: [
        { property: 85, values: [{ tag: AppTag.real, value: 65 }] },
        { property: 111, values: [{ tag: AppTag.bitString, bits: [false, false, false, false] }] },
      ],
    });
  });

  it('I-Am', () => {
    expect(decodeIAm(I_AM)).toEqual({ deviceInstance: 3, maxApdu: 1476, segmentation: 'both', vendorId: 99 });
    // The first value must be a device's object id.
    expect(() => decodeIAm(hex('C4 00000003 22 05C4 91 00 21 63'))).toThrow(BacnetError);
    expect(() => decodeIAm(hex('C4 02000003 22 05C4 91 04 21 63'))).toThrow(/segmentation/);
  });

  it('ReadRange-ACK: timestamps as UTC, REAL and unsigned data, result flags', () => {
    expect(decodeReadRangeAck(RR_ACK)).toEqual({
      object: { type: 20, instance: 1 }, property: 131, firstItem: true, lastItem: true, moreItems: false,
      records: [{ ts: Date.UTC(2024, 4, 15, 12, 30, 0), value: 21.5 }, { ts: Date.UTC(2024, 4, 15, 12, 31, 0), value: 7 }],
    });
    // itemCount that does not match the records.
    expect(() => decodeReadRangeAck(Buffer.concat([RR_ACK.subarray(0, 11), hex('03'), RR_ACK.subarray(12)]))).toThrow(/says 3 items but holds 2/);
  });

  it('Error, Reject, Abort, BVLC-Result and routed frames', () => {
    expect(decodeFrame(unicast(hex('50 04 0C 91 01 91 1F')))).toEqual({ kind: 'apdu', apdu: { type: 'error', invokeId: 4, service: 12, errorClass: 1, errorCode: 31 } });
    expect(decodeFrame(unicast(hex('60 05 09')))).toEqual({ kind: 'apdu', apdu: { type: 'reject', invokeId: 5, reason: 9 } });
    expect(decodeFrame(unicast(hex('71 06 04')))).toEqual({ kind: 'apdu', apdu: { type: 'abort', invokeId: 6, reason: 4, fromServer: true } });
    expect(decodeFrame(bvlc(0x00, hex('0030')))).toEqual({ kind: 'bvlcResult', code: 0x30 });
    expect(decodeFrame(FRAMES[11]!)).toMatchObject({ kind: 'apdu', forwardedFrom: { host: '127.0.0.1', port: 47808 }, apdu: { invokeId: 9 } });
    const routed = decodeFrame(FRAMES[12]!);
    expect(routed.kind === 'apdu' && routed.source).toEqual({ network: 5, address: Buffer.from([0x0a]) });
    expect(decodeFrame(FRAMES[13]!)).toMatchObject({ kind: 'apdu', source: { network: 5 }, apdu: { invokeId: 11 } });
    expect(decodeFrame(FRAMES[14]!)).toEqual({ kind: 'ignored', reason: 'network-layer message' });
    expect(decodeFrame(bvlc(0x03, hex('0000')))).toEqual({ kind: 'ignored', reason: 'BVLC function 3' });
  });
});

// ------------------------------------------------------------------ a hostile device, driver level

const AHU = profileOfProtocol(parseProfile(readFileSync(new URL('../../../../protocol/profiles/ahu-bacnet.yaml', import.meta.url), 'utf8'), 'ahu-bacnet.yaml'), 'bacnet');

interface Request { invokeId: number; service: number; data: Buffer }
/** What the device sends back: given the request and the right answer, a datagram or silence. */
type Answer = (req: Request, right: Buffer) => Buffer | undefined;

const REAL_21_5 = hex('44 41AC0000');
/** A plausible value of a property: REALs for analog objects, active for binary, state 2 for multi-state. */
function valueOf(object: ObjectId, property: number): Buffer {
  if (property === 111) return hex('82 0400'); // status-flags, all clear
  if (object.type <= 2) return REAL_21_5;
  if (object.type <= 5) return hex('91 01');
  return hex('21 02');
}

/** The correct ReadPropertyMultiple-ACK of a request (clause 15.7.1.3), read with TagReader. */
function rpmAckOf(data: Buffer, value = valueOf): Buffer {
  const r = new TagReader(data);
  const parts: Buffer[] = [];
  while (!r.done) {
    const object = r.contextObjectId(0);
    r.expectOpening(1);
    parts.push(new TagWriter().contextObjectId(0, object).opening(1).toBuffer());
    while (!r.isClosing(1)) {
      const property = r.contextUnsigned(0);
      parts.push(new TagWriter().contextEnumerated(2, property).opening(4).toBuffer(), value(object, property), new TagWriter().closing(4).toBuffer());
    }
    r.expectClosing(1);
    parts.push(new TagWriter().closing(1).toBuffer());
  }
  return Buffer.concat(parts);
}

function rightAnswer(req: Request): Buffer {
  if (req.service === 14) return complexAck(req.invokeId, 14, rpmAckOf(req.data));
  if (req.service === 12) {
    const r = new TagReader(req.data);
    const object = r.contextObjectId(0);
    const property = r.contextUnsigned(1);
    return complexAck(req.invokeId, 12, Buffer.concat([new TagWriter().contextObjectId(0, object).contextEnumerated(1, property).opening(3).toBuffer(), valueOf(object, property), hex('3F')]));
  }
  return unicast(Buffer.from([0x20, req.invokeId, req.service])); // SimpleACK (SubscribeCOV)
}

/** Rewrites the BVLC length so a shortened or lengthened datagram is still a well-formed frame. */
function withLength(b: Buffer): Buffer {
  const out = Buffer.from(b);
  if (out.length >= 4) out.writeUInt16BE(out.length & 0xffff, 2);
  return out;
}

const sockets: dgram.Socket[] = [];
afterEach(() => { for (const s of sockets.splice(0)) s.close(); });

async function hostileDevice(answer: () => Answer): Promise<{ port: number; requests: Request[] }> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  const requests: Request[] = [];
  s.on('message', (msg, rinfo) => {
    if (msg.length < 10 || msg[6]! >> 4 !== 0) return; // only confirmed requests are answered
    const req = { invokeId: msg[8]!, service: msg[9]!, data: Buffer.from(msg.subarray(10)) };
    requests.push(req);
    const out = answer()(req, rightAnswer(req));
    if (out) s.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { port: s.address().port, requests };
}

function context(port: number, profile: BacnetProfile, timeoutMs: number): DriverContext<BacnetProfile> {
  return {
    equipment: {
      asset: 'AHU-B1', name: 'AHU B1', area: 'hall-1', profile: profile.id, host: '127.0.0.1', port, unitId: 1,
      pollIntervalMs: 1000, fastPollIntervalMs: 0, timeoutMs, bacnet: { deviceInstance: 1001, covLifetimeSeconds: 300 },
    },
    profile, clock: systemClock, logger: pino({ level: 'silent' }), onSamples: () => undefined, services: {},
  };
}

async function readOnce(port: number, profile: BacnetProfile, timeoutMs = 300): Promise<PollResult> {
  const client = new BacnetClient({ host: '127.0.0.1', port, timeoutMs, retries: 0 });
  const driver = new BacnetDriver(context(port, profile, timeoutMs), { client, retries: 0 });
  try {
    return await driver.read('all');
  } finally {
    await driver.close();
  }
}

/**
 * Every point is a sample; a bad one is null and named by an error with a bacnet code (an
 * uncertain one, out-of-service on the device, keeps its value).
 */
function expectExplained(result: PollResult, profile: BacnetProfile): void {
  expect(result.samples.map((s) => s.point)).toEqual(profile.points.map((p) => p.name));
  const explained = new Set(result.errors.flatMap((e) => e.points));
  for (const s of result.samples) {
    if (s.quality !== Quality.bad) continue;
    expect(s.value, s.point).toBeNull();
    expect(explained.has(s.point), s.point).toBe(true);
  }
  for (const e of result.errors) expect(e.error.code).toMatch(/^bacnet_[a-z_]+$/);
}

function expectAllBad(result: PollResult, codes: string[]): void {
  expectExplained(result, AHU);
  expect(result.samples.every((s) => s.quality === Quality.bad && s.value === null)).toBe(true);
  expect([...new Set(result.errors.map((e) => e.error.code))].sort()).toEqual([...codes].sort());
}

const junkTail = (b: Buffer, n: number): Buffer => withLength(Buffer.concat([b, Buffer.alloc(n, 0x00)]));
/**
 * 1500 results for analog-input 999, which no point reads: a 24 kB answer (16 times the 1476-octet
 * maximum the request announced) that decodes. Small enough that two fit the client's receive buffer.
 */
const irrelevantAnswer: Answer = (req, right) => (req.service === 14 ? complexAck(req.invokeId, 14, Buffer.concat(Array.from({ length: 1500 }, () => hex('0C 000003E7 1E 29 55 4E 44 41AC0000 4F 1F')))) : right);

describe('BacnetDriver against a hostile device', () => {
  it('reads every point good from the same device when it answers correctly (the control)', async () => {
    const device = await hostileDevice(() => (_req, right) => right);
    const result = await readOnce(device.port, AHU);
    expect(result.errors).toEqual([]);
    const values = Object.fromEntries(result.samples.map((s) => [s.point, s.value]));
    expect(values.supply_air_temp).toBe(21.5);
    expect(values.fan_running).toBe(true);
    expect(values.mode).toBe(2);
    expect(result.samples.every((s) => s.quality === Quality.good)).toBe(true);
    // 17 objects: 16 per ReadPropertyMultiple, so two; and SubscribeCOV for the two cov points.
    expect(device.requests.filter((r) => r.service === 14)).toHaveLength(2);
    expect(device.requests.filter((r) => r.service === 5).length).toBeGreaterThanOrEqual(2);
  });

  const cases: [string, Answer, string[]][] = [
    ['not BACnet at all', () => Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'), ['bacnet_timeout']],
    ['a datagram of 60000 0xFF bytes', () => Buffer.alloc(60000, 0xff), ['bacnet_timeout']],
    ['a truncated datagram (BVLC length left as it was)', (_r, right) => right.subarray(0, right.length - 5), ['bacnet_timeout']],
    ['a truncated answer (BVLC length fixed up)', (_r, right) => withLength(right.subarray(0, right.length - 3)), ['bacnet_response_invalid']],
    ['a ReadProperty-ACK to a ReadPropertyMultiple (wrong service)', (req, right) => complexAck(req.invokeId, req.service === 14 ? 12 : 14, right.subarray(9)), ['bacnet_response_invalid']],
    ['the right answer followed by 9000 bytes of junk', (_r, right) => junkTail(right, 9000), ['bacnet_response_invalid']],
    ['a 24 kB answer about another object', irrelevantAnswer, ['bacnet_response_invalid']],
    ['the right answer to another invoke id', (req, right) => { const b = Buffer.from(right); b[7] = (req.invokeId + 128) & 0xff; return b; }, ['bacnet_timeout']],
    ['an Abort-PDU', (req) => unicast(Buffer.from([0x71, req.invokeId, 9])), ['bacnet_abort']],
    ['a Reject-PDU (invalid-tag)', (req) => unicast(Buffer.from([0x60, req.invokeId, 4])), ['bacnet_reject']],
    ['a character string where numbers belong', (req, right) => (req.service === 14 ? complexAck(req.invokeId, 14, rpmAckOf(req.data, () => hex('73 00 6F6B'))) : right), ['bacnet_response_invalid']],
    ['status-flags saying fault', (req, right) => (req.service === 14 ? complexAck(req.invokeId, 14, rpmAckOf(req.data, (o, p) => (p === 111 ? hex('82 0440') : valueOf(o, p)))) : right), ['bacnet_point_fault']],
  ];
  it.each(cases)('resolves with every point bad when it sends %s', async (_what, answer, codes) => {
    const device = await hostileDevice(() => answer);
    const result = await readOnce(device.port, AHU);
    expectAllBad(result, codes);
  });

  it('falls back to ReadProperty when RPM is refused, and marks each point bad by the device\'s error', async () => {
    // Error class services (5) to RPM: unsupported; object/unknown-object to each ReadProperty.
    const device = await hostileDevice(() => (req) => unicast(Buffer.from([0x50, req.invokeId, req.service, 0x91, req.service === 14 ? 5 : 1, 0x91, req.service === 14 ? 29 : 31])));
    const result = await readOnce(device.port, AHU);
    expectAllBad(result, ['bacnet_error']);
    expect(result.errors[0]!.error.message).toMatch(/object\/unknown-object/);
    expect(device.requests.filter((r) => r.service === 12)).toHaveLength(AHU.points.length);
  });

  it('never throws on fuzzed answers: each point is a sample, and each bad one is explained', async () => {
    // Without COV points, so every run is one read and a quick close.
    const polled: BacnetProfile = { ...AHU, points: AHU.points.map((p) => ({ ...p, cov: false })) };
    let answer: Answer = (_r, right) => right;
    const device = await hostileDevice(() => answer);
    const answers = fc.oneof(
      fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, v]): Answer => (_r, right) => { const b = Buffer.from(right); b[6 + (at % (right.length - 6))] = v; return b; }),
      fc.nat().map((n): Answer => (_r, right) => withLength(right.subarray(0, 9 + (n % Math.max(1, right.length - 9))))),
      fc.uint8Array({ maxLength: 120 }).map((data): Answer => (req) => complexAck(req.invokeId, req.service, Buffer.from(data))),
      fc.uint8Array({ maxLength: 60 }).map((bytes): Answer => () => Buffer.from(bytes)),
    );
    let bad = 0;
    await fc.assert(fc.asyncProperty(answers, async (a) => {
      answer = a;
      const result = await readOnce(device.port, polled, 150);
      expectExplained(result, polled);
      bad += result.samples.filter((s) => s.quality === Quality.bad).length;
    }), { numRuns: 60 });
    expect(bad).toBeGreaterThan(0);
  });
});
