/**
 * Read-only on the wire (ARCHITECTURE.md §2): tshark captures everything the guardian sends to a
 * BACnet/IP controller while it discovers it, polls it (ReadPropertyMultiple, then ReadProperty on
 * a controller without RPM), keeps COV subscriptions and is asked to write. Wireshark's BACnet
 * dissector, not ours, decodes the capture: the guardian sent only ReadProperty (12),
 * ReadPropertyMultiple (14) and SubscribeCOV (5) requests, Who-Is (8), and SimpleACKs of the
 * device's COV notifications.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { systemClock, type Sample } from '@shellguard/protocol';
import { BacnetClient } from '../../../src/drivers/bacnet/bacnet-client.ts';
import { BacnetDriver } from '../../../src/drivers/bacnet/bacnet-driver.ts';
import { discoverDevices } from '../../../src/drivers/bacnet/discovery.ts';
import { BacnetError } from '../../../src/drivers/bacnet/errors.ts';
import { hasTshark, startCapture, warnIfNoTshark, type Capture } from '../packet-capture.ts';
import { AHU_PROFILE, DEVICE_INSTANCE, startSimAhu, type SimBacnetDevice } from './sim-device.ts';

warnIfNoTshark('bacnet wire-capture');

type Sent = { type: number; confirmed?: number; unconfirmed?: number };

/** What the guardian sent (datagrams to the devices' ports), as Wireshark's BACnet dissector reads them. */
function sentToDevices(capture: Capture, ports: number[]): Sent[] {
  const decodeAs = ports.flatMap((p) => ['-d', `udp.port==${p},bvlc`]);
  const filter = `bacapp && (${ports.map((p) => `udp.dstport == ${p}`).join(' || ')})`;
  const out = capture.read([...decodeAs, '-Y', filter, '-T', 'fields', '-E', 'separator=|', '-e', 'bacapp.type', '-e', 'bacapp.confirmed_service', '-e', 'bacapp.unconfirmed_service']);
  return out.split('\n').filter((l) => l.trim().length > 0).map((l) => {
    const [type, confirmed, unconfirmed] = l.split('|');
    return { type: Number(type), ...(confirmed ? { confirmed: Number(confirmed) } : {}), ...(unconfirmed ? { unconfirmed: Number(unconfirmed) } : {}) };
  });
}

describe.skipIf(!hasTshark)('BACnet/IP traffic on the wire (tshark capture)', () => {
  let dir: string;
  let rpmDevice: SimBacnetDevice;
  let rpOnly: SimBacnetDevice;
  const logger = pino({ level: 'silent' });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'shellguard-bacnet-capture-'));
    rpmDevice = await startSimAhu({ covCheckMs: 50 });
    rpOnly = await startSimAhu({ readPropertyMultiple: false });
  });

  afterAll(async () => {
    await rpmDevice?.close();
    await rpOnly?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries only ReadProperty, ReadPropertyMultiple, SubscribeCOV, Who-Is and COV SimpleACKs', async () => {
    const ports = [rpmDevice.equipment.port, rpOnly.equipment.port];
    const file = path.join(dir, 'bacnet.pcap');
    const capture = await startCapture(file, ports.map((p) => `udp port ${p}`).join(' or '));
    let requests = 0;
    const pushed: Sample[] = [];
    const drivers = [rpmDevice, rpOnly].map((d) => new BacnetDriver({
      equipment: d.equipment, profile: AHU_PROFILE, clock: systemClock, logger, onSamples: (s) => pushed.push(...s), services: {},
    }, { retries: 0 }));
    try {
      const found = await discoverDevices({ broadcastAddress: '127.0.0.1', port: rpmDevice.equipment.port, timeoutMs: 300 });
      expect(found.map((f) => f.deviceInstance)).toEqual([DEVICE_INSTANCE]);
      for (let round = 0; round < 5; round++) {
        for (const d of drivers) {
          expect((await d.read('all')).errors).toEqual([]);
          expect((await d.read('fast')).errors).toEqual([]);
        }
      }
      // Writes asked of the lowest layer are refused before any datagram exists.
      const client = new BacnetClient({ host: '127.0.0.1', port: rpmDevice.equipment.port, timeoutMs: 300, retries: 0 });
      for (const service of [15, 16, 17, 20, 10, 11, 7, 8, 9]) {
        await expect(client.confirmed({ pdu: 'confirmed', service, object: { type: 2, instance: 1 }, property: { id: 85 } } as never)).rejects.toSatisfy((e: unknown) => e instanceof BacnetError && e.code === 'bacnet_service_refused');
      }
      expect(client.sent).toEqual([]);
      await client.close();
      // Wait for the COV notifications of the subscriptions (initial ones at least) and their acks.
      const end = Date.now() + 5000;
      while (rpmDevice.device().notifications().acknowledged < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      expect(rpmDevice.device().notifications().acknowledged).toBeGreaterThanOrEqual(2);
      // Every datagram the devices received is in the file before the capture stops.
      requests = rpmDevice.device().datagramsReceived() + rpOnly.device().datagramsReceived();
      await expect.poll(() => sentToDevices(capture, ports).length, { timeout: 30_000, interval: 200 }).toBeGreaterThanOrEqual(requests);
    } finally {
      for (const d of drivers) await d.close();
      await capture.stop();
    }
    const sent = sentToDevices(capture, ports);
    const kinds = new Set(sent.map((s) => s.type === 0 ? `confirmed ${s.confirmed}` : s.type === 1 ? `unconfirmed ${s.unconfirmed}` : `type ${s.type}`));
    // Every kind of request the test made is in the capture, and nothing else.
    expect([...kinds].sort()).toEqual(['confirmed 12', 'confirmed 14', 'confirmed 5', 'type 2', 'unconfirmed 8']);
    const simpleAcks = sent.filter((s) => s.type === 2);
    expect(simpleAcks.every((s) => s.confirmed === 1 || s.confirmed === undefined)).toBe(true);
    expect(sent.filter((s) => s.type === 0 && s.confirmed === 12).length).toBeGreaterThan(20);
    expect(rpmDevice.writesReceived() + rpOnly.writesReceived()).toBe(0);
  }, 60_000);
});
