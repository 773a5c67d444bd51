/**
 * BacnetClient against raw UDP "devices" on loopback: segmented ComplexACKs reassembled with the
 * Segment-ACKs clause 5.4 asks of a client, foreign-device registration with a BBMD (Annex J.5),
 * Error/Reject/Abort mapped to their codes, timeouts and retries (clause 5.3), answers from the
 * wrong port ignored, and COV notifications acknowledged.
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { TagWriter } from '../../../src/drivers/bacnet/asn1.ts';
import { BacnetClient, type BacnetClientOptions, type ConfirmedRequest } from '../../../src/drivers/bacnet/bacnet-client.ts';
import { MAX_SEGMENTS } from '../../../src/drivers/bacnet/frame.ts';
import { decodeReadPropertyMultipleAck, type CovNotification } from '../../../src/drivers/bacnet/services.ts';
import { bvlc, hex, unicast } from './frames.ts';


const RP_ACK_72_3 = hex('0C 00000005 19 55 3E 44 4290999A 3F');

interface Device {
  port: number;
  /** Every datagram received, in order. */
  received: Buffer[];
  send(b: Buffer, to?: { port: number; address: string }): void;
  /** Where the client's datagrams come from. */
  client(): { port: number; address: string };
}

const sockets: dgram.Socket[] = [];
const clients: BacnetClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const s of sockets.splice(0)) s.close();
});

/** A UDP socket on 127.0.0.1 that records what it receives and lets `onMessage` answer. */
async function device(onMessage: (msg: Buffer, d: Device) => void = () => undefined): Promise<Device> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  let peer: { port: number; address: string } | undefined;
  const d: Device = {
    port: 0,
    received: [],
    send: (b, to) => { const t = to ?? peer!; s.send(b, t.port, t.address); },
    client: () => peer!,
  };
  s.on('message', (msg, rinfo) => { peer = { port: rinfo.port, address: rinfo.address }; d.received.push(msg); onMessage(msg, d); });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  d.port = s.address().port;
  return d;
}

function clientFor(port: number, o: Partial<BacnetClientOptions> = {}): BacnetClient {
  const c = new BacnetClient({ host: '127.0.0.1', port, timeoutMs: 2000, retries: 0, ...o });
  clients.push(c);
  return c;
}

/** Waits (as a safety net, not a timing assertion) for a datagram the client has sent to be processed. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

const isConfirmed = (m: Buffer): boolean => m.length >= 10 && m[1] === 0x0a && m[6]! >> 4 === 0;
const invokeOf = (m: Buffer): number => m[8]!;

const AI_5 = { type: 0, instance: 5 };
const readProperty: ConfirmedRequest = { pdu: 'confirmed', service: 12, object: AI_5, property: { id: 85 } };
const readMultiple: ConfirmedRequest = { pdu: 'confirmed', service: 14, specs: [{ object: AI_5, properties: [{ id: 85 }] }] };

// ------------------------------------------------------------------ segmentation

/** A ReadPropertyMultiple-ACK of `n` analog inputs, present-value REAL i + 0.5: big enough to need segments. */
function rpmAck(n: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 1; i <= n; i++) {
    const value = Buffer.alloc(5);
    value[0] = 0x44;
    value.writeFloatBE(i + 0.5, 1);
    parts.push(new TagWriter().contextObjectId(0, { type: 0, instance: i }).opening(1).contextEnumerated(2, 85).opening(4).toBuffer(), value, hex('4F 1F'));
  }
  return Buffer.concat(parts);
}

interface SegmentAck { sequence: number; window: number; negative: boolean; server: boolean }

/**
 * The responding side of clause 5.4.5, as BACnet stacks implement it: segment 0 alone, then
 * windows of the size the client's Segment-ACK gives, each started after the acknowledged
 * sequence number; an ACK outside the current window is a duplicate and ignored. `shuffle` may
 * reorder or repeat the segments of one window (round 1 is the first window after segment 0).
 */
async function segmentingDevice(payload: Buffer, o: { segmentSize: number; proposedWindow: number; firstSequence?: number; shuffle?: (indexes: number[], round: number) => number[] }): Promise<Device & { acks: SegmentAck[]; segmentsSent: number[] }> {
  const chunks: Buffer[] = [];
  for (let at = 0; at < payload.length; at += o.segmentSize) chunks.push(payload.subarray(at, at + o.segmentSize));
  const last = chunks.length - 1;
  const acks: SegmentAck[] = [];
  const segmentsSent: number[] = [];
  let invokeId = -1;
  let initial = 0;
  let window = 1;
  let round = 0;
  let complete = false;
  const segment = (i: number): Buffer => unicast(Buffer.concat([Buffer.from([0x38 | (i < last ? 0x04 : 0), invokeId, (i + (o.firstSequence ?? 0)) & 0xff, o.proposedWindow, 14]), chunks[i]!]));
  const fill = (d: Device, from: number): void => {
    const indexes: number[] = [];
    for (let i = from; i <= Math.min(from + window - 1, last); i++) indexes.push(i);
    for (const i of o.shuffle ? o.shuffle(indexes, round) : indexes) { segmentsSent.push(i); d.send(segment(i)); }
    round++;
  };
  const d = await device((m, dev) => {
    if (isConfirmed(m)) {
      invokeId = invokeOf(m);
      fill(dev, 0);
    } else if (m[6]! >> 4 === 4 && m[7] === invokeId) {
      const ack = { sequence: m[8]!, window: m[9]!, negative: (m[6]! & 0x02) !== 0, server: (m[6]! & 0x01) !== 0 };
      acks.push(ack);
      if (complete || ((ack.sequence - initial + 256) & 0xff) >= window) return; // a duplicate ACK
      if (ack.sequence === last) { complete = true; return; }
      initial = ack.sequence + 1;
      window = ack.window;
      fill(dev, initial);
    }
  });
  return Object.assign(d, { acks, segmentsSent });
}

describe('BacnetClient: segmented ComplexACK (clause 5.4)', () => {
  it('reassembles 10 segments with a window of 3: ACKs segment 0, then the last of each window and the final one', async () => {
    const payload = rpmAck(20);
    const dev = await segmentingDevice(payload, { segmentSize: Math.ceil(payload.length / 10), proposedWindow: 3 });
    const client = clientFor(dev.port);
    const data = await client.confirmed(readMultiple);
    expect(data.equals(payload)).toBe(true);
    await until(() => dev.acks.length >= 4, 'the final Segment-ACK');
    const results = decodeReadPropertyMultipleAck(data);
    expect(results).toHaveLength(20);
    expect(results.map((r) => (r.values![0] as { value: number }).value)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1.5));
    // 5.4.4.3: segment 0 is acknowledged at once; 5.4.4.4: then each window's last, and the final segment.
    expect(dev.acks).toEqual([0, 3, 6, 9].map((sequence) => ({ sequence, window: 3, negative: false, server: false })));
    expect(dev.segmentsSent).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(client.sent).toEqual(['confirmed 14', 'segmentAck', 'segmentAck', 'segmentAck', 'segmentAck']);
  });

  it('ACKs every segment with a window of 1, and only the first and last when the window holds the rest', async () => {
    const payload = rpmAck(12);
    const one = await segmentingDevice(payload, { segmentSize: Math.ceil(payload.length / 6), proposedWindow: 1 });
    expect((await clientFor(one.port).confirmed(readMultiple)).equals(payload)).toBe(true);
    await until(() => one.acks.length >= 6, 'the final Segment-ACK');
    expect(one.acks.map((a) => a.sequence)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(one.acks.every((a) => a.window === 1 && !a.negative)).toBe(true);

    const wide = await segmentingDevice(payload, { segmentSize: Math.ceil(payload.length / 6), proposedWindow: 127 });
    expect((await clientFor(wide.port).confirmed(readMultiple)).equals(payload)).toBe(true);
    await until(() => wide.acks.length >= 2, 'the final Segment-ACK');
    expect(wide.acks.map((a) => [a.sequence, a.window])).toEqual([[0, 127], [5, 127]]);
  });

  it('sends a negative Segment-ACK for a segment out of order and still completes', async () => {
    const payload = rpmAck(20);
    const dev = await segmentingDevice(payload, { segmentSize: Math.ceil(payload.length / 10), proposedWindow: 3, shuffle: (ix, round) => (round === 1 ? [ix[0]!, ix[2]!, ix[1]!] : ix) });
    const data = await clientFor(dev.port).confirmed(readMultiple);
    expect(data.equals(payload)).toBe(true);
    // Segments 1, 3, 2: segment 3 finds a gap after 1.
    await until(() => dev.acks.at(-1)?.sequence === 9, 'the final Segment-ACK');
    expect(dev.segmentsSent.slice(0, 4)).toEqual([0, 1, 3, 2]);
    expect(dev.acks[1]).toEqual({ sequence: 1, window: 3, negative: true, server: false });
    expect(dev.acks.at(-1)).toEqual({ sequence: 9, window: 3, negative: false, server: false });
  });

  it('re-acknowledges a duplicate segment (positively) and still completes', async () => {
    const payload = rpmAck(20);
    const dev = await segmentingDevice(payload, { segmentSize: Math.ceil(payload.length / 10), proposedWindow: 3, shuffle: (ix, round) => (round === 1 ? [ix[0]!, ix[1]!, ix[1]!, ix[2]!] : ix) });
    const data = await clientFor(dev.port).confirmed(readMultiple);
    expect(data.equals(payload)).toBe(true);
    await until(() => dev.acks.at(-1)?.sequence === 9, 'the final Segment-ACK');
    expect(dev.segmentsSent.slice(0, 5)).toEqual([0, 1, 2, 2, 3]);
    // After 0 (acked), 1, 2: the second 2 is answered with "I have up to 2".
    expect(dev.acks[1]).toEqual({ sequence: 2, window: 3, negative: false, server: false });
    expect(dev.acks.every((a) => !a.negative)).toBe(true);
  });

  it('refuses an answer that does not start at sequence 0 with a negative Segment-ACK, then times out', async () => {
    const payload = rpmAck(10);
    const dev = await segmentingDevice(payload, { segmentSize: 40, proposedWindow: 4, firstSequence: 1 });
    await expect(clientFor(dev.port, { timeoutMs: 300 }).confirmed(readMultiple)).rejects.toMatchObject({ code: 'bacnet_timeout' });
    expect(dev.acks).toEqual([{ sequence: 255, window: 4, negative: true, server: false }]);
  });

  it(`fails with bacnet_segmentation_failed past ${MAX_SEGMENTS} segments`, async () => {
    const payload = Buffer.alloc((MAX_SEGMENTS + 1) * 8, 0x21);
    const dev = await segmentingDevice(payload, { segmentSize: 8, proposedWindow: 16 });
    await expect(clientFor(dev.port).confirmed(readMultiple)).rejects.toMatchObject({ code: 'bacnet_segmentation_failed', message: expect.stringMatching(/more than 64 segments/) as unknown });
    expect(dev.segmentsSent).toContain(MAX_SEGMENTS); // the 65th segment was sent
    expect(dev.acks.map((a) => a.sequence)).toEqual([0, 16, 32, 48]);
  });

  it('accepts exactly MAX_SEGMENTS segments', async () => {
    const payload = Buffer.alloc(MAX_SEGMENTS * 8, 0x21);
    const dev = await segmentingDevice(payload, { segmentSize: 8, proposedWindow: 16 });
    expect((await clientFor(dev.port).confirmed(readMultiple)).equals(payload)).toBe(true);
    await until(() => dev.acks.length >= 5, 'the final Segment-ACK');
    expect(dev.acks.map((a) => a.sequence)).toEqual([0, 16, 32, 48, 63]);
  });

  it('fails with bacnet_segmentation_failed past 64 x 1476 bytes, even in fewer segments', async () => {
    const payload = Buffer.alloc(50 * 2000, 0x21);
    const dev = await segmentingDevice(payload, { segmentSize: 2000, proposedWindow: 8 });
    await expect(clientFor(dev.port).confirmed(readMultiple)).rejects.toMatchObject({ code: 'bacnet_segmentation_failed' });
    expect(Math.max(...dev.segmentsSent)).toBeLessThan(49);
  });
});

// ------------------------------------------------------------------ foreign-device registration

describe('BacnetClient: foreign-device registration (Annex J.5.2)', () => {
  /** A BBMD that answers Register-Foreign-Device with `result` (or not at all). */
  async function bbmd(result: number | undefined, log: string[]): Promise<Device> {
    return device((m, d) => {
      if (m[1] !== 0x05) return;
      log.push('register');
      if (result !== undefined) d.send(bvlc(0x00, Buffer.from([result >> 8, result & 0xff])));
    });
  }
  const answering = (log: string[]): Promise<Device> => device((m, d) => {
    if (!isConfirmed(m)) return;
    log.push(`request ${m[9]}`);
    d.send(unicast(Buffer.concat([Buffer.from([0x30, invokeOf(m), 12]), RP_ACK_72_3])));
  });

  it('registers with the BBMD first, then reads (BVLC-Result 0x0000)', async () => {
    const log: string[] = [];
    const b = await bbmd(0x0000, log);
    const dev = await answering(log);
    const client = clientFor(dev.port, { foreignDevice: { host: '127.0.0.1', port: b.port, ttlSeconds: 60 } });
    expect((await client.confirmed(readProperty)).equals(RP_ACK_72_3)).toBe(true);
    expect(log).toEqual(['register', 'request 12']);
    // Register-Foreign-Device with a TTL of 60 s, from the socket the request then used.
    expect(b.received[0]!.toString('hex')).toBe('81050006003c');
    expect(b.client().port).toBe(dev.client().port);
    expect(client.sent).toEqual(['registerForeignDevice', 'confirmed 12']);
  });

  it('registers once when several requests start together', async () => {
    const log: string[] = [];
    const b = await bbmd(0x0000, log);
    const dev = await answering(log);
    const client = clientFor(dev.port, { foreignDevice: { host: '127.0.0.1', port: b.port, ttlSeconds: 60 } });
    const answers = await Promise.all([client.confirmed(readProperty), client.confirmed(readProperty), client.confirmed(readProperty)]);
    expect(answers.every((a) => a.equals(RP_ACK_72_3))).toBe(true);
    expect(log).toEqual(['register', 'request 12', 'request 12', 'request 12']);
    expect(b.received).toHaveLength(1);
  });

  it('takes the answer relayed by the BBMD as a Forwarded-NPDU from the device', async () => {
    const b = await bbmd(0x0000, []);
    const dev = await device((m) => {
      if (!isConfirmed(m)) return;
      // J.4.5: the BBMD forwards with the originating device's B/IP address.
      const origin = Buffer.from([127, 0, 0, 1, 0, 0]);
      origin.writeUInt16BE(dev.port, 4);
      b.send(bvlc(0x04, Buffer.concat([origin, hex('0100'), Buffer.from([0x30, invokeOf(m), 12]), RP_ACK_72_3])));
    });
    const client = clientFor(dev.port, { foreignDevice: { host: '127.0.0.1', port: b.port, ttlSeconds: 60 } });
    expect((await client.confirmed(readProperty)).equals(RP_ACK_72_3)).toBe(true);
  });

  it('ignores a Forwarded-NPDU that did not come from our BBMD, whatever origin it claims', async () => {
    const b = await bbmd(0x0000, []);
    const forger = await device();
    const dev = await device((m) => {
      if (!isConfirmed(m)) return;
      const origin = Buffer.from([127, 0, 0, 1, 0, 0]);
      origin.writeUInt16BE(dev.port, 4);
      // Sent from the forger's socket, claiming to relay the device: must not be taken.
      forger.send(bvlc(0x04, Buffer.concat([origin, hex('0100'), Buffer.from([0x30, invokeOf(m), 12]), RP_ACK_72_3])), dev.client());
    });
    const client = clientFor(dev.port, { timeoutMs: 300, retries: 0, foreignDevice: { host: '127.0.0.1', port: b.port, ttlSeconds: 60 } });
    await expect(client.confirmed(readProperty)).rejects.toMatchObject({ code: 'bacnet_timeout' });
    // The same forgery to a client with no BBMD at all.
    const plain = clientFor(dev.port, { timeoutMs: 300, retries: 0 });
    await expect(plain.confirmed(readProperty)).rejects.toMatchObject({ code: 'bacnet_timeout' });
  });

  it('refuses an unsegmented answer longer than the 1476 octets it announced', async () => {
    const big = Buffer.concat([hex('0C00000005 1955 3E'), Buffer.alloc(1500, 0x21), hex('3F')]);
    const dev = await device((m, d) => { if (isConfirmed(m)) d.send(bvlc(0x0a, Buffer.concat([hex('0100'), Buffer.from([0x30, invokeOf(m), 12]), big]))); });
    await expect(clientFor(dev.port, { retries: 0 }).confirmed(readProperty)).rejects.toMatchObject({ code: 'bacnet_response_invalid', message: expect.stringMatching(/more than the 1476/) as unknown });
  });

  it('fails with bacnet_registration_refused on a NAK (BVLC-Result 0x0030), sending the device nothing', async () => {
    const log: string[] = [];
    const b = await bbmd(0x0030, log);
    const dev = await answering(log);
    const client = clientFor(dev.port, { foreignDevice: { host: '127.0.0.1', port: b.port, ttlSeconds: 60 } });
    await expect(client.confirmed(readProperty)).rejects.toMatchObject({ code: 'bacnet_registration_refused', message: expect.stringMatching(/0x0030/) as unknown });
    expect(dev.received).toEqual([]);
  });

  it('fails with bacnet_registration_failed when the BBMD is silent, or its answer comes from another port', async () => {
    const log: string[] = [];
    const silent = await bbmd(undefined, log);
    const dev = await answering(log);
    await expect(clientFor(dev.port, { timeoutMs: 300, foreignDevice: { host: '127.0.0.1', port: silent.port, ttlSeconds: 60 } }).confirmed(readProperty))
      .rejects.toMatchObject({ code: 'bacnet_registration_failed' });
    const impostor = await device();
    const elsewhere = await device((m) => { if (m[1] === 0x05) impostor.send(bvlc(0x00, hex('0000')), elsewhere.client()); });
    await expect(clientFor(dev.port, { timeoutMs: 300, foreignDevice: { host: '127.0.0.1', port: elsewhere.port, ttlSeconds: 60 } }).confirmed(readProperty))
      .rejects.toMatchObject({ code: 'bacnet_registration_failed' });
    expect(elsewhere.received).toHaveLength(1);
    expect(dev.received).toEqual([]);
  });
});

// ------------------------------------------------------------------ errors, timeouts, sources

describe('BacnetClient: Error, Reject and Abort PDUs', () => {
  const answers: [string, (invokeId: number) => Buffer, Record<string, unknown>][] = [
    ['an Error-PDU (object/unknown-object)', (id) => unicast(Buffer.from([0x50, id, 12, 0x91, 0x01, 0x91, 0x1f])), { code: 'bacnet_error', details: { errorClass: 1, errorCode: 31 }, message: expect.stringMatching(/object\/unknown-object/) }],
    ['a Reject-PDU (unrecognized-service)', (id) => unicast(Buffer.from([0x60, id, 9])), { code: 'bacnet_reject', details: { reason: 9 }, message: expect.stringMatching(/unrecognized-service/) }],
    ['an Abort-PDU (segmentation-not-supported)', (id) => unicast(Buffer.from([0x71, id, 4])), { code: 'bacnet_abort', details: { reason: 4 }, message: expect.stringMatching(/segmentation-not-supported/) }],
    ['a ComplexACK of another service', (id) => unicast(Buffer.concat([Buffer.from([0x30, id, 14]), RP_ACK_72_3])), { code: 'bacnet_response_invalid' }],
  ];
  it.each(answers)('maps %s to its code', async (_what, answer, expected) => {
    const dev = await device((m, d) => { if (isConfirmed(m)) d.send(answer(invokeOf(m))); });
    await expect(clientFor(dev.port).confirmed(readProperty)).rejects.toMatchObject(expected);
    expect(dev.received).toHaveLength(1); // not retried: the device answered
  });
});

describe('BacnetClient: timeouts and retries (clause 5.3)', () => {
  it.each([0, 1, 3])('with %i retries sends N + 1 requests, then fails with bacnet_timeout', async (retries) => {
    const dev = await device();
    await expect(clientFor(dev.port, { timeoutMs: 100, retries }).confirmed(readProperty)).rejects.toMatchObject({ code: 'bacnet_timeout' });
    expect(dev.received).toHaveLength(retries + 1);
    expect(dev.received.every((m) => m[9] === 12)).toBe(true);
    // Each attempt is a new transaction, with its own invoke id.
    expect(new Set(dev.received.map(invokeOf)).size).toBe(retries + 1);
  });

  it('succeeds on a retry when the first request is lost', async () => {
    const dev = await device((m, d) => { if (isConfirmed(m) && d.received.length === 2) d.send(unicast(Buffer.concat([Buffer.from([0x30, invokeOf(m), 12]), RP_ACK_72_3]))); });
    expect((await clientFor(dev.port, { timeoutMs: 150, retries: 2 }).confirmed(readProperty)).equals(RP_ACK_72_3)).toBe(true);
    expect(dev.received).toHaveLength(2);
  });

  it('ignores an answer from another port (and a late one for a finished transaction), taking the device\'s own', async () => {
    const other = await device();
    const wrongValue = hex('0C 00000005 19 55 3E 44 3F800000 3F');
    const dev = await device((m, d) => {
      if (!isConfirmed(m)) return;
      // The impostor's answer arrives first: the client must not take it.
      other.send(unicast(Buffer.concat([Buffer.from([0x30, invokeOf(m), 12]), wrongValue])), d.client());
      setTimeout(() => d.send(unicast(Buffer.concat([Buffer.from([0x30, invokeOf(m), 12]), RP_ACK_72_3]))), 20);
    });
    expect((await clientFor(dev.port).confirmed(readProperty)).equals(RP_ACK_72_3)).toBe(true);

    const onlyOther = await device((m, d) => { if (isConfirmed(m)) other.send(unicast(Buffer.concat([Buffer.from([0x30, invokeOf(m), 12]), RP_ACK_72_3])), d.client()); });
    await expect(clientFor(onlyOther.port, { timeoutMs: 200 }).confirmed(readProperty)).rejects.toMatchObject({ code: 'bacnet_timeout' });
  });

  it('ignores an answer carrying a source network address when the device is not routed', async () => {
    const dev = await device((m, d) => { if (isConfirmed(m)) d.send(bvlc(0x0a, Buffer.concat([hex('0108 0005 01 0A'), Buffer.from([0x30, invokeOf(m), 12]), RP_ACK_72_3]))); });
    await expect(clientFor(dev.port, { timeoutMs: 200 }).confirmed(readProperty)).rejects.toMatchObject({ code: 'bacnet_timeout' });
  });

  it('reaches a routed device and takes only the answer from its network and MAC', async () => {
    const route = { network: 5, address: Buffer.from([0x0a]) };
    const dev = await device((m, d) => {
      // Request: NPDU control 0x24 with DNET 5, DLEN 1, DADR 0A and the hop count; the APDU at 11.
      if (m[5] !== 0x24 || m[11]! >> 4 !== 0) return;
      const invokeId = m[13]!;
      d.send(bvlc(0x0a, Buffer.concat([hex('0108 0005 01 0B'), Buffer.from([0x30, invokeId, 12]), RP_ACK_72_3]))); // another MAC: ignored
      d.send(bvlc(0x0a, Buffer.concat([hex('0108 0005 01 0A'), Buffer.from([0x30, invokeId, 12]), RP_ACK_72_3])));
    });
    expect((await clientFor(dev.port, { route }).confirmed(readProperty)).equals(RP_ACK_72_3)).toBe(true);
    expect(dev.received[0]!.subarray(4, 11).toString('hex')).toBe('0124' + '0005' + '01' + '0a' + 'ff');
  });

  it('rejects pending requests with bacnet_client_closed on close, and refuses new ones', async () => {
    const dev = await device();
    const client = clientFor(dev.port);
    const pending = client.confirmed(readProperty);
    await new Promise<void>((r) => { const t = setInterval(() => { if (dev.received.length > 0) { clearInterval(t); r(); } }, 5); });
    await client.close();
    await expect(pending).rejects.toMatchObject({ code: 'bacnet_client_closed' });
    await expect(client.confirmed(readProperty)).rejects.toMatchObject({ code: 'bacnet_client_closed' });
  });
});

describe('BacnetClient: COV notifications (clause 13.7, 13.8)', () => {
  const COV = hex('09 12 1C 02000004 2C 0000000A 39 00 4E 09 55 2E 44 42820000 2F 4F');

  it('acknowledges a ConfirmedCOVNotification with a SimpleACK and hands it to listeners; ignores one from elsewhere', async () => {
    const dev = await device((m, d) => { if (isConfirmed(m) && m[9] === 12) d.send(unicast(Buffer.concat([Buffer.from([0x30, invokeOf(m), 12]), RP_ACK_72_3]))); });
    const client = clientFor(dev.port);
    const seen: CovNotification[] = [];
    client.onCovNotification((n) => seen.push(n));
    await client.confirmed(readProperty); // opens the socket the device will notify
    const other = await device();
    other.send(unicast(Buffer.concat([hex('00 05 2A 01'), COV])), dev.client());
    dev.send(unicast(Buffer.concat([hex('10 02'), COV]))); // unconfirmed: no ACK
    dev.send(unicast(Buffer.concat([hex('00 05 2B 01'), COV]))); // confirmed, invoke id 0x2B
    await new Promise<void>((r) => { const t = setInterval(() => { if (dev.received.length >= 2) { clearInterval(t); r(); } }, 5); });
    expect(dev.received[1]!.toString('hex')).toBe('810a0009010020' + '2b01');
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({ processId: 18, device: { type: 8, instance: 4 }, object: { type: 0, instance: 10 }, values: [{ property: 85, values: [{ value: 65 }] }] });
    expect(other.received).toEqual([]);
    expect(client.sent).toEqual(['confirmed 12', 'simpleAck 1']);
  });
});
