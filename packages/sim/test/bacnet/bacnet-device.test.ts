/**
 * The simulated BACnet/IP controller as another BACnet client sees it (@bacnet-js/client as the
 * client here): the objects and values of its profile, errors for what it lacks, every write
 * refused and counted, Who-Is ranges, and COV subscriptions with their notifications.
 */
import { afterEach, describe, expect, it } from 'vitest';
import bacnetModule from '@bacnet-js/client';
import { profileOfProtocol } from '@shellguard/protocol';
import { SiteModel } from '../../src/physics/site-model.ts';
import { loadProfiles } from '../../src/site/profile-catalog.ts';
import { startBacnetDevice, type SimulatedBacnetDevice } from '../../src/bacnet/index.ts';

type ClientConstructor = typeof bacnetModule.default;
const loaded = bacnetModule as unknown as { default?: unknown };
const Client = (typeof loaded.default === 'function' ? loaded.default : bacnetModule) as ClientConstructor;
type BacnetClient = InstanceType<ClientConstructor>;

const PROFILE = profileOfProtocol(loadProfiles().get('ahu-bacnet')!, 'bacnet');
const ALL = 0xffffffff;

let device: SimulatedBacnetDevice | undefined;
let client: BacnetClient | undefined;

afterEach(async () => {
  client?.close();
  await device?.close();
  client = undefined;
  device = undefined;
});

async function start(): Promise<{ model: SiteModel; receiver: { address: string } }> {
  const model = new SiteModel({ assets: [{ id: 'AHU-01', type: 'ahu' }], seed: 9, startMs: Date.now() });
  model.step(Date.now() + 1000);
  device = await startBacnetDevice({ host: '127.0.0.1', port: 0, deviceInstance: 4242, profile: PROFILE, values: () => model.values('AHU-01'), covCheckMs: 0 });
  client = new Client({ port: 30_000 + Math.floor(Math.random() * 20_000), interface: '127.0.0.1', reuseAddr: false, apduTimeout: 1000 });
  await new Promise<void>((r) => client!.once('listening', () => r()));
  return { model, receiver: { address: `127.0.0.1:${device.port}` } };
}

describe('simulated BACnet/IP controller', () => {
  it('serves every profile point as its object type says, equal to the physics', async () => {
    const { model, receiver } = await start();
    const specs = PROFILE.points.map((p) => ({ objectId: { type: { 'analog-input': 0, 'analog-value': 2, 'binary-input': 3, 'binary-value': 5, 'multi-state-value': 19 }[p.objectType as string]!, instance: p.instance }, properties: [{ id: 85, index: ALL }] }));
    const r = await client!.readPropertyMultiple(receiver, specs.slice(0, 16) as never);
    const r2 = await client!.readPropertyMultiple(receiver, specs.slice(16) as never);
    const served = model.values('AHU-01');
    const got = [...r.values, ...r2.values];
    expect(got.length).toBe(PROFILE.points.length);
    PROFILE.points.forEach((p, i) => {
      const v = got[i]!.values[0]!.value[0]! as { type: number; value: number };
      const want = served[p.name]!;
      if (p.kind === 'analog') {
        expect(v.type, p.name).toBe(4); // REAL
        expect(Math.abs(v.value - (want as number)), p.name).toBeLessThan(1e-3 * Math.max(1, Math.abs(want as number)));
      } else if (p.kind === 'binary') {
        expect(v.type, p.name).toBe(9); // ENUMERATED inactive/active
        expect(v.value, p.name).toBe(want ? 1 : 0);
      } else {
        expect(v.type, p.name).toBe(2); // UNSIGNED, 1-based
        expect(v.value, p.name).toBe((want as number) + 1);
      }
    });
  });

  it('answers unknown objects and properties with errors, and reads status flags and units', async () => {
    const { receiver } = await start();
    await expect(client!.readProperty(receiver, { type: 0, instance: 999 }, 85)).rejects.toThrow(/UNKNOWN_OBJECT|31/);
    await expect(client!.readProperty(receiver, { type: 0, instance: 1 }, 9999)).rejects.toThrow(/UNKNOWN_PROPERTY|32/);
    const units = await client!.readProperty(receiver, { type: 0, instance: 1 }, 117);
    expect(units.values[0]!.value).toBe(62); // degrees-Celsius
    device!.setStatus('supply_air_temp', { fault: true });
    const flags = await client!.readProperty(receiver, { type: 0, instance: 1 }, 111);
    expect((flags.values[0]!.value as { value: number[] }).value[0]! & 0x02).toBe(2);
    const reliability = await client!.readProperty(receiver, { type: 0, instance: 1 }, 103);
    expect(reliability.values[0]!.value).toBe(7);
    const name = await client!.readProperty(receiver, { type: 8, instance: 4242 }, 77);
    expect(String(name.values[0]!.value)).toContain('4242');
  });

  it('refuses and counts every write', async () => {
    const { receiver } = await start();
    await expect(client!.writeProperty(receiver, { type: 2, instance: 1 }, 85, [{ type: 4, value: 12 }] as never, { priority: 8 })).rejects.toThrow();
    await expect(client!.reinitializeDevice(receiver, 0)).rejects.toThrow();
    await expect(client!.deviceCommunicationControl(receiver, 0, 1)).rejects.toThrow();
    expect(device!.writeLog().map((w) => w.service)).toEqual(['WriteProperty', 'ReinitializeDevice', 'DeviceCommunicationControl']);
    expect(device!.writeLog()[0]!.object).toBe('analog-value:1');
    expect(device!.writesReceived()).toBe(3);
  });

  it('answers Who-Is within its range only', async () => {
    const { receiver } = await start();
    const heard: number[] = [];
    client!.on('iAm', (m) => heard.push((m.payload as { deviceId: number }).deviceId));
    client!.whoIs(receiver, { lowLimit: 1, highLimit: 100 });
    client!.whoIs(receiver, { lowLimit: 4000, highLimit: 5000 });
    client!.whoIs(receiver);
    const end = Date.now() + 3000;
    while (heard.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    expect(heard).toEqual([4242, 4242]);
  });

  it('keeps COV subscriptions, notifies changes, and lets them be cancelled', async () => {
    const { receiver } = await start();
    const notes: { object: number; values: unknown }[] = [];
    client!.on('covNotifyUnconfirmed', (m) => notes.push({ object: (m.payload as { monitoredObjectId: { instance: number } }).monitoredObjectId.instance, values: m.payload }));
    await client!.subscribeCov(receiver, { type: 3, instance: 1 }, 77, false, false, 60);
    expect(device!.subscriptions()).toMatchObject([{ processId: 77, object: 'binary-input:1', confirmed: false }]);
    const end = Date.now() + 3000;
    while (notes.length < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(notes.map((n) => n.object)).toEqual([1]); // the initial notification
    await device!.checkCov();
    expect(notes.length).toBe(1); // nothing changed, nothing sent
    device!.setStatus('fan_running', { outOfService: true });
    await device!.checkCov();
    while (notes.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(notes.length).toBe(2);
    await client!.subscribeCov(receiver, { type: 3, instance: 1 }, 77, true, false, 0); // cancel
    expect(device!.subscriptions()).toEqual([]);
    await expect(client!.subscribeCov(receiver, { type: 3, instance: 99 }, 77, false, false, 60)).rejects.toThrow();
  });
});
