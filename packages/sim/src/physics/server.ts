/**
 * Rack servers, read over Redfish: a sample of the IT load whose power follows the site's load,
 * whose inlet air is what the cooling units supply, and whose CPUs and fans answer to both.
 */
import { NoiseBank } from './noise-bank.ts';
import { clamp } from './random.ts';
import type { PointValues, SiteConditions } from './types.ts';

const IDLE_W = 180;
const PEAK_W = 650;
const PSU_EFFICIENCY = 0.94;

export class Server {
  readonly id: string;
  values: PointValues = {};
  private readonly noise: NoiseBank;
  private readonly inletOffset: number;
  private readonly utilShare: number;
  private readonly psuImbalance: number;
  private readonly fanOffsets: number[];
  private readonly util;
  private readonly inletWander;
  private readonly cpuWander;
  private energyKwh: number;

  constructor(seed: number, id: string) {
    this.id = id;
    this.noise = new NoiseBank(seed, id);
    const rng = this.noise.rng('fixed');
    this.inletOffset = rng.between(0.3, 2.5);
    this.utilShare = rng.between(0.8, 1.2);
    this.psuImbalance = rng.between(-0.05, 0.05);
    this.fanOffsets = [0, 1, 2, 3].map(() => rng.between(-150, 150));
    this.util = this.noise.wander('util', 0.06, 120);
    this.inletWander = this.noise.wander('inlet', 0.15, 300);
    this.cpuWander = this.noise.wander('cpu', 0.8, 30);
    this.energyKwh = rng.between(2_000, 20_000);
  }

  /** `loadRatio` is the site's IT load against its design load; `supplyAirC` what the cooling supplies. */
  update(site: SiteConditions, loadRatio: number, supplyAirC: number): void {
    this.noise.advance(site.dtSec);
    const util = clamp(0.55 * loadRatio * this.utilShare + this.util.value, 0.05, 1);
    const inlet = supplyAirC + this.inletOffset + this.inletWander.value;
    const powerW = IDLE_W + util * (PEAK_W - IDLE_W);
    this.energyKwh += (powerW / 1000) * (site.dtSec / 3600);
    const cpu1 = inlet + 14 + util * 38 + this.cpuWander.value;
    const cpu2 = cpu1 - 2.5 + this.cpuWander.value * 0.5;
    const fanBase = clamp(3600 + (Math.max(cpu1, cpu2) - 45) * 140, 3000, 16000);
    const psuIn = powerW / PSU_EFFICIENCY;
    const hottest = Math.max(cpu1, cpu2);
    this.values = {
      inlet_temp: inlet,
      exhaust_temp: inlet + 6 + util * 11,
      cpu1_temp: cpu1,
      cpu2_temp: cpu2,
      fan_1_speed: Math.round(fanBase + this.fanOffsets[0]!),
      fan_2_speed: Math.round(fanBase + this.fanOffsets[1]!),
      fan_3_speed: Math.round(fanBase + this.fanOffsets[2]!),
      fan_4_speed: Math.round(fanBase + this.fanOffsets[3]!),
      power_watts: Math.round(psuIn),
      psu_1_input_voltage: site.utilityVoltage,
      psu_2_input_voltage: site.utilityVoltage + 0.4,
      psu_1_power_watts: Math.round(psuIn * (0.5 + this.psuImbalance)),
      psu_2_power_watts: Math.round(psuIn * (0.5 - this.psuImbalance)),
      energy_kwh: Math.round(this.energyKwh * 100) / 100,
      health: hottest > 95 ? 2 : hottest > 85 ? 1 : 0,
      power_on: true,
    };
  }
}
