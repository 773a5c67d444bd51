import { afterEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { eventually, mosquittoArgs, run, startBrokerFixture, type BrokerFixture } from './broker-fixture.ts';

describe('startBroker with failing callbacks', () => {
  let fixture: BrokerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('refuses the connection when the allow check throws', async () => {
    let onPublishCalls = 0;
    fixture = await startBrokerFixture({
      onPublish: () => void onPublishCalls++,
      isDeviceAllowed: () => {
        throw new Error('revocation list unavailable');
      },
    });
    const device = await fixture.issueDevice('device');
    const result = await run('mosquitto_pub', [...mosquittoArgs(fixture, device.deviceId, device), '-t', `spBv1.0/s/NDATA/${device.deviceId}`, '-m', 'x']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('not authorised');
    expect(onPublishCalls).toBe(0);
  });

  it('waits for an allow check answered later (the fleet reads its database), and refuses when it fails', async () => {
    let onPublishCalls = 0;
    let answer: 'allow' | 'fail' = 'allow';
    fixture = await startBrokerFixture({
      onPublish: () => void onPublishCalls++,
      isDeviceAllowed: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        if (answer === 'fail') throw new Error('database unavailable');
        return true;
      },
    });
    const device = await fixture.issueDevice('device');
    const args = [...mosquittoArgs(fixture, device.deviceId, device), '-t', `spBv1.0/s/NDATA/${device.deviceId}`, '-m', 'x'];
    expect((await run('mosquitto_pub', args)).code).toBe(0);
    await eventually(() => onPublishCalls === 1);
    answer = 'fail';
    const refused = await run('mosquitto_pub', args);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('not authorised');
    expect(onPublishCalls).toBe(1);
  });

  it('keeps serving the device when onPublish throws', async () => {
    let onPublishCalls = 0;
    fixture = await startBrokerFixture({
      onPublish: () => {
        onPublishCalls++;
        throw new Error('ingest is broken');
      },
    });
    const device = await fixture.issueDevice('device');
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${fixture.broker.port}`, {
      ca: fixture.rootPem, cert: device.certPem, key: device.keyPem,
      clientId: device.deviceId, protocolVersion: 4, reconnectPeriod: 0,
    });
    const topic = `spBv1.0/s/NDATA/${device.deviceId}`;
    await client.publishAsync(topic, 'one', { qos: 1 });
    await client.publishAsync(topic, 'two', { qos: 1 });
    await eventually(() => onPublishCalls >= 2);
    expect(client.connected).toBe(true);
    await client.endAsync();
    expect(fixture.logs).toContainEqual(expect.objectContaining({ msg: 'onPublish callback failed', err: 'ingest is broken' }));
  });
});
