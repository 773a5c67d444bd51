/**
 * Commissioning discovery (clause 16.10): discoverDevices sends one Who-Is, built by encodeRequest
 * and checked by checkOutgoing, and collects the I-Am answers it can read; everything else that
 * arrives is ignored. The "network" is raw UDP sockets on 127.0.0.1 answering the unicast Who-Is.
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { discoverDevices } from '../../../src/drivers/bacnet/discovery.ts';
import { bvlc, hex, unicast } from './frames.ts';



/** Clause 16.10.3 (I-Am, all application-tagged): device id, max APDU, segmentation, vendor id. */
function iAm(instance: number, o: { maxApdu?: number; segmentation?: number; vendorId?: number } = {}): Buffer {
  const id = Buffer.alloc(5);
  id[0] = 0xc4;
  id.writeUInt32BE(((8 << 22) | instance) >>> 0, 1);
  const max = o.maxApdu ?? 1476;
  return Buffer.concat([hex('10 00'), id, Buffer.from([0x22, max >> 8, max & 0xff, 0x91, o.segmentation ?? 0, 0x21, o.vendorId ?? 15])]);
}

const sockets: dgram.Socket[] = [];
afterEach(() => { for (const s of sockets.splice(0)) s.close(); });

/** A device that answers each datagram with the replies `answer` gives. */
async function device(answer: (whoIs: Buffer) => Buffer[]): Promise<{ port: number; received: Buffer[] }> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  const received: Buffer[] = [];
  s.on('message', (msg, rinfo) => {
    received.push(msg);
    for (const reply of answer(msg)) s.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { port: s.address().port, received };
}

describe('discoverDevices', () => {
  it('sends one Who-Is and returns the device that answers I-Am', async () => {
    const dev = await device(() => [unicast(iAm(1001, { maxApdu: 480, segmentation: 3, vendorId: 24 }))]);
    const found = await discoverDevices({ broadcastAddress: '127.0.0.1', port: dev.port, timeoutMs: 300, bindHost: '127.0.0.1' });
    expect(found).toEqual([{ deviceInstance: 1001, maxApdu: 480, segmentation: 'none', vendorId: 24, host: '127.0.0.1', port: dev.port }]);
    // Who-Is without limits (clause 16.10.1.1): an unconfirmed request of service 8 and nothing else.
    // It goes out as Original-Broadcast-NPDU (J.2.10) unless told the address is one device's.
    expect(dev.received.map((b) => b.toString('hex'))).toEqual(['810b000801001008']);
  });

  it('sends an Original-Unicast Who-Is to one device when asked (a BBMD then does not forward it)', async () => {
    const dev = await device(() => [unicast(iAm(1002, { maxApdu: 1476, segmentation: 0, vendorId: 5 }))]);
    const found = await discoverDevices({ broadcastAddress: '127.0.0.1', port: dev.port, timeoutMs: 300, unicast: true });
    expect(found.map((f) => f.deviceInstance)).toEqual([1002]);
    expect(dev.received.map((b) => b.toString('hex'))).toEqual(['810a000801001008']);
  });

  it('encodes the instance range as context tags [0] and [1]', async () => {
    const dev = await device(() => []);
    await discoverDevices({ broadcastAddress: '127.0.0.1', port: dev.port, timeoutMs: 200, range: { low: 100, high: 70000 } });
    // [0] low = 100 (one octet), [1] high = 70000 (three octets: 0x011170).
    expect(dev.received.map((b) => b.toString('hex'))).toEqual(['810b000e01001008' + '0964' + '1b011170']);
  });

  it('refuses a range that is not low <= high within 0-4194303 before sending anything', async () => {
    const dev = await device(() => []);
    await expect(discoverDevices({ broadcastAddress: '127.0.0.1', port: dev.port, timeoutMs: 100, range: { low: 10, high: 9 } })).rejects.toMatchObject({ code: 'bacnet_request_invalid' });
    await expect(discoverDevices({ broadcastAddress: '127.0.0.1', port: dev.port, timeoutMs: 100, range: { low: 0, high: 4194304 } })).rejects.toMatchObject({ code: 'bacnet_request_invalid' });
    expect(dev.received).toEqual([]);
  });

  it('ignores garbage, other services and malformed I-Ams, and keeps the I-Ams it can read', async () => {
    const dev = await device(() => [
      Buffer.from('garbage, not BACnet'),
      hex('810a0004'), // a BVLC header and nothing else
      unicast(hex('10 00 C4 02')), // an I-Am cut short
      unicast(Buffer.concat([hex('10 00'), hex('C4 00000007 22 05C4 91 00 21 0F')])), // an I-Am of an analog-input, not a device
      unicast(Buffer.concat([hex('10 00'), hex('C4 02000007 22 05C4 91 07 21 0F')])), // segmentation 7 does not exist
      unicast(Buffer.concat([hex('10 01'), hex('C4 02000008 C4 02000008 75 03 00 6869')])), // I-Have
      unicast(hex('30 01 0C 0C 00000005')), // a ComplexACK nobody asked for
      unicast(Buffer.concat([iAm(12), hex('00')])), // trailing bytes
      unicast(iAm(4194302, { vendorId: 99 })),
      unicast(iAm(3)),
    ]);
    const found = await discoverDevices({ broadcastAddress: '127.0.0.1', port: dev.port, timeoutMs: 300 });
    expect(found.map((d) => [d.deviceInstance, d.vendorId])).toEqual([[3, 15], [4194302, 99]]);
  });

  it('reports a device behind a router with its network and MAC, and one relayed by a BBMD at its own address', async () => {
    const routed = bvlc(0x0a, Buffer.concat([hex('0108 0007 02 BEEF'), iAm(50)])); // SNET 7, SADR BEEF
    const forwarded = bvlc(0x04, Buffer.concat([hex('C0A8010A BAC0'), hex('0100'), iAm(60)])); // from 192.168.1.10:47808
    const dev = await device(() => [routed, forwarded]);
    const found = await discoverDevices({ broadcastAddress: '127.0.0.1', port: dev.port, timeoutMs: 300 });
    expect(found).toEqual([
      { deviceInstance: 50, maxApdu: 1476, segmentation: 'both', vendorId: 15, host: '127.0.0.1', port: dev.port, route: { network: 7, address: 'beef' } },
      { deviceInstance: 60, maxApdu: 1476, segmentation: 'both', vendorId: 15, host: '192.168.1.10', port: 47808 },
    ]);
  });

  it('lists each device once, sorted by instance, from several answering sockets', async () => {
    const devices = await Promise.all([7, 2, 5].map((n) => device(() => [unicast(iAm(n)), unicast(iAm(n))])));
    const found = await Promise.all(devices.map((d) => discoverDevices({ broadcastAddress: '127.0.0.1', port: d.port, timeoutMs: 200 })));
    expect(found.map((f) => f.map((d) => d.deviceInstance))).toEqual([[7], [2], [5]]);
    const twice = await device(() => [unicast(iAm(9)), unicast(iAm(1)), unicast(iAm(9, { vendorId: 77 }))]);
    const sorted = await discoverDevices({ broadcastAddress: '127.0.0.1', port: twice.port, timeoutMs: 300 });
    // The later I-Am of a device replaces the earlier one.
    expect(sorted.map((d) => [d.deviceInstance, d.vendorId])).toEqual([[1, 15], [9, 77]]);
  });

  it('returns nothing when nobody answers', async () => {
    const dev = await device(() => []);
    expect(await discoverDevices({ broadcastAddress: '127.0.0.1', port: dev.port, timeoutMs: 150 })).toEqual([]);
    expect(dev.received).toHaveLength(1);
  });
});
