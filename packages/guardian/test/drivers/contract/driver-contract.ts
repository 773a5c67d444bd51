/**
 * The contract every EquipmentDriver keeps, run on each implementation against a real device on
 * loopback (the simulator's server for that protocol, or an independent one):
 *
 * - `read('all')` gives one good sample per polled point, in profile order, equal to what the
 *   device serves (within the profile's resolution);
 * - `read('fast')` gives only the fast points;
 * - a device that is gone makes every point bad, with the reason, and nothing throws;
 * - after the device returns, the next reads are good again;
 * - `close()` is idempotent, and a read after it is refused;
 * - the device never receives a write.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Quality, systemClock, type AnyProfilePoint, type EquipmentProfile, type Sample } from '@shellguard/protocol';
import type { EquipmentConfig } from '../../../src/config/config.ts';
import type { DriverContext, DriverServices, EquipmentDriver } from '../../../src/drivers/driver.ts';
import { pointsOfSet } from '../../../src/drivers/driver.ts';

export interface ContractDevice {
  /** What the driver is made from (host and port of this device). */
  equipment: EquipmentConfig;
  profile: EquipmentProfile;
  /** The engineering values the device serves now, by point name. */
  served(): Record<string, number | boolean>;
  /** Largest difference between a stored and a served value the encoding allows for this point. */
  tolerance(point: string, value: number): number;
  /** Takes the device off the network (closes its socket). */
  stop(): Promise<void>;
  /** Brings it back on the same address. */
  restart(): Promise<void>;
  /** Write requests the device received. */
  writesReceived(): number;
  close(): Promise<void>;
}

export interface DriverHarness {
  /** Starts a device serving `profile`'s points. */
  startDevice(): Promise<ContractDevice>;
  makeDriver(ctx: DriverContext): EquipmentDriver;
  services?: () => DriverServices;
  /** Time a freshly failed device may be given before the driver reconnects (backoff). Default 15 s. */
  recoveryTimeoutMs?: number;
}

const logger = pino({ level: 'silent' });

function context(device: ContractDevice, harness: DriverHarness, pushed: Sample[]): DriverContext {
  return {
    equipment: device.equipment, profile: device.profile, clock: systemClock, logger,
    onSamples: (s) => pushed.push(...s), services: harness.services?.() ?? {},
  };
}

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function describeDriverContract(name: string, harness: DriverHarness): void {
  describe(`EquipmentDriver contract: ${name}`, () => {
    it('reads every polled point, in profile order, equal to what the device serves', async () => {
      const device = await harness.startDevice();
      const driver = harness.makeDriver(context(device, harness, []));
      try {
        const before = Date.now();
        const { samples, errors } = await driver.read('all');
        expect(errors).toEqual([]);
        const polled = pointsOfSet<AnyProfilePoint>(device.profile.points, 'all');
        expect(samples.map((s) => s.point)).toEqual(polled.map((p) => p.name));
        const served = device.served();
        for (const s of samples) {
          expect(s.quality, s.point).toBe(Quality.good);
          expect(s.ts).toBeGreaterThanOrEqual(before);
          const want = served[s.point];
          expect(want, `the device serves ${s.point}`).toBeDefined();
          if (typeof want === 'number' && typeof s.value === 'number') {
            expect(Math.abs(s.value - want), `${s.point}: stored ${s.value}, served ${want}`).toBeLessThanOrEqual(device.tolerance(s.point, want));
          } else {
            expect(s.value, s.point).toEqual(want);
          }
        }
        expect(device.writesReceived()).toBe(0);
      } finally {
        await driver.close();
        await device.close();
      }
    });

    it('reads only the fast points on the fast path', async () => {
      const device = await harness.startDevice();
      const driver = harness.makeDriver(context(device, harness, []));
      try {
        const { samples } = await driver.read('fast');
        expect(samples.map((s) => s.point)).toEqual(pointsOfSet<AnyProfilePoint>(device.profile.points, 'fast').map((p) => p.name));
        expect(samples.every((s) => s.quality === Quality.good)).toBe(true);
      } finally {
        await driver.close();
        await device.close();
      }
    });

    it('marks every point bad when the device is gone, says why, and recovers when it returns', async () => {
      const device = await harness.startDevice();
      const driver = harness.makeDriver(context(device, harness, []));
      try {
        expect((await driver.read('all')).errors).toEqual([]);
        await device.stop();
        const down = await driver.read('all');
        expect(down.samples.length).toBe(pointsOfSet<AnyProfilePoint>(device.profile.points, 'all').length);
        expect(down.samples.every((s) => s.quality === Quality.bad && s.value === null)).toBe(true);
        expect(down.errors.length).toBeGreaterThan(0);
        for (const e of down.errors) {
          expect(e.error.code).toMatch(/^[a-z_]+$/);
          expect(e.error.message.length).toBeGreaterThan(10);
          expect(e.where.length).toBeGreaterThan(0);
        }
        await device.restart();
        await eventually(async () => (await driver.read('all')).errors.length === 0, harness.recoveryTimeoutMs ?? 15_000);
        expect(device.writesReceived()).toBe(0);
      } finally {
        await driver.close();
        await device.close();
      }
    }, 30_000);

    it('closes idempotently and refuses a read after close', async () => {
      const device = await harness.startDevice();
      const driver = harness.makeDriver(context(device, harness, []));
      try {
        await driver.read('all');
        await driver.close();
        await driver.close();
        await expect(driver.read('all')).rejects.toThrow(/closed/);
      } finally {
        await device.close();
      }
    });
  });
}
