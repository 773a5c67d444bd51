/**
 * The resource tree of a simulated server BMC, built from the asset's engineering values on every
 * request. Both generations of the Redfish thermal and power model are served, as current BMCs do:
 *
 * - the older Power.v1_7 and Thermal.v1_7 resources (deprecated in Redfish 2020.4 but still served);
 * - EnvironmentMetrics.v1_3, PowerSubsystem.v1_1 (PowerSupply.v1_5 + PowerSupplyMetrics.v1_1),
 *   ThermalSubsystem.v1_3 (Fan.v1_5) and Sensor.v1_9 members of the chassis' Sensors collection.
 *
 * Property names follow the DMTF schemas (DSP8010 bundle). A value the physics does not provide is
 * served as `null`, which is what a BMC reports for a sensor without a reading.
 */
import type { PointValues } from '../physics/types.ts';

export type Resource = Record<string, unknown>;

/** Value names of the `server` asset type, as the physics provides them. */
export const SERVER_VALUE_NAMES = [
  'inlet_temp', 'exhaust_temp', 'cpu1_temp', 'cpu2_temp', 'fan_1_speed', 'fan_2_speed', 'fan_3_speed', 'fan_4_speed',
  'power_watts', 'psu_1_input_voltage', 'psu_2_input_voltage', 'psu_1_power_watts', 'psu_2_power_watts', 'energy_kwh', 'health', 'power_on',
] as const;

/** Fan speed at 100 % (RPM), for SpeedPercent.Reading next to SpeedRPM. */
const FAN_MAX_RPM = 16_000;
const HEALTH = ['OK', 'Warning', 'Critical'] as const;

const TEMPERATURES = [
  { id: 'InletTemp', name: 'Inlet Temp', value: 'inlet_temp', context: 'Intake' },
  { id: 'ExhaustTemp', name: 'Exhaust Temp', value: 'exhaust_temp', context: 'Exhaust' },
  { id: 'CPU1Temp', name: 'CPU1 Temp', value: 'cpu1_temp', context: 'CPU' },
  { id: 'CPU2Temp', name: 'CPU2 Temp', value: 'cpu2_temp', context: 'CPU' },
] as const;
const FANS = [1, 2, 3, 4] as const;
const PSUS = [1, 2] as const;

function reading(values: Readonly<PointValues>, name: string): number | null {
  const v = values[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

const link = (id: string): Resource => ({ '@odata.id': id });

function collection(id: string, type: string, name: string, members: string[]): Resource {
  return { '@odata.id': id, '@odata.type': `#${type}.${type}`, Name: name, Members: members.map(link), 'Members@odata.count': members.length };
}

/** Every resource of the BMC with chassis `chassisId`, by URL path (no trailing slash). */
export function bmcResources(chassisId: string, values: Readonly<PointValues>, sessions: readonly { id: string; user: string }[]): Map<string, Resource> {
  const root = '/redfish/v1';
  const ch = `${root}/Chassis/${encodeURIComponent(chassisId)}`;
  const health = reading(values, 'health');
  const healthName = health !== null && Number.isInteger(health) && health >= 0 && health <= 2 ? HEALTH[health] : null;
  const powerOn = values.power_on;
  const powerState = typeof powerOn === 'boolean' ? (powerOn ? 'On' : 'Off') : null;
  const status = { State: 'Enabled', Health: healthName };
  const r = new Map<string, Resource>();
  const put = (res: Resource): void => { r.set(res['@odata.id'] as string, res); };

  put({
    '@odata.id': root, '@odata.type': '#ServiceRoot.v1_15_0.ServiceRoot', Id: 'RootService', Name: 'Root Service',
    RedfishVersion: '1.17.0', UUID: '5c1e6b1a-0000-4000-8000-5e11a9a2d000',
    Chassis: link(`${root}/Chassis`), SessionService: link(`${root}/SessionService`),
    Links: { Sessions: link(`${root}/SessionService/Sessions`) },
  });
  put({
    '@odata.id': `${root}/SessionService`, '@odata.type': '#SessionService.v1_1_9.SessionService', Id: 'SessionService', Name: 'Session Service',
    ServiceEnabled: true, SessionTimeout: 1800, Sessions: link(`${root}/SessionService/Sessions`),
  });
  put(collection(`${root}/SessionService/Sessions`, 'SessionCollection', 'Sessions', sessions.map((s) => `${root}/SessionService/Sessions/${s.id}`)));
  for (const s of sessions) {
    put({ '@odata.id': `${root}/SessionService/Sessions/${s.id}`, '@odata.type': '#Session.v1_7_0.Session', Id: s.id, Name: 'User Session', UserName: s.user });
  }
  put(collection(`${root}/Chassis`, 'ChassisCollection', 'Chassis Collection', [ch]));
  put({
    '@odata.id': ch, '@odata.type': '#Chassis.v1_25_0.Chassis', Id: chassisId, Name: 'Simulated Server', ChassisType: 'RackMount',
    Manufacturer: 'Shellguard', Model: 'SIM-1U', PowerState: powerState, IndicatorLED: 'Off', Status: status,
    Power: link(`${ch}/Power`), Thermal: link(`${ch}/Thermal`), EnvironmentMetrics: link(`${ch}/EnvironmentMetrics`),
    PowerSubsystem: link(`${ch}/PowerSubsystem`), ThermalSubsystem: link(`${ch}/ThermalSubsystem`), Sensors: link(`${ch}/Sensors`),
    Actions: { '#Chassis.Reset': { target: `${ch}/Actions/Chassis.Reset`, 'ResetType@Redfish.AllowableValues': ['On', 'ForceOff', 'PowerCycle'] } },
  });

  // Power.v1_7 (legacy): PowerControl[], PowerSupplies[] with LineInputVoltage and PowerInputWatts.
  put({
    '@odata.id': `${ch}/Power`, '@odata.type': '#Power.v1_7_1.Power', Id: 'Power', Name: 'Power',
    PowerControl: [{ '@odata.id': `${ch}/Power#/PowerControl/0`, MemberId: '0', Name: 'System Power Control', PowerConsumedWatts: reading(values, 'power_watts'), Status: status }],
    PowerSupplies: PSUS.map((n, i) => ({
      '@odata.id': `${ch}/Power#/PowerSupplies/${i}`, MemberId: String(i), Name: `PSU ${n}`, PowerSupplyType: 'AC', LineInputVoltageType: 'ACHighLine',
      LineInputVoltage: reading(values, `psu_${n}_input_voltage`), PowerInputWatts: reading(values, `psu_${n}_power_watts`), Status: { State: 'Enabled', Health: 'OK' },
    })),
  });
  // Thermal.v1_7 (legacy): Temperatures[].ReadingCelsius, Fans[].Reading in RPM.
  put({
    '@odata.id': `${ch}/Thermal`, '@odata.type': '#Thermal.v1_7_1.Thermal', Id: 'Thermal', Name: 'Thermal',
    Temperatures: TEMPERATURES.map((t, i) => ({
      '@odata.id': `${ch}/Thermal#/Temperatures/${i}`, MemberId: String(i), Name: t.name, PhysicalContext: t.context,
      ReadingCelsius: reading(values, t.value), Status: { State: 'Enabled', Health: 'OK' },
    })),
    Fans: FANS.map((n, i) => ({
      '@odata.id': `${ch}/Thermal#/Fans/${i}`, MemberId: String(i), Name: `Fan ${n}`, PhysicalContext: 'SystemBoard',
      Reading: reading(values, `fan_${n}_speed`), ReadingUnits: 'RPM', Status: { State: 'Enabled', Health: 'OK' },
    })),
  });
  // EnvironmentMetrics.v1_3: SensorExcerpts with DataSourceUri and Reading.
  put({
    '@odata.id': `${ch}/EnvironmentMetrics`, '@odata.type': '#EnvironmentMetrics.v1_3_2.EnvironmentMetrics', Id: 'EnvironmentMetrics', Name: 'Chassis Environment Metrics',
    TemperatureCelsius: { DataSourceUri: `${ch}/Sensors/InletTemp`, Reading: reading(values, 'inlet_temp') },
    PowerWatts: { DataSourceUri: `${ch}/Sensors/TotalPower`, Reading: reading(values, 'power_watts') },
    EnergykWh: { DataSourceUri: `${ch}/Sensors/Energy`, Reading: reading(values, 'energy_kwh') },
  });
  put({
    '@odata.id': `${ch}/PowerSubsystem`, '@odata.type': '#PowerSubsystem.v1_1_2.PowerSubsystem', Id: 'PowerSubsystem', Name: 'Power Subsystem',
    PowerSupplies: link(`${ch}/PowerSubsystem/PowerSupplies`), Status: status,
  });
  put(collection(`${ch}/PowerSubsystem/PowerSupplies`, 'PowerSupplyCollection', 'Power Supplies', PSUS.map((n) => `${ch}/PowerSubsystem/PowerSupplies/${n}`)));
  for (const n of PSUS) {
    const psu = `${ch}/PowerSubsystem/PowerSupplies/${n}`;
    put({
      '@odata.id': psu, '@odata.type': '#PowerSupply.v1_5_3.PowerSupply', Id: String(n), Name: `PSU ${n}`, PowerSupplyType: 'AC',
      Metrics: link(`${psu}/Metrics`), Status: { State: 'Enabled', Health: 'OK' },
    });
    put({
      '@odata.id': `${psu}/Metrics`, '@odata.type': '#PowerSupplyMetrics.v1_1_2.PowerSupplyMetrics', Id: 'Metrics', Name: `PSU ${n} Metrics`,
      InputVoltage: { Reading: reading(values, `psu_${n}_input_voltage`) }, InputPowerWatts: { Reading: reading(values, `psu_${n}_power_watts`) },
    });
  }
  put({
    '@odata.id': `${ch}/ThermalSubsystem`, '@odata.type': '#ThermalSubsystem.v1_3_2.ThermalSubsystem', Id: 'ThermalSubsystem', Name: 'Thermal Subsystem',
    Fans: link(`${ch}/ThermalSubsystem/Fans`), Status: status,
  });
  put(collection(`${ch}/ThermalSubsystem/Fans`, 'FanCollection', 'Fans', FANS.map((n) => `${ch}/ThermalSubsystem/Fans/${n}`)));
  for (const n of FANS) {
    const rpm = reading(values, `fan_${n}_speed`);
    put({
      '@odata.id': `${ch}/ThermalSubsystem/Fans/${n}`, '@odata.type': '#Fan.v1_5_2.Fan', Id: String(n), Name: `Fan ${n}`, PhysicalContext: 'SystemBoard',
      SpeedPercent: { Reading: rpm === null ? null : Math.round((rpm / FAN_MAX_RPM) * 1000) / 10, SpeedRPM: rpm }, Status: { State: 'Enabled', Health: 'OK' },
    });
  }
  const sensors = [
    ...TEMPERATURES.map((t) => ({ id: t.id, name: t.name, type: 'Temperature', units: 'Cel', value: reading(values, t.value), context: t.context })),
    { id: 'TotalPower', name: 'Total Power', type: 'Power', units: 'W', value: reading(values, 'power_watts'), context: 'Chassis' },
    { id: 'Energy', name: 'Energy', type: 'EnergykWh', units: 'kW.h', value: reading(values, 'energy_kwh'), context: 'Chassis' },
  ];
  put(collection(`${ch}/Sensors`, 'SensorCollection', 'Sensors', sensors.map((s) => `${ch}/Sensors/${s.id}`)));
  for (const s of sensors) {
    put({
      '@odata.id': `${ch}/Sensors/${s.id}`, '@odata.type': '#Sensor.v1_9_0.Sensor', Id: s.id, Name: s.name,
      ReadingType: s.type, ReadingUnits: s.units, Reading: s.value, PhysicalContext: s.context, Status: { State: 'Enabled', Health: 'OK' },
    });
  }
  return r;
}

/** RFC 6901 evaluation, own properties only; `undefined` when the pointer names nothing. */
export function valueAtPointer(doc: unknown, pointer: string): unknown {
  let node = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null || !Object.prototype.hasOwnProperty.call(node, token)) return undefined;
    node = (node as Record<string, unknown>)[token];
  }
  return node;
}
