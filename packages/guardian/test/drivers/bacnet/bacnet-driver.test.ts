/**
 * The BACnet driver against the simulator's controller: change-of-value subscriptions (initial
 * notification, changes pushed through onSamples, renewal at half the lifetime, cancellation on
 * close), status-flags judged into quality, and a profile that names objects the device lacks.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Quality, profileOfProtocol, systemClock, type BacnetProfile, type Clock, type Sample } from '@shellguard/protocol';
import { ManualClock } from '@shellguard/protocol/testing';
import { BacnetClient } from '../../../src/drivers/bacnet/bacnet-client.ts';
import { BacnetDriver } from '../../../src/drivers/bacnet/bacnet-driver.ts';
import { createDriver } from '../../../src/drivers/create-driver.ts';
import { AHU_PROFILE, ahuModel, startSimAhu, type SimBacnetDevice } from './sim-device.ts';

const logger = pino({ level: 'silent' });

function driverFor(device: SimBacnetDevice, pushed: Sample[], o: { clock?: Clock; client?: BacnetClient; profile?: BacnetProfile } = {}): BacnetDriver {
  return new BacnetDriver({
    equipment: device.equipment, profile: o.profile ?? AHU_PROFILE, clock: o.clock ?? systemClock, logger,
    onSamples: (s) => pushed.push(...s), services: {},
  }, { retries: 0, ...(o.client ? { client: o.client } : {}) });
}

async function eventually(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The AHU's physics with values a test can force. */
function mutableAhu() {
  const model = ahuModel();
  const overrides: Record<string, number | boolean> = {};
  return { overrides, values: () => ({ ...model.values('AHU-01'), ...overrides }) };
}

describe('BACnet driver: change of value', () => {
  it('subscribes the cov points, pushes the initial and later notifications, and cancels on close', async () => {
    const v = mutableAhu();
    const dev = await startSimAhu({ values: v.values });
    const pushed: Sample[] = [];
    const driver = driverFor(dev, pushed);
    try {
      expect((await driver.read('all')).errors).toEqual([]);
      await eventually('two subscriptions', () => dev.device().subscriptions().length === 2);
      const subs = dev.device().subscriptions();
      expect(subs.map((s) => s.object).sort()).toEqual(['binary-input:1', 'binary-input:2']);
      expect(subs.every((s) => s.confirmed && s.expiresAt > Date.now() + 290_000)).toBe(true);
      // The initial notification of each subscription (clause 13.14.2), acknowledged by the driver.
      await eventually('initial notifications', () => pushed.some((s) => s.point === 'fan_running') && pushed.some((s) => s.point === 'fan_fault'));
      await eventually('acknowledged', () => dev.device().notifications().acknowledged >= 2);
      const before = pushed.length;
      v.overrides.fan_fault = true;
      await dev.device().checkCov();
      await eventually('the fault pushed', () => pushed.slice(before).some((s) => s.point === 'fan_fault' && s.value === true && s.quality === Quality.good));
      expect(pushed.slice(before).every((s) => s.point === 'fan_fault')).toBe(true);
      expect(dev.device().notifications().failed).toBe(0);
      await driver.close();
      expect(dev.device().subscriptions()).toEqual([]);
      expect(dev.writesReceived()).toBe(0);
    } finally {
      await driver.close();
      await dev.close();
    }
  });

  it('renews each subscription at half its lifetime', async () => {
    const dev = await startSimAhu({ bacnet: { covLifetimeSeconds: 120 } });
    const clock = new ManualClock(Date.now());
    const client = new BacnetClient({ host: dev.equipment.host, port: dev.equipment.port, timeoutMs: 300, retries: 0 });
    const driver = driverFor(dev, [], { clock, client });
    const subscribes = (): number => client.sent.filter((w) => w === 'confirmed 5').length;
    try {
      await driver.read('all');
      await eventually('first subscriptions', () => subscribes() === 2 && dev.device().subscriptions().length === 2);
      clock.advance(59_000);
      await new Promise((r) => setTimeout(r, 100));
      expect(subscribes()).toBe(2);
      clock.advance(1_000);
      await eventually('renewals', () => subscribes() === 4);
      clock.advance(60_000);
      await eventually('second renewals', () => subscribes() === 6);
      expect(dev.device().subscriptions().length).toBe(2);
    } finally {
      await driver.close();
      await dev.close();
    }
  });

  it('keeps polling when the device refuses subscriptions, and tries again later', async () => {
    // A profile whose cov point is an object the device does not have: SubscribeCOV answers unknown-object.
    const profile: BacnetProfile = { ...AHU_PROFILE, points: [...AHU_PROFILE.points.filter((p) => !p.cov), { ...AHU_PROFILE.points.find((p) => p.cov)!, name: 'ghost', instance: 99 }] };
    const dev = await startSimAhu();
    const clock = new ManualClock(Date.now());
    const client = new BacnetClient({ host: dev.equipment.host, port: dev.equipment.port, timeoutMs: 300, retries: 0 });
    const driver = driverFor(dev, [], { clock, client, profile });
    try {
      const r = await driver.read('all');
      expect(r.samples.find((s) => s.point === 'ghost')!.quality).toBe(Quality.bad);
      expect(r.errors.map((e) => e.points)).toEqual([['ghost']]);
      expect(r.errors[0]!.error.code).toBe('bacnet_error');
      expect(r.errors[0]!.error.message).toMatch(/unknown-object/);
      expect(r.samples.filter((s) => s.point !== 'ghost').every((s) => s.quality === Quality.good)).toBe(true);
      await eventually('the refused subscription', () => client.sent.filter((w) => w === 'confirmed 5').length === 1);
      await new Promise((r2) => setTimeout(r2, 100));
      clock.advance(30_000);
      await eventually('the retry', () => client.sent.filter((w) => w === 'confirmed 5').length === 2);
    } finally {
      await driver.close();
      await dev.close();
    }
  });
});

describe('BACnet driver: status flags', () => {
  it('marks a point in fault bad and an out-of-service point uncertain', async () => {
    const dev = await startSimAhu();
    const driver = driverFor(dev, []);
    try {
      dev.device().setStatus('supply_air_temp', { fault: true });
      dev.device().setStatus('return_air_temp', { outOfService: true });
      const r = await driver.read('all');
      const by = new Map(r.samples.map((s) => [s.point, s]));
      expect(by.get('supply_air_temp')).toMatchObject({ quality: Quality.bad, value: null });
      expect(by.get('return_air_temp')!.quality).toBe(Quality.uncertain);
      expect(typeof by.get('return_air_temp')!.value).toBe('number');
      expect(by.get('mixed_air_temp')!.quality).toBe(Quality.good);
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0]).toMatchObject({ points: ['supply_air_temp'] });
      expect(r.errors[0]!.error.code).toBe('bacnet_point_fault');
      dev.device().setStatus('supply_air_temp', { fault: false });
      expect((await driver.read('all')).samples.find((s) => s.point === 'supply_air_temp')!.quality).toBe(Quality.good);
    } finally {
      await driver.close();
      await dev.close();
    }
  });

  it('is what createDriver builds for a bacnet profile, and needs the bacnet section', async () => {
    const dev = await startSimAhu();
    try {
      const ctx = { equipment: dev.equipment, profile: profileOfProtocol(AHU_PROFILE, 'bacnet'), clock: systemClock, logger, onSamples: () => undefined, services: {} };
      const driver = createDriver(ctx);
      expect(driver.protocol).toBe('bacnet');
      expect((await driver.read('fast')).errors).toEqual([]);
      await driver.close();
      const { bacnet: _omit, ...noSection } = dev.equipment;
      expect(() => createDriver({ ...ctx, equipment: noSection })).toThrow(/bacnet section/);
    } finally {
      await dev.close();
    }
  });
});
