/**
 * One contract for the Broker port, run against the embedded broker (aedes) and the external one
 * (Debian's Mosquitto 2.0 with MosquittoBroker): what a device may and may not do, what the
 * server can do to it, and which certificates get nothing. Driven from outside with mqtt.js and
 * Debian's mosquitto_pub / mosquitto_sub, as an attacker would.
 *
 * Where the brokers differ in HOW they refuse, the assertion is the outcome a user cares about:
 * nothing reaches ingest or another device, and the session does not last. (The embedded broker
 * refuses at CONNECT; Mosquitto accepts a certificate it cannot tell apart, grants it no rights,
 * and Shellguard closes the session as soon as the broker's log reports it.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { controlTopic } from '@shellguard/protocol';
import { createSiteCa, initPki, type Pki } from '../../src/pki/index.ts';
import { eventually, mosquittoArgs, run, type BrokerFixture, type DeviceFiles } from './broker-fixture.ts';
import { startContractFixture, type BrokerKind, type ContractFixture } from './mosquitto-fixture.ts';

const HOUR_MS = 3_600_000;
/** A generous bound for "it happens": never a performance claim. */
const WITHIN_MS = 10_000;

const ddata = (deviceId: string) => `spBv1.0/site-1/DDATA/${deviceId}/AHU-1`;

describe.each<BrokerKind>(['embedded', 'mosquitto'])('Broker contract (%s)', (kind) => {
  let fixture: ContractFixture;
  let deviceA: DeviceFiles;
  let deviceB: DeviceFiles;
  let otherPki: Pki;
  const clients: mqtt.MqttClient[] = [];

  beforeAll(async () => {
    fixture = await startContractFixture(kind);
    deviceA = await fixture.issueDevice('device-a');
    deviceB = await fixture.issueDevice('device-b');
    otherPki = await initPki(`${fixture.dir}/other-ca`, { commonName: 'Another site' });
  });
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await fixture?.close();
  });

  const args = (clientId: string, device?: { certFile: string; keyFile: string }) => mosquittoArgs(fixture as unknown as BrokerFixture, clientId, device);

  async function connect(device: DeviceFiles, extra: Partial<mqtt.IClientOptions> = {}): Promise<mqtt.MqttClient> {
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${fixture.broker.port}`, {
      ca: fixture.rootPem, cert: device.certPem, key: device.keyPem, clientId: device.deviceId,
      protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, ...extra,
    });
    clients.push(client);
    return client;
  }

  /** Resolves with the time the session ended, or rejects if it outlives WITHIN_MS. */
  function sessionEnd(client: mqtt.MqttClient): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the session was not ended')), WITHIN_MS);
      client.once('close', () => {
        clearTimeout(timer);
        resolve(Date.now());
      });
    });
  }

  /**
   * A certificate that must get nothing: mqtt.js either cannot open a session, or the session is
   * closed; a publish made meanwhile reaches nobody; the refusal is counted.
   */
  async function expectNoSession(device: DeviceFiles): Promise<void> {
    const refusedBefore = fixture.broker.stats().refusedConnections;
    const publishedBefore = fixture.published.length;
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${fixture.broker.port}`, {
      ca: fixture.rootPem, cert: device.certPem, key: device.keyPem, clientId: device.deviceId,
      protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000,
    }).catch(() => undefined);
    if (client) {
      clients.push(client);
      const ended = sessionEnd(client);
      client.publish(ddata(device.deviceId), 'should-not-arrive', { qos: 0 });
      await ended;
    }
    await eventually(() => fixture.broker.stats().refusedConnections > refusedBefore);
    expect(fixture.published.slice(publishedBefore)).toEqual([]);
    expect(fixture.broker.connectedDevices()).not.toContain(device.deviceId);
  }

  it('delivers a device\'s own telemetry to onPublish with its device id, and reports it connected', async () => {
    const client = await connect(deviceA);
    await eventually(() => fixture.broker.connectedDevices().includes(deviceA.deviceId));
    await client.publishAsync(ddata(deviceA.deviceId), Buffer.from('reading-1'), { qos: 1 });
    await eventually(() => fixture.published.some((p) => p.payload === 'reading-1'));
    expect(fixture.published.find((p) => p.payload === 'reading-1')).toEqual({ deviceId: deviceA.deviceId, topic: ddata(deviceA.deviceId), payload: 'reading-1' });
    expect(fixture.events).toContain(`connected ${deviceA.deviceId}`);
    await client.endAsync();
    await eventually(() => !fixture.broker.connectedDevices().includes(deviceA.deviceId));
    expect(fixture.events).toContain(`disconnected ${deviceA.deviceId}`);
  });

  it('accepts mosquitto_pub with a device\'s operational certificate (control case)', async () => {
    const result = await run('mosquitto_pub', [...args(deviceA.deviceId, deviceA), '-q', '1', '-t', ddata(deviceA.deviceId), '-m', 'via-mosquitto']);
    expect(result).toMatchObject({ code: 0 });
    await eventually(() => fixture.published.some((p) => p.payload === 'via-mosquitto' && p.deviceId === deviceA.deviceId));
  });

  it('delivers what the server publishes to a device\'s down topic to that device', async () => {
    const client = await connect(deviceA);
    const topic = controlTopic(deviceA.deviceId, 'down', 'ack');
    await client.subscribeAsync(topic, { qos: 1 });
    const received = new Promise<[string, string]>((resolve) => client.once('message', (t, p) => resolve([t, p.toString()])));
    await fixture.broker.publishToDevice(topic, Buffer.from('batch-7 stored'), 1);
    expect(await received).toEqual([topic, 'batch-7 stored']);
    await client.endAsync();
  });

  it('refuses to publish for the server outside device down and command topics', async () => {
    await expect(fixture.broker.publishToDevice(ddata(deviceA.deviceId), Buffer.from('x'), 0)).rejects.toMatchObject({ code: 'topic_not_device_bound' });
    await expect(fixture.broker.publishToDevice(controlTopic(deviceA.deviceId, 'up', 'status'), Buffer.from('x'), 0))
      .rejects.toMatchObject({ code: 'topic_not_device_bound' });
  });

  it('lets no device publish another device\'s telemetry or a server ack to it (mosquitto_pub)', async () => {
    const subscriber = await connect(deviceB);
    const downTopic = controlTopic(deviceB.deviceId, 'down', 'ack');
    await subscriber.subscribeAsync(downTopic, { qos: 0 });
    const received: string[] = [];
    subscriber.on('message', (_t, p) => received.push(p.toString()));
    const publishedBefore = fixture.published.length;

    await run('mosquitto_pub', [...args(deviceA.deviceId, deviceA), '-q', '1', '-t', ddata(deviceB.deviceId), '-m', 'forged-telemetry']);
    await run('mosquitto_pub', [...args(deviceA.deviceId, deviceA), '-q', '1', '-t', downTopic, '-m', 'forged-ack']);
    // A's own publish after the forgeries: once it arrived, anything they could have caused has too.
    await run('mosquitto_pub', [...args(deviceA.deviceId, deviceA), '-q', '1', '-t', ddata(deviceA.deviceId), '-m', 'marker-a']);
    await eventually(() => fixture.published.some((p) => p.payload === 'marker-a'));
    await fixture.broker.publishToDevice(downTopic, Buffer.from('marker'), 0);
    await eventually(() => received.includes('marker'));
    expect(received).toEqual(['marker']);
    expect(fixture.published.slice(publishedBefore).map((p) => p.payload)).toEqual(['marker-a']);
    await subscriber.endAsync();
  });

  it('drops a Will message addressed to another device', async () => {
    const subscriber = await connect(deviceB);
    const downTopic = controlTopic(deviceB.deviceId, 'down', 'ack');
    await subscriber.subscribeAsync(downTopic, { qos: 0 });
    const received: string[] = [];
    subscriber.on('message', (_t, p) => received.push(p.toString()));
    const forger = await connect(deviceA, { will: { topic: downTopic, payload: Buffer.from('forged-will'), qos: 0, retain: false } });
    const gone = sessionEnd(forger);
    forger.stream.destroy(); // an abrupt loss makes the broker publish the Will
    await gone;
    await eventually(() => !fixture.broker.connectedDevices().includes(deviceA.deviceId));
    await fixture.broker.publishToDevice(downTopic, Buffer.from('marker'), 0);
    await eventually(() => received.includes('marker'));
    expect(received).toEqual(['marker']);
    await subscriber.endAsync();
  });

  async function expectSubscriptionRefused(forbiddenFilter: string): Promise<void> {
    const ownTopic = controlTopic(deviceA.deviceId, 'down', 'ack');
    const forbiddenTopic = controlTopic(deviceB.deviceId, 'down', 'ack');
    const subscriber = run('mosquitto_sub', [...args(deviceA.deviceId, deviceA), '-v', '-C', '1', '-t', forbiddenFilter, '-t', ownTopic]);
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

  it('refuses a subscription to another device\'s Sparkplug commands (mosquitto_sub)', async () => {
    await expectSubscriptionRefused(`spBv1.0/+/DCMD/${deviceB.deviceId}/#`);
  });

  it('keeps nothing a device publishes as retained, and delivers none of it', async () => {
    const result = await run('mosquitto_pub', [...args(deviceA.deviceId, deviceA), '-q', '1', '-r', '-t', ddata(deviceA.deviceId), '-m', 'retained-reading']);
    expect(result.code).not.toBeNull();
    await run('mosquitto_pub', [...args(deviceA.deviceId, deviceA), '-q', '1', '-t', ddata(deviceA.deviceId), '-m', 'after-retained']);
    await eventually(() => fixture.published.some((p) => p.payload === 'after-retained'));
    expect(fixture.published.some((p) => p.payload === 'retained-reading')).toBe(false);
  });

  it('refuses a packet larger than the maximum size (1 MiB) from its header, and counts it', async () => {
    const before = fixture.broker.stats().oversizedPackets;
    const big = `${fixture.dir}/big.bin`;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(big, Buffer.alloc(2 * 1024 * 1024, 0x78));
    await run('mosquitto_pub', [...args(deviceA.deviceId, deviceA), '-q', '1', '-t', ddata(deviceA.deviceId), '-f', big]);
    await eventually(() => fixture.broker.stats().oversizedPackets > before);
    expect(fixture.published.some((p) => p.payload.length > 1024 * 1024)).toBe(false);
  });

  it('ends a session on disconnectDevice, and lets a device still in good standing come back', async () => {
    const client = await connect(deviceB);
    await eventually(() => fixture.broker.connectedDevices().includes(deviceB.deviceId));
    const ended = sessionEnd(client);
    fixture.broker.disconnectDevice(deviceB.deviceId);
    await ended;
    await eventually(() => !fixture.broker.connectedDevices().includes(deviceB.deviceId));
    // Kicked, not banned: the fleet still lets it in.
    let again: mqtt.MqttClient | undefined;
    const deadline = Date.now() + WITHIN_MS;
    while (!again && Date.now() < deadline) {
      again = await connect(deviceB).catch(() => undefined);
      if (!again) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await again!.publishAsync(ddata(deviceB.deviceId), Buffer.from('back-again'), { qos: 1 });
    await eventually(() => fixture.published.some((p) => p.payload === 'back-again'));
    await again!.endAsync();
  });

  it('cuts a revoked device\'s live session and refuses its certificate from then on', async () => {
    const device = await fixture.issueDevice('to-revoke');
    const client = await connect(device);
    await eventually(() => fixture.broker.connectedDevices().includes(device.deviceId));
    const ended = sessionEnd(client);
    const revokedAt = Date.now();
    await fixture.revoke(device);
    const endedAt = await ended;
    console.log(`[${kind}] revocation to disconnect: ${endedAt - revokedAt} ms`);
    await expectNoSession(device);
    const pub = await run('mosquitto_pub', [...args(device.deviceId, device), '-q', '1', '-t', ddata(device.deviceId), '-m', 'revoked']);
    expect(pub.code).not.toBe(0);
  });

  it('cuts a quarantined device and gives it no session until the quarantine ends', async () => {
    const device = await fixture.issueDevice('to-quarantine');
    const client = await connect(device);
    await eventually(() => fixture.broker.connectedDevices().includes(device.deviceId));
    const ended = sessionEnd(client);
    await fixture.quarantine(device);
    await ended;
    await expectNoSession(device);
    await fixture.admit(device); // an operator lifts the quarantine
    const back = await connect(device);
    await back.publishAsync(ddata(device.deviceId), Buffer.from('released'), { qos: 1 });
    await eventually(() => fixture.published.some((p) => p.payload === 'released'));
    await back.endAsync();
  });

  describe('certificates that get nothing', () => {
    it('an identity certificate: same chain, no operational policy, never admitted by the fleet', async () => {
      const identity = await fixture.issueDevice('identity', { kind: 'identity', admit: false });
      await expectNoSession(identity);
    });

    it('an identity certificate presented with mosquitto_pub: nothing is delivered', async () => {
      const identity = await fixture.issueDevice('identity-pub', { kind: 'identity', admit: false });
      const publishedBefore = fixture.published.length;
      const refusedBefore = fixture.broker.stats().refusedConnections;
      await run('mosquitto_pub', [...args(identity.deviceId, identity), '-q', '1', '-t', ddata(identity.deviceId), '-m', 'identity']);
      await eventually(() => fixture.broker.stats().refusedConnections > refusedBefore);
      // A's publish after it: the identity's publish, had it been delivered, would be before it.
      await run('mosquitto_pub', [...args(deviceA.deviceId, deviceA), '-q', '1', '-t', ddata(deviceA.deviceId), '-m', 'after-identity']);
      await eventually(() => fixture.published.some((p) => p.payload === 'after-identity'));
      expect(fixture.published.slice(publishedBefore).map((p) => p.payload)).toEqual(['after-identity']);
    });

    it('an operational certificate from another site\'s root (mosquitto_pub)', async () => {
      const stranger = await fixture.issueDevice('stranger', { pki: otherPki });
      const refusedBefore = fixture.broker.stats().refusedConnections;
      const result = await run('mosquitto_pub', [...args(stranger.deviceId, stranger), '-q', '1', '-t', ddata(stranger.deviceId), '-m', 'x']);
      expect(result.code).not.toBe(0);
      await eventually(() => fixture.broker.stats().refusedConnections > refusedBefore);
      expect(fixture.published.some((p) => p.deviceId === stranger.deviceId)).toBe(false);
    });

    it('a certificate signed directly by another CA (mosquitto_pub)', async () => {
      const otherCa = await createSiteCa({ commonName: 'Another CA', validityDays: 30 });
      const stranger = await fixture.issueDevice('stranger-ca', { ca: otherCa });
      const result = await run('mosquitto_pub', [...args(stranger.deviceId, stranger), '-q', '1', '-t', ddata(stranger.deviceId), '-m', 'x']);
      expect(result.code).not.toBe(0);
      expect(fixture.published.some((p) => p.deviceId === stranger.deviceId)).toBe(false);
    });

    it('no client certificate at all (mosquitto_pub)', async () => {
      const refusedBefore = fixture.broker.stats().refusedConnections;
      const result = await run('mosquitto_pub', [...args(deviceA.deviceId), '-q', '1', '-t', ddata(deviceA.deviceId), '-m', 'no-cert']);
      expect(result.code).not.toBe(0);
      await eventually(() => fixture.broker.stats().refusedConnections > refusedBefore);
      expect(fixture.published.some((p) => p.payload === 'no-cert')).toBe(false);
    });

    it('an expired operational certificate (mosquitto_pub)', async () => {
      const expired = await fixture.issueDevice('expired', { now: new Date(Date.now() - 48 * HOUR_MS), validityHours: 24 });
      const result = await run('mosquitto_pub', [...args(expired.deviceId, expired), '-q', '1', '-t', ddata(expired.deviceId), '-m', 'expired']);
      expect(result.code).not.toBe(0);
      expect(fixture.published.some((p) => p.payload === 'expired')).toBe(false);
    });

    it('the server\'s own TLS certificate used as a client certificate (mosquitto_pub)', async () => {
      const server = await fixture.pki.issueServerCertificate({ hostnames: ['localhost'], ips: ['127.0.0.1'], validityDays: 1 });
      const certFile = `${fixture.dir}/server-as-client.crt`;
      const keyFile = `${fixture.dir}/server-as-client.key`;
      const { writeFileSync } = await import('node:fs');
      writeFileSync(certFile, server.chainPem);
      writeFileSync(keyFile, server.keyPem, { mode: 0o600 });
      const result = await run('mosquitto_pub', [...args('localhost', { certFile, keyFile }), '-q', '1', '-t', ddata(deviceA.deviceId), '-m', 'server-cert']);
      expect(fixture.published.some((p) => p.payload === 'server-cert')).toBe(false);
      expect(result.code).not.toBe(0);
    });
  });

  it('ends a session when its certificate expires', async () => {
    // Valid now, for about three more seconds.
    const shortLived = await fixture.issueDevice('short-lived', { now: new Date(Date.now() - 24 * HOUR_MS + 3000), validityHours: 24 });
    const client = await connect(shortLived);
    await sessionEnd(client);
    await eventually(() => !fixture.broker.connectedDevices().includes(shortLived.deviceId));
  });
});
