/**
 * Commissioning discovery: Who-Is on a broadcast address (clause 16.10), collecting the I-Am of
 * every device that answers within the wait. Read-only like the driver: the one datagram it sends
 * is built by `encodeRequest` and re-checked by `checkOutgoing`.
 */
import dgram from 'node:dgram';
import { objectIdOf } from './asn1.ts';
import { Unconfirmed, checkOutgoing, decodeFrame, encodeRequest } from './frame.ts';
import { decodeIAm, type IAm } from './services.ts';
import { BacnetError } from './errors.ts';

export interface DiscoveredDevice extends IAm {
  /** Where the I-Am came from: the device's B/IP address. */
  host: string;
  port: number;
  /** SNET/SADR when the device sits behind a router. */
  route?: { network: number; address: string };
}

export interface DiscoveryOptions {
  /** A directed broadcast (192.168.1.255), 255.255.255.255, or one device's address for a unicast Who-Is. */
  broadcastAddress: string;
  port: number;
  timeoutMs: number;
  /** Only instances in this range answer (clause 16.10.1.1). */
  range?: { low: number; high: number };
  bindHost?: string;
  /** `broadcastAddress` is one device's address: send the Who-Is as Original-Unicast (J.2.11), so a device that is also a BBMD does not forward it. */
  unicast?: boolean;
}

export async function discoverDevices(o: DiscoveryOptions): Promise<DiscoveredDevice[]> {
  const socket = dgram.createSocket('udp4');
  const found = new Map<number, DiscoveredDevice>();
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) => reject(new BacnetError('bacnet_socket_failed', `cannot open a UDP socket for Who-Is: ${err.message}`)));
      socket.bind(0, o.bindHost, () => { socket.setBroadcast(true); resolve(); });
    });
    socket.on('error', () => { /* a send error just means nothing answers */ });
    socket.on('message', (msg, rinfo) => {
      try {
        const f = decodeFrame(msg);
        if (f.kind !== 'apdu' || f.apdu.type !== 'unconfirmedRequest' || f.apdu.service !== Unconfirmed.iAm) return;
        const iam = decodeIAm(f.apdu.data);
        const from = f.forwardedFrom ?? { host: rinfo.address, port: rinfo.port };
        found.set(iam.deviceInstance, { ...iam, ...from, ...(f.source ? { route: { network: f.source.network, address: f.source.address.toString('hex') } } : {}) });
      } catch {
        // not an I-Am we can read: ignored
      }
    });
    const frame = encodeRequest({ pdu: 'unconfirmed', service: Unconfirmed.whoIs, ...(o.range ? { low: o.range.low, high: o.range.high } : {}) }, o.unicast ? {} : { broadcast: 'local' });
    socket.send(checkOutgoing(frame), o.port, o.broadcastAddress);
    await new Promise((r) => setTimeout(r, o.timeoutMs));
  } finally {
    await new Promise<void>((r) => socket.close(() => r()));
  }
  return [...found.values()].sort((a, b) => a.deviceInstance - b.deviceInstance);
}

export { objectIdOf };
