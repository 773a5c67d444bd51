import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { initPki, type Pki } from '../../src/pki/index.ts';
import {
  eventually, mosquittoArgs, run, startBrokerFixture, type BrokerFixture, type DeviceFiles,
} from './broker-fixture.ts';

describe('startBroker with the site PKI', () => {
  let fixture: BrokerFixture;
  let otherDir: string;
  let otherPki: Pki;
  const allowChecks: [string, string][] = [];
  const clients: mqtt.MqttClient[] = [];

  beforeAll(async () => {
    fixture = await startBrokerFixture({
      isDeviceAllowed: (deviceId, certSerial) => {
        allowChecks.push([deviceId, certSerial]);
        return true;
      },
    });
    otherDir = mkdtempSync(join(tmpdir(), 'sg-other-root-'));
    otherPki = await initPki(otherDir, { commonName: 'Another site' });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
  });
  afterAll(async () => {
    await fixture?.close();
    rmSync(otherDir, { recursive: true, force: true });
  });

  async function connectDevice(device: DeviceFiles): Promise<mqtt.MqttClient> {
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${fixture.broker.port}`, {
      ca: fixture.rootPem, cert: device.certPem, key: device.keyPem,
      clientId: device.deviceId, protocolVersion: 4, reconnectPeriod: 0,
    });
    clients.push(client);
    return client;
  }

  async function publishWithMosquitto(device: DeviceFiles, message: string): Promise<{ code: number | null; stderr: string }> {
    return run('mosquitto_pub', [
      ...mosquittoArgs(fixture, device.deviceId, device), '-q', '1', '-t', `spBv1.0/site-1/NDATA/${device.deviceId}`, '-m', message,
    ]);
  }

  /** Runs mosquitto_pub, expects the broker to refuse it, and returns what the broker logged meanwhile. */
  async function expectRefused(device: DeviceFiles): Promise<Record<string, unknown>[]> {
    const logsBefore = fixture.logs.length;
    const refusedBefore = fixture.broker.stats().refusedConnections;
    const publishedBefore = fixture.published.length;
    const result = await publishWithMosquitto(device, 'should-not-arrive');
    expect(result.code).not.toBe(0);
    await eventually(() => fixture.broker.stats().refusedConnections > refusedBefore);
    expect(fixture.published.slice(publishedBefore)).toEqual([]);
    return fixture.logs.slice(logsBefore);
  }

  it('accepts an operational certificate presented with its issuing CA, and checks its serial', async () => {
    const device = await fixture.issueDevice('operational');
    const client = await connectDevice(device);
    await client.publishAsync(`spBv1.0/site-1/NDATA/${device.deviceId}`, 'hello', { qos: 1 });
    await eventually(() => fixture.published.some((p) => p.deviceId === device.deviceId && p.payload === 'hello'));
    expect(allowChecks).toContainEqual([device.deviceId, device.serial]);
  });

  it('keeps accepting certificates of the previous issuing CA after a rotation, and accepts the new one', async () => {
    const before = await fixture.issueDevice('before-rotation');
    const stayingOnline = await connectDevice(before);
    await eventually(() => fixture.broker.connectedDevices().includes(before.deviceId));

    await fixture.pki.rotate();
    const after = await fixture.issueDevice('after-rotation');
    expect(fixture.pki.issuingCertPems()).toHaveLength(2);

    expect(await publishWithMosquitto(after, 'from-new-issuing-ca')).toMatchObject({ code: 0 });
    await eventually(() => fixture.published.some((p) => p.payload === 'from-new-issuing-ca' && p.deviceId === after.deviceId));
    // The session opened before the rotation is untouched...
    expect(stayingOnline.connected).toBe(true);
    expect(fixture.broker.connectedDevices()).toContain(before.deviceId);
    // ...and a new connection with the old issuing CA's certificate is still accepted.
    expect(await publishWithMosquitto(before, 'from-old-issuing-ca')).toMatchObject({ code: 0 });
    await eventually(() => fixture.published.some((p) => p.payload === 'from-old-issuing-ca' && p.deviceId === before.deviceId));
  });

  it('refuses an identity certificate: same chain, no operational policy (mosquitto_pub)', async () => {
    const identity = await fixture.issueDevice('identity', { kind: 'identity' });
    const logs = await expectRefused(identity);
    expect(logs).toContainEqual(expect.objectContaining({
      msg: 'connection refused: not an operational certificate', deviceId: identity.deviceId, certSerial: identity.serial,
    }));
    expect(allowChecks.map(([deviceId]) => deviceId)).not.toContain(identity.deviceId);
  });

  it('refuses an operational certificate from another root (mosquitto_pub)', async () => {
    const stranger = await fixture.issueDevice('stranger', { pki: otherPki });
    const logs = await expectRefused(stranger);
    expect(logs).toContainEqual(expect.objectContaining({ msg: 'TLS handshake refused', reason: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' }));
  });

  describe('setTrustAnchors', () => {
    it('accepts another root once it is a trust anchor, and refuses a root that no longer is', async () => {
      const stranger = await fixture.issueDevice('stranger-later-trusted', { pki: otherPki });
      const local = await fixture.issueDevice('local');
      await expectRefused(stranger);

      fixture.broker.setTrustAnchors([fixture.rootPem, otherPki.rootPem]);
      expect(await publishWithMosquitto(stranger, 'from-other-root')).toMatchObject({ code: 0 });
      expect(await publishWithMosquitto(local, 'from-site-root')).toMatchObject({ code: 0 });
      await eventually(() => fixture.published.some((p) => p.payload === 'from-other-root' && p.deviceId === stranger.deviceId));

      fixture.broker.setTrustAnchors([otherPki.rootPem]);
      const logs = await expectRefused(local);
      expect(logs).toContainEqual(expect.objectContaining({ msg: 'TLS handshake refused', reason: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' }));

      fixture.broker.setTrustAnchors([fixture.rootPem]);
      expect(await publishWithMosquitto(local, 'site-root-again')).toMatchObject({ code: 0 });
    });
  });
});
