import { NoiseBank } from './noise-bank.ts';
import type { SiteConditions } from './types.ts';

const HOUR_MS = 3_600_000;

/** Site-wide drivers shared by all equipment: this is what makes their noise correlated. */
export class SiteDrivers {
  private readonly noise: NoiseBank;
  private readonly loadSlow;
  private readonly loadFast;
  private readonly utility;
  private readonly frequency;
  private readonly chw;
  private readonly weather;
  private readonly humidity;
  private readonly elecRoom;

  constructor(seed: number) {
    this.noise = new NoiseBank(seed, 'site');
    this.loadSlow = this.noise.wander('load-slow', 0.03, 2700);
    this.loadFast = this.noise.wander('load-fast', 0.006, 20);
    this.utility = this.noise.wander('utility-voltage', 1.2, 300);
    this.frequency = this.noise.wander('grid-frequency', 0.02, 30);
    this.chw = this.noise.wander('chw-supply', 0.25, 1200);
    this.weather = this.noise.wander('weather', 1.5, 7200);
    this.humidity = this.noise.wander('humidity', 3, 7200);
    this.elecRoom = this.noise.wander('elec-room', 0.5, 3600);
  }

  advance(nowMs: number, dtSec: number, baseItKw: number, loadFactor: number): SiteConditions {
    this.noise.advance(dtSec);
    const hourOfDay = (((nowMs % (24 * HOUR_MS)) + 24 * HOUR_MS) % (24 * HOUR_MS)) / HOUR_MS;
    const diurnal = Math.sin((2 * Math.PI * (hourOfDay - 9)) / 24);
    return {
      nowMs,
      dtSec,
      diurnal,
      itLoadKw: Math.max(0, baseItKw * loadFactor * (1 + 0.06 * diurnal + this.loadSlow.value + this.loadFast.value)),
      utilityVoltage: 231 + this.utility.value,
      gridFrequency: 50 + this.frequency.value,
      chwSupplyTemp: 10 + this.chw.value,
      outdoorTemp: 15 + 7 * Math.sin((2 * Math.PI * (hourOfDay - 10)) / 24) + this.weather.value,
      humidityOffset: this.humidity.value,
      elecRoomTemp: 24 + this.elecRoom.value,
    };
  }
}
