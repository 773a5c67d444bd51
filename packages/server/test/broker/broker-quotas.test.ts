/**
 * What one device may make the broker hold (issue 7, hole 5): no retained messages, no packet
 * above the size quota (refused from its fixed header, before its body is buffered), a message
 * rate enforced by backpressure (nothing lost), and a bounded number of subscriptions.
 * Driven by an independent client (mosquitto_pub) with a real operational certificate where the
 * finding used one.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { controlTopic } from '@shellguard/protocol';
import {
  eventually, mosquittoArgs, run, startBrokerFixture, type BrokerFixture, type DeviceFiles,
} from './broker-fixture.ts';

describe('broker quotas', () => {
  let fixture: BrokerFixture;
  let device: DeviceFiles;

  beforeAll(async () => {
    fixture = await startBrokerFixture({ quotas: { maxPacketBytes: 64 * 1024, messagesPerSecond: 100, messageBurst: 50 } });
    device = await fixture.issueDevice('quota-device');
  });
  afterAll(async () => {
    await fixture?.close();
  });

  const ddata = (deviceId: string) => `spBv1.0/site-1/DDATA/${deviceId}/AHU-1`;

  it('refuses a retained publish from a device and keeps nothing of it', async () => {
    const before = fixture.broker.stats().refusedRetained;
    const result = await run('mosquitto_pub', [
      ...mosquittoArgs(fixture, device.deviceId, device), '-t', ddata(device.deviceId), '-r', '-m', 'retained-reading',
    ]);
    await eventually(() => fixture.broker.stats().refusedRetained === before + 1);
    expect(result.code).not.toBeNull();
    expect(fixture.published.some((p) => p.payload === 'retained-reading')).toBe(false);
    expect(fixture.logs.some((l) => l.msg === 'retained publish refused' && l.deviceId === device.deviceId)).toBe(true);
  });

  it('ends the connection when a packet announces more than the maximum size, before reading its body', async () => {
    const before = fixture.broker.stats().oversizedPackets;
    const bigFile = join(fixture.dir, 'big.bin');
    writeFileSync(bigFile, Buffer.alloc(2 * 1024 * 1024, 0x78));
    const child = run('mosquitto_pub', [...mosquittoArgs(fixture, device.deviceId, device), '-t', ddata(device.deviceId), '-f', bigFile]);
    await eventually(() => fixture.broker.stats().oversizedPackets === before + 1);
    await child;
    expect(fixture.published.some((p) => p.payload.length > 64 * 1024)).toBe(false);
    const log = fixture.logs.find((l) => l.msg === 'packet too large; connection closed');
    expect(log).toMatchObject({ limit: 64 * 1024 });
    expect(Number(log!.length)).toBeGreaterThan(2 * 1024 * 1024);
  });

  it('still takes a packet within the size limit', async () => {
    const result = await run('mosquitto_pub', [
      ...mosquittoArgs(fixture, device.deviceId, device), '-t', ddata(device.deviceId), '-m', `ok-${'y'.repeat(60 * 1024)}`,
    ]);
    expect(result.code).toBe(0);
    await eventually(() => fixture.published.some((p) => p.payload.startsWith('ok-')));
  });

  it('slows a device that publishes faster than its rate, and loses none of its messages', async () => {
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${fixture.broker.port}`, {
      ca: fixture.rootPem, cert: device.certPem, key: device.keyPem, clientId: device.deviceId, protocolVersion: 4, reconnectPeriod: 0,
    });
    try {
      const before = fixture.broker.stats().throttled;
      for (let i = 0; i < 250; i++) client.publish(ddata(device.deviceId), Buffer.from(`rate-${i}`), { qos: 0 });
      await eventually(() => fixture.published.filter((p) => p.payload.startsWith('rate-')).length === 250);
      expect(fixture.broker.stats().throttled).toBeGreaterThan(before);
      // In order, none missing.
      expect(fixture.published.filter((p) => p.payload.startsWith('rate-')).map((p) => p.payload))
        .toEqual(Array.from({ length: 250 }, (_, i) => `rate-${i}`));
    } finally {
      await client.endAsync();
    }
  });

  it('grants a device a bounded number of subscriptions', async () => {
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${fixture.broker.port}`, {
      ca: fixture.rootPem, cert: device.certPem, key: device.keyPem, clientId: device.deviceId, protocolVersion: 4, reconnectPeriod: 0,
    });
    try {
      const granted: number[] = [];
      for (let i = 0; i < 40; i++) {
        // mqtt.js rejects a SUBACK failure (0x80) as an error carrying the packet.
        const g = await client.subscribeAsync(controlTopic(device.deviceId, 'down', `kind${i}`), { qos: 0 })
          .then((r) => r[0]!.qos, (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0] ?? -1);
        granted.push(g);
      }
      expect(granted.filter((q) => q !== 128)).toHaveLength(32);
      expect(granted.slice(32)).toEqual(new Array(8).fill(128));
    } finally {
      await client.endAsync();
    }
  });
});
