/**
 * Alarms from real telemetry: a device's DBIRTH names a UPS profile, its DDATA says the load went
 * on battery; the stored sample raises the shipped `ups-on-battery` alarm, which an operator
 * acknowledges over the API. A redelivered batch does not raise anything twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Quality, controlTopic, decodeBatchAck, encodeDeviceBirth, encodeDeviceData, sparkplugTopic,
} from '@shellguard/protocol';
import { SITE, startTestSite, type TestSite } from '../support/enrolled-device.ts';

let site: TestSite;
beforeAll(async () => { site = await startTestSite('sg-alarm-'); });
afterAll(async () => { await site?.close(); });

interface AlarmView { id: number; state: string; priority: string; asset: string; point: string; ruleId: string }

describe('alarms raised by stored telemetry', () => {
  it('raises the shipped UPS on-battery alarm once, and records who acknowledged it', async () => {
    const { keys } = site;
    const client = await site.connect();
    const acked: number[] = [];
    client.on('message', (_t, payload) => acked.push(...decodeBatchAck(payload).stored));
    await client.subscribeAsync(controlTopic(keys.deviceId, 'down', 'ack'));
    const now = Date.now();
    await client.publishAsync(sparkplugTopic({ group: SITE, type: 'DBIRTH', edge: keys.deviceId, device: 'UPS-01' }), Buffer.from(encodeDeviceBirth({
      name: 'UPS 1', type: 'ups', area: 'elec-room-1', profile: 'ups-generic',
      points: [{ name: 'on_battery', unit: '', kind: 'binary', description: 'Load on battery' }],
    }, { sparkplugSeq: 0, now })));
    const batch = Buffer.from(encodeDeviceData({ epoch: 'ups-test', seq: 1 }, [{ point: 'on_battery', ts: now, value: true, quality: Quality.good }], { sparkplugSeq: 1, now }));
    const topic = sparkplugTopic({ group: SITE, type: 'DDATA', edge: keys.deviceId, device: 'UPS-01' });
    await client.publishAsync(topic, batch);
    await client.publishAsync(topic, batch); // redelivery of the same batch
    for (let i = 0; i < 100 && acked.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    await client.endAsync();
    expect(acked).toEqual([1, 1]);

    const list = JSON.parse((await site.get('/api/v1/alarms?site=site-1')).text) as { alarms: AlarmView[] };
    const onBattery = list.alarms.filter((a) => a.ruleId === 'ups-on-battery');
    expect(onBattery).toHaveLength(1);
    expect(onBattery[0]).toMatchObject({ asset: 'UPS-01', point: 'on_battery', state: 'unack-active', priority: 'critical' });

    const ack = await site.post(`/api/v1/alarms/${onBattery[0]!.id}/ack`, { comment: 'generator running, utility out' });
    expect(ack.status).toBe(200);
    const history = JSON.parse((await site.get(`/api/v1/alarms/${onBattery[0]!.id}/history`)).text) as { events: { actor: string; comment?: string }[] };
    expect(history.events.some((e) => e.actor.startsWith('token:') && e.comment === 'generator running, utility out')).toBe(true);
  });
});
