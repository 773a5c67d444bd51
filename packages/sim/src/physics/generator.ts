/**
 * A standby diesel generator: idle with its jacket-water heater keeping the coolant near 40 degC
 * and a float charger on the starter battery, until it is started.
 */
import { NoiseBank } from './noise-bank.ts';
import { approach, clamp } from './random.ts';
import type { PointValues, SiteConditions } from './types.ts';

export class Generator {
  readonly id: string;
  values: PointValues = {};
  running = false;
  /** Coolant reading offset from a drift fault, degC; set by the model. */
  coolantDrift = 0;

  private readonly noise: NoiseBank;
  private readonly coolantNoise;
  private readonly batteryNoise;
  private readonly speedNoise;
  private readonly voltageNoise;
  private coolant = 40;
  private oilTemp = 35;
  private fuelPct: number;
  private runHours: number;

  constructor(seed: number, id: string) {
    this.id = id;
    this.noise = new NoiseBank(seed, id);
    this.coolantNoise = this.noise.wander('coolant', 0.4, 300);
    this.batteryNoise = this.noise.wander('battery', 0.04, 600);
    this.speedNoise = this.noise.wander('speed', 2, 5);
    this.voltageNoise = this.noise.wander('voltage', 0.4, 10);
    const rng = this.noise.rng('counters');
    this.fuelPct = rng.between(90, 98);
    this.runHours = Math.round(rng.between(150, 900) * 10) / 10;
  }

  update(site: SiteConditions): void {
    this.noise.advance(site.dtSec);
    const dt = site.dtSec;
    this.coolant = approach(this.coolant, this.running ? 82 : 40, dt, this.running ? 480 : 1800);
    this.oilTemp = approach(this.oilTemp, this.running ? 95 : this.coolant - 5, dt, this.running ? 900 : 3600);
    if (this.running) {
      this.runHours += dt / 3600;
      // Unloaded run: about 2 % of the day tank per hour.
      this.fuelPct = Math.max(0, this.fuelPct - (2 * dt) / 3600);
    }
    const coolant = this.coolant + this.coolantDrift + this.coolantNoise.value;
    const run = this.running;
    this.values = {
      engine_speed: run ? 1500 + this.speedNoise.value : 0,
      coolant_temp: coolant,
      oil_pressure: run ? clamp(4.1 - 0.005 * (this.oilTemp - 90) + this.speedNoise.value * 0.01, 0, 10) : 0,
      oil_temp: this.oilTemp,
      battery_voltage: (run ? 27.9 : 27.2) + this.batteryNoise.value,
      fuel_level: this.fuelPct,
      output_kw: 0,
      frequency: run ? 50 + this.speedNoise.value / 30 : 0,
      voltage_l1: run ? 230 + this.voltageNoise.value : 0,
      voltage_l2: run ? 230.4 + this.voltageNoise.value : 0,
      voltage_l3: run ? 229.7 + this.voltageNoise.value : 0,
      run_hours: this.runHours,
      control_mode: run ? 3 : 1,
      running: run,
      common_warning: coolant >= 95 || (!run && coolant >= 55),
      common_alarm: coolant >= 105,
    };
  }
}
