/**
 * Air-side cooling: AHUs and chilled-water CRAHs. Heat from the IT load sets the fan speed, the
 * air temperature rise across the unit (Q = rho * cp * V * dT) and the chilled water valve.
 */
import { NoiseBank } from './noise-bank.ts';
import { clamp } from './random.ts';
import type { PointValues, SiteConditions } from './types.ts';

/** rho * cp of air, kJ/(m3 K). */
const AIR_HEAT_CAPACITY = 1.21;
/** Temperature rise across a unit at rated heat and 100 % fan. */
const DESIGN_DELTA_T = 12;

export class CoolingUnit {
  readonly id: string;
  readonly type: 'ahu' | 'crah';
  readonly ratedKw: number;
  values: PointValues = {};
  /** Extra vibration from bearing wear, mm/s; set by the model from the active fault. */
  bearingWear = 0;
  /** Share of the coil and valve capacity lost to fouling (0..0.6); set by the model. */
  valveFouling = 0;
  /** Share of the fan's speed lost to a slipping belt (0..0.6); set by the model. */
  beltSlip = 0;

  private readonly noise: NoiseBank;
  private readonly ratedFlow: number;
  private readonly setpoint: number;
  private readonly fan;
  private readonly supply;
  private readonly valve;
  private readonly returnAir;
  private readonly vibration;
  private readonly wearJitter;
  private readonly current;
  private readonly humidity;
  private readonly chwReturn;
  private readonly staticPressure;
  private filterLoadingPa: number;
  private lastNowMs: number | undefined;

  constructor(seed: number, id: string, type: 'ahu' | 'crah', ratedKw: number) {
    this.id = id;
    this.type = type;
    this.ratedKw = ratedKw;
    this.noise = new NoiseBank(seed, id);
    this.ratedFlow = ratedKw / (AIR_HEAT_CAPACITY * DESIGN_DELTA_T);
    this.setpoint = type === 'ahu' ? 18 : 20;
    this.fan = this.noise.wander('fan', 1.0, 60);
    this.supply = this.noise.wander('supply', 0.15, 120);
    this.valve = this.noise.wander('valve', 1.5, 120);
    this.returnAir = this.noise.wander('return', 0.2, 300);
    this.vibration = this.noise.wander('vibration', 0.06, 30);
    this.wearJitter = this.noise.wander('wear-jitter', 0.08, 60);
    this.current = this.noise.wander('current', 0.05, 30);
    this.humidity = this.noise.wander('humidity', 0.6, 900);
    this.chwReturn = this.noise.wander('chw-return', 0.1, 300);
    this.staticPressure = this.noise.wander('static', 5, 20);
    this.filterLoadingPa = this.noise.rng('filter').between(20, 120);
  }

  update(site: SiteConditions, heatKw: number): void {
    this.noise.advance(site.dtSec);
    // Filters load slowly (a few Pa per day of running).
    if (this.lastNowMs !== undefined) this.filterLoadingPa += (4 * (site.nowMs - this.lastNowMs)) / 86_400_000;
    this.lastNowMs = site.nowMs;

    const lf = Math.max(0, heatKw / this.ratedKw);
    const fanPct = clamp(30 + 65 * lf + this.fan.value, 25, 100);
    // A slipping belt turns the fan slower than the drive's speed: less air for the same command.
    const flow = this.ratedFlow * (fanPct / 100) * (1 - this.beltSlip);
    // Warmer chilled water needs more valve for the same duty; a fouled coil needs more again.
    const valveDemand = (100 * lf * 1.05 * (1 + 0.12 * (site.chwSupplyTemp - 10))) / (1 - this.valveFouling) + this.valve.value;
    const overload = Math.max(0, valveDemand - 100) * 0.04;
    const supply = this.setpoint + this.supply.value + overload;
    const returnAir = supply + heatKw / (AIR_HEAT_CAPACITY * flow) + this.returnAir.value;
    // The fan's true speed: the motor sees the load of the air it actually moves.
    const speed = (fanPct / 100) * (1 - this.beltSlip);
    // Affinity laws: fan power ~ speed^3; a worn bearing adds friction (current) and vibration.
    const fullLoadAmps = this.type === 'ahu' ? 24.5 : 14;
    const current = ((this.type === 'ahu' ? 2.5 : 1.2) + fullLoadAmps * speed ** 3) * (1 + 0.035 * this.bearingWear) + this.current.value;
    const vibration = Math.max(0.05, 0.7 + 0.9 * speed ** 2 + this.vibration.value + this.bearingWear * (1 + this.wearJitter.value) + 1.5 * this.beltSlip);
    const valve = clamp(valveDemand, 0, 100);
    // A fouled coil transfers less heat per litre: the water comes back cooler than the duty says.
    const chwReturn = site.chwSupplyTemp + (valve > 0 ? (3.5 + 3 * lf) * (1 - 0.5 * this.valveFouling) : 0) + this.chwReturn.value;

    if (this.type === 'crah') {
      this.values = {
        return_air_temp: returnAir,
        supply_air_temp: supply,
        return_air_humidity: clamp(45 + site.humidityOffset + this.humidity.value - 0.5 * (returnAir - 30), 5, 95),
        fan_speed: fanPct,
        fan_motor_current: Math.max(0, current),
        fan_vibration: vibration,
        chw_valve_position: valve,
        chw_supply_temp: site.chwSupplyTemp,
        chw_return_temp: chwReturn,
        cooling_output: heatKw,
        supply_air_temp_setpoint: this.setpoint,
        remote_enable: true,
        unit_on: true,
        common_alarm: vibration > 7.1 || returnAir > 38,
      };
      return;
    }

    const outdoorFraction = 0.15;
    const mixed = (1 - outdoorFraction) * returnAir + outdoorFraction * site.outdoorTemp;
    const filterDp = (90 + this.filterLoadingPa) * speed ** 2;
    this.values = {
      supply_air_temp: supply,
      return_air_temp: returnAir,
      mixed_air_temp: mixed,
      outdoor_air_temp: site.outdoorTemp,
      supply_air_humidity: clamp(56 + site.humidityOffset * 0.5 + this.humidity.value, 5, 95),
      duct_static_pressure: 250 + this.staticPressure.value,
      supply_fan_speed: fanPct,
      fan_motor_current: Math.max(0, current),
      fan_vibration: vibration,
      filter_diff_pressure: filterDp,
      chw_valve_position: valve,
      mode: 1,
      supply_air_temp_setpoint: this.setpoint,
      duct_static_setpoint: 250,
      fan_running: true,
      fan_fault: vibration > 11.2,
      filter_dirty: filterDp > 250,
    };
  }
}
