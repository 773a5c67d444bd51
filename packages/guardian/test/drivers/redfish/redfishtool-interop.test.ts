/**
 * Interop with DMTF's own client, redfishtool (Debian package): what it reads from the simulated
 * BMC's Power and Thermal, with Basic auth and with a session, is what the simulator serves and
 * what our driver stores. redfishtool does not verify the BMC's certificate; our driver does
 * (pinned here), so only the data is compared, not the trust.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { RedfishDriver } from '../../../src/drivers/redfish/redfish-driver.ts';
import { LEGACY_PROFILE, PASSWORD, USER, driverContext, serverValues, startBmc, type Bmc } from './bmc-fixture.ts';

const run = promisify(execFile);
// scripts/install-test-deps.sh installs redfishtool; under CI a missing one fails instead of skipping.
const hasRedfishtool = spawnSync('redfishtool', ['-V'], { stdio: 'ignore' }).status === 0 || process.env.CI === 'true';
if (!hasRedfishtool) console.warn('redfishtool interop: redfishtool is not installed (bash scripts/install-test-deps.sh); skipping');

async function redfishtool(bmc: Bmc, auth: 'Basic' | 'Session', ...command: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run('redfishtool', ['-r', `127.0.0.1:${bmc.service.port}`, '-u', USER, '-p', PASSWORD, '-S', 'Always', '-A', auth, '-T', '20', ...command], { timeout: 60_000 });
  return JSON.parse(stdout) as Record<string, unknown>;
}

let bmc: Bmc | undefined;
afterEach(async () => { await bmc?.close(); bmc = undefined; });

describe.skipIf(!hasRedfishtool)('redfishtool against the simulated BMC', () => {
  it.each(['Basic', 'Session'] as const)('reads the same Thermal and Power as the simulator serves and our driver stores (%s auth)', async (auth) => {
    const values = serverValues({ inlet_temp: 24.5, fan_3_speed: 9120, power_watts: 388 });
    bmc = await startBmc({ auth: auth === 'Basic' ? 'basic' : 'session', trust: 'pin', profile: LEGACY_PROFILE, values: () => values });
    const thermal = await redfishtool(bmc, auth, 'Chassis', '-I', '1', 'Thermal') as { Temperatures: { Name: string; ReadingCelsius: number }[]; Fans: { Name: string; Reading: number; ReadingUnits: string }[] };
    const power = await redfishtool(bmc, auth, 'Chassis', '-I', '1', 'Power') as { PowerControl: { PowerConsumedWatts: number }[]; PowerSupplies: { LineInputVoltage: number; PowerInputWatts: number }[] };
    const chassis = await redfishtool(bmc, auth, 'Chassis', '-I', '1') as { PowerState: string; Status: { Health: string } };

    const driver = new RedfishDriver(driverContext(bmc));
    const { samples, errors } = await driver.read('all');
    await driver.close();
    expect(errors).toEqual([]);
    const stored = Object.fromEntries(samples.map((s) => [s.point, s.value]));

    const seenByRedfishtool = {
      inlet_temp: thermal.Temperatures[0]!.ReadingCelsius, exhaust_temp: thermal.Temperatures[1]!.ReadingCelsius,
      cpu1_temp: thermal.Temperatures[2]!.ReadingCelsius, cpu2_temp: thermal.Temperatures[3]!.ReadingCelsius,
      fan_1_speed: thermal.Fans[0]!.Reading, fan_2_speed: thermal.Fans[1]!.Reading, fan_3_speed: thermal.Fans[2]!.Reading, fan_4_speed: thermal.Fans[3]!.Reading,
      power_watts: power.PowerControl[0]!.PowerConsumedWatts,
      psu_1_input_voltage: power.PowerSupplies[0]!.LineInputVoltage, psu_2_input_voltage: power.PowerSupplies[1]!.LineInputVoltage,
      psu_1_power_watts: power.PowerSupplies[0]!.PowerInputWatts, psu_2_power_watts: power.PowerSupplies[1]!.PowerInputWatts,
      health: { OK: 0, Warning: 1, Critical: 2 }[chassis.Status.Health], power_on: chassis.PowerState === 'On',
    };
    const { energy_kwh: _notInLegacy, ...served } = values;
    expect(seenByRedfishtool).toEqual(served);
    expect(stored).toEqual(served);
    expect(thermal.Temperatures.map((t) => t.Name)).toEqual(['Inlet Temp', 'Exhaust Temp', 'CPU1 Temp', 'CPU2 Temp']);
    expect(new Set(thermal.Fans.map((f) => f.ReadingUnits))).toEqual(new Set(['RPM']));
    expect(bmc.service.writesReceived()).toBe(0);
    if (auth === 'Session') expect(bmc.service.requests().some((r) => r.method === 'POST' && r.auth === 'none')).toBe(true);
  });

  it('and the simulator counts the write redfishtool can send, which our driver never does', async () => {
    bmc = await startBmc({ auth: 'basic', trust: 'pin' });
    await redfishtool(bmc, 'Basic', 'Chassis', '-I', '1', 'setIndicatorLed', 'Lit').catch((err: Error) => err);
    expect(bmc.service.writes().map((w) => w.method)).toEqual(['PATCH']);
  });
});
