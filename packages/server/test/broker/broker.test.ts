import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { controlTopic } from '@shellguard/protocol';
import { ManualClock } from '@shellguard/protocol/testing';
import { createSiteCa } from '../../src/pki/index.ts';
import {
  eventually, mosquittoArgs, run, startBrokerFixture, type BrokerFixture, type DeviceFiles,
} from './broker-fixture.ts';

const HOUR_MS = 3_600_000;

describe('startBroker', () => {
  let fixture: BrokerFixture;
  let deviceA: DeviceFiles;
  let deviceB: DeviceFiles;

  beforeAll(async () => {
    fixture = await startBrokerFixture();
    deviceA = await fixture.issueDevice('device-a');
    deviceB = await fixture.issueDevice('device-b');
  });
  afterAll(async () => {
    await fixture?.close();
  });

  async function connectDevice(device: DeviceFiles, clientId = device.deviceId, to = fixture): Promise<mqtt.MqttClient> {
    return mqtt.connectAsync(`mqtts://127.0.0.1:${to.broker.port}`, {
      ca: to.rootPem,
      cert: device.certPem,
      key: device.keyPem,
      clientId,
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
  }

  function ddata(deviceId: string): string {
    return `spBv1.0/site-1/DDATA/${deviceId}/AHU-1`;
  }

  describe('a device with a certificate from the site CA', () => {
    it('connects with its device id and its publishes reach onPublish', async () => {
      const client = await connectDevice(deviceA);
      try {
        await eventually(() => fixture.broker.connectedDevices().includes(deviceA.deviceId));
        expect(fixture.events).toContain(`connected ${deviceA.deviceId}`);

        await client.publishAsync(ddata(deviceA.deviceId), Buffer.from('reading-1'), { qos: 1 });
        await eventually(() => fixture.published.some((p) => p.payload === 'reading-1'));
        expect(fixture.published.find((p) => p.payload === 'reading-1')).toEqual({
          deviceId: deviceA.deviceId, topic: ddata(deviceA.deviceId), payload: 'reading-1',
        });
      } finally {
        await client.endAsync();
      }
      await eventually(() => !fixture.broker.connectedDevices().includes(deviceA.deviceId));
      expect(fixture.events).toContain(`disconnected ${deviceA.deviceId}`);
    });

    it('receives what the server publishes to its own down topic', async () => {
      const client = await connectDevice(deviceA);
      try {
        const topic = controlTopic(deviceA.deviceId, 'down', 'ack');
        await client.subscribeAsync(topic, { qos: 1 });
        const received = new Promise<[string, string]>((resolve) => {
          client.once('message', (t, payload) => resolve([t, payload.toString()]));
        });
        await fixture.broker.publishToDevice(topic, Buffer.from('batch-7 stored'), 1);
        expect(await received).toEqual([topic, 'batch-7 stored']);
      } finally {
        await client.endAsync();
      }
    });

    it('is disconnected on request', async () => {
      const client = await connectDevice(deviceB);
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      await eventually(() => fixture.broker.connectedDevices().includes(deviceB.deviceId));
      fixture.broker.disconnectDevice(deviceB.deviceId);
      await closed;
      await eventually(() => !fixture.broker.connectedDevices().includes(deviceB.deviceId));
      await client.endAsync(true);
    });
  });

  describe('publishToDevice', () => {
    it('refuses topics that are not addressed to one device', async () => {
      await expect(fixture.broker.publishToDevice(ddata(deviceA.deviceId), Buffer.from('x'), 0))
        .rejects.toMatchObject({ code: 'topic_not_device_bound' });
      await expect(fixture.broker.publishToDevice(controlTopic(deviceA.deviceId, 'up', 'status'), Buffer.from('x'), 0))
        .rejects.toMatchObject({ code: 'topic_not_device_bound' });
    });
  });

  describe('refuses connections (mosquitto_pub)', () => {
    /** Runs mosquitto_pub, expects it to fail, and returns what the broker logged meanwhile. */
    async function expectRefused(args: string[]): Promise<Record<string, unknown>[]> {
      const before = fixture.published.length;
      const logsBefore = fixture.logs.length;
      const refusedBefore = fixture.broker.stats().refusedConnections;
      const result = await run('mosquitto_pub', [...args, '-q', '1', '-t', ddata(deviceA.deviceId), '-m', 'should-not-arrive']);
      expect(result.code).not.toBe(0);
      await eventually(() => fixture.broker.stats().refusedConnections > refusedBefore);
      expect(fixture.published.slice(before)).toEqual([]);
      return fixture.logs.slice(logsBefore);
    }

    it('accepts the same command with a valid certificate (control case)', async () => {
      const result = await run('mosquitto_pub', [
        ...mosquittoArgs(fixture, deviceA.deviceId, deviceA), '-q', '1', '-t', ddata(deviceA.deviceId), '-m', 'via-mosquitto',
      ]);
      expect(result).toMatchObject({ code: 0 });
      await eventually(() => fixture.published.some((p) => p.payload === 'via-mosquitto' && p.deviceId === deviceA.deviceId));
    });

    it('without a client certificate', async () => {
      const logs = await expectRefused(mosquittoArgs(fixture, deviceA.deviceId));
      expect(logs).toContainEqual(expect.objectContaining({
        msg: 'TLS handshake refused', err: expect.stringContaining('peer did not return a certificate'),
      }));
    });

    it('with a certificate from another CA', async () => {
      const otherCa = await createSiteCa({ commonName: 'Another CA', validityDays: 30 });
      const stranger = await fixture.issueDevice('stranger', { ca: otherCa });
      const logs = await expectRefused(mosquittoArgs(fixture, stranger.deviceId, stranger));
      expect(logs).toContainEqual(expect.objectContaining({ msg: 'TLS handshake refused', reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }));
    });

    it('with an expired certificate', async () => {
      const expired = await fixture.issueDevice('expired', { now: new Date(Date.now() - 48 * HOUR_MS), validityHours: 24 });
      const logs = await expectRefused(mosquittoArgs(fixture, expired.deviceId, expired));
      expect(logs).toContainEqual(expect.objectContaining({ msg: 'TLS handshake refused', reason: 'CERT_HAS_EXPIRED' }));
    });

    it('when the client id is not the device id of the certificate', async () => {
      const logs = await expectRefused(mosquittoArgs(fixture, deviceB.deviceId, deviceA));
      expect(logs).toContainEqual(expect.objectContaining({
        msg: 'connection refused: client id is not the certificate device id', deviceId: deviceA.deviceId,
      }));
    });

    it('when the device is not allowed (revoked or quarantined)', async () => {
      const revoked = await fixture.issueDevice('revoked');
      fixture.deniedDevices.add(revoked.deviceId);
      const logs = await expectRefused(mosquittoArgs(fixture, revoked.deviceId, revoked));
      expect(logs).toContainEqual(expect.objectContaining({ msg: 'connection refused: device not allowed', deviceId: revoked.deviceId }));
    });
  });

  describe('topic ACL', () => {
    it('drops a publish under another device\'s topics', async () => {
      // Device B listens on its own down topic, as a legitimate guardian does.
      const subscriber = await connectDevice(deviceB);
      try {
        const downTopic = controlTopic(deviceB.deviceId, 'down', 'ack');
        await subscriber.subscribeAsync(downTopic, { qos: 0 });
        const received: string[] = [];
        subscriber.on('message', (_topic, payload) => received.push(payload.toString()));
        const publishedBefore = fixture.published.length;
        const refusedBefore = fixture.broker.stats().refusedPublishes;

        // Device A forges B's telemetry, then a server ack to B.
        await run('mosquitto_pub', [...mosquittoArgs(fixture, deviceA.deviceId, deviceA), '-t', ddata(deviceB.deviceId), '-m', 'forged-telemetry']);
        await run('mosquitto_pub', [...mosquittoArgs(fixture, deviceA.deviceId, deviceA), '-t', downTopic, '-m', 'forged-ack']);
        await eventually(() => fixture.broker.stats().refusedPublishes >= refusedBefore + 2);

        // Anything A's publishes could have triggered is now behind this marker on B's connection.
        await fixture.broker.publishToDevice(downTopic, Buffer.from('marker'), 0);
        await eventually(() => received.includes('marker'));
        expect(received).toEqual(['marker']);
        expect(fixture.published.slice(publishedBefore)).toEqual([]);
      } finally {
        await subscriber.endAsync();
      }
    });

    it('drops a Will message addressed to another device', async () => {
      const subscriber = await connectDevice(deviceB);
      const downTopic = controlTopic(deviceB.deviceId, 'down', 'ack');
      try {
        await subscriber.subscribeAsync(downTopic, { qos: 0 });
        const received: string[] = [];
        subscriber.on('message', (_topic, payload) => received.push(payload.toString()));
        const refusedBefore = fixture.broker.stats().refusedPublishes;

        const forger = await mqtt.connectAsync(`mqtts://127.0.0.1:${fixture.broker.port}`, {
          ca: fixture.rootPem, cert: deviceA.certPem, key: deviceA.keyPem, clientId: deviceA.deviceId,
          protocolVersion: 4, reconnectPeriod: 0,
          will: { topic: downTopic, payload: Buffer.from('forged-will'), qos: 0, retain: false },
        });
        forger.stream.destroy(); // an abrupt loss makes the broker publish the Will
        await eventually(() => fixture.broker.stats().refusedPublishes > refusedBefore);
        await forger.endAsync(true);

        await fixture.broker.publishToDevice(downTopic, Buffer.from('marker'), 0);
        await eventually(() => received.includes('marker'));
        expect(received).toEqual(['marker']);
      } finally {
        await subscriber.endAsync();
      }
    });

    async function expectSubscriptionRefused(forbiddenFilter: string): Promise<void> {
      const ownTopic = controlTopic(deviceA.deviceId, 'down', 'ack');
      const forbiddenTopic = controlTopic(deviceB.deviceId, 'down', 'ack');
      const refusedBefore = fixture.broker.stats().refusedSubscriptions;
      // Subscribe to the forbidden filter and to A's own topic; print the first message and exit.
      const subscriber = run('mosquitto_sub', [
        ...mosquittoArgs(fixture, deviceA.deviceId, deviceA), '-v', '-C', '1', '-t', forbiddenFilter, '-t', ownTopic,
      ]);
      await eventually(() => fixture.broker.stats().refusedSubscriptions > refusedBefore);
      // Each round publishes to B first: had the forbidden subscription been granted, B's message
      // would be the first one the subscriber prints.
      let done = false;
      void subscriber.then(() => (done = true));
      while (!done) {
        await fixture.broker.publishToDevice(forbiddenTopic, Buffer.from('for-b-only'), 0);
        await fixture.broker.publishToDevice(ownTopic, Buffer.from('for-a'), 0);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const result = await subscriber;
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe(`${ownTopic} for-a`);
    }

    it('refuses a subscription to another device\'s down topics (mosquitto_sub)', async () => {
      await expectSubscriptionRefused(`shellguard/v1/device/${deviceB.deviceId}/down/#`);
    });

    it('refuses a subscription to # (mosquitto_sub)', async () => {
      await expectSubscriptionRefused('#');
    });

    it('reports the refusal when every requested subscription is refused (mosquitto_sub)', async () => {
      const result = await run('mosquitto_sub', [
        ...mosquittoArgs(fixture, deviceA.deviceId, deviceA), '-C', '1', '-W', '30', '-t', '#',
      ]);
      // mosquitto_sub 2.0 reads SUBACK 0x80 for every filter, says so and exits (status 0).
      expect(result.stderr).toMatch(/All subscription requests were denied/);
      expect(result.stdout).toBe('');
    });
  });

  describe('certificate lifetime', () => {
    // The broker's time is fake; TLS still checks the certificate against the real clock.
    let clock: ManualClock;
    let timed: BrokerFixture;
    beforeAll(async () => {
      clock = new ManualClock(Date.now());
      timed = await startBrokerFixture({ clock });
    });
    afterAll(async () => {
      await timed?.close();
    });

    it('ends a session when its certificate expires, and not before', async () => {
      const device = await timed.issueDevice('expiring', { validityHours: 24 });
      const notAfter = Date.parse(new X509Certificate(device.certPem).validTo);
      const client = await connectDevice(device, device.deviceId, timed);
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      await eventually(() => timed.broker.connectedDevices().includes(device.deviceId));
      const expiryLogged = () => timed.logs.some((l) => l.msg === 'certificate expired; disconnecting' && l.deviceId === device.deviceId);

      clock.advanceTo(notAfter - 1);
      expect(expiryLogged()).toBe(false);
      expect(timed.broker.connectedDevices()).toContain(device.deviceId);

      clock.advanceTo(notAfter);
      expect(expiryLogged()).toBe(true);
      await closed;
      await eventually(() => !timed.broker.connectedDevices().includes(device.deviceId));
      await client.endAsync(true);
    });
  });

  describe('misbehaving clients', () => {
    it('survives garbage after the TLS handshake and keeps serving devices', async () => {
      const socket = tlsConnect({
        host: '127.0.0.1', port: fixture.broker.port, ca: fixture.rootPem, cert: deviceA.certPem, key: deviceA.keyPem,
      });
      await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('error', () => {});
      socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x02]));
      await closed;

      const client = await connectDevice(deviceA);
      await client.publishAsync(ddata(deviceA.deviceId), Buffer.from('still-alive'), { qos: 1 });
      await eventually(() => fixture.published.some((p) => p.payload === 'still-alive'));
      await client.endAsync();
    });
  });

  it('never logs key material', () => {
    const logged = JSON.stringify(fixture.logs);
    expect(fixture.logs.length).toBeGreaterThan(0);
    expect(logged).not.toContain('PRIVATE KEY');
    for (const device of [deviceA, deviceB]) {
      expect(logged).not.toContain(device.keyPem.split('\n')[1]);
    }
  });
});
