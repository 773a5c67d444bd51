/**
 * Electrical distribution: UPSs feed PDUs, which carry the IT load; panels carry building
 * (mechanical, lighting) loads straight from the utility bus.
 */
import { NoiseBank } from './noise-bank.ts';
import { clamp } from './random.ts';
import type { PointValues, SiteConditions } from './types.ts';

type Phases = [number, number, number];
const PHASES = [0, 1, 2] as const;

/** A fixed per-asset phase imbalance, averaging 1. */
function imbalance(noise: NoiseBank, spread: number): Phases {
  const rng = noise.rng('imbalance');
  const raw = PHASES.map(() => 1 + rng.between(-spread, spread));
  const mean = (raw[0]! + raw[1]! + raw[2]!) / 3;
  return [raw[0]! / mean, raw[1]! / mean, raw[2]! / mean];
}

export interface PowerSupply {
  voltages: Phases;
  frequency: number;
}

export class Ups {
  readonly id: string;
  readonly ratedKw: number;
  values: PointValues = {};
  /** Output voltages and frequency of this step, set by `prepare` before the PDUs draw from it. */
  output: PowerSupply = { voltages: [230, 230, 230], frequency: 50 };
  /** Heat rejected into the room this step (kW). */
  lossKw = 0;

  private readonly noise: NoiseBank;
  private readonly inputOffsets: Phases;
  private readonly outputOffsets: Phases;
  private readonly currentImbalance: Phases;
  private readonly outputVoltage;
  private readonly batteryVoltage;
  private readonly batteryTemp;
  private energyKwh: number;

  constructor(seed: number, id: string, ratedKw: number) {
    this.id = id;
    this.ratedKw = ratedKw;
    this.noise = new NoiseBank(seed, id);
    const rng = this.noise.rng('offsets');
    this.inputOffsets = [rng.between(-1.5, 1.5), rng.between(-1.5, 1.5), rng.between(-1.5, 1.5)];
    this.outputOffsets = [rng.between(-0.5, 0.5), rng.between(-0.5, 0.5), rng.between(-0.5, 0.5)];
    this.currentImbalance = imbalance(this.noise, 0.04);
    this.outputVoltage = this.noise.wander('output-voltage', 0.2, 60);
    this.batteryVoltage = this.noise.wander('battery-voltage', 0.3, 600);
    this.batteryTemp = this.noise.wander('battery-temp', 0.2, 1800);
    this.energyKwh = this.noise.rng('energy').between(2e6, 6e6);
  }

  prepare(site: SiteConditions): void {
    this.noise.advance(site.dtSec);
    this.output = {
      voltages: PHASES.map((p) => 230 + this.outputOffsets[p] + this.outputVoltage.value) as Phases,
      // Double-conversion output stays synchronised to the mains when the mains is healthy.
      frequency: site.gridFrequency,
    };
  }

  update(site: SiteConditions, loadKw: number): void {
    const pf = 0.97;
    const efficiency = 0.96;
    this.lossKw = loadKw * (1 / efficiency - 1);
    this.energyKwh += (loadKw * site.dtSec) / 3600;
    const loadFraction = loadKw / this.ratedKw;
    const phaseKw = loadKw / 3;
    const out = this.output.voltages;
    this.values = {
      input_voltage_l1: site.utilityVoltage + this.inputOffsets[0],
      input_voltage_l2: site.utilityVoltage + this.inputOffsets[1],
      input_voltage_l3: site.utilityVoltage + this.inputOffsets[2],
      output_voltage_l1: out[0],
      output_voltage_l2: out[1],
      output_voltage_l3: out[2],
      output_current_l1: (phaseKw * 1000 * this.currentImbalance[0]) / (out[0] * pf),
      output_current_l2: (phaseKw * 1000 * this.currentImbalance[1]) / (out[1] * pf),
      output_current_l3: (phaseKw * 1000 * this.currentImbalance[2]) / (out[2] * pf),
      input_frequency: site.gridFrequency,
      output_frequency: this.output.frequency,
      load_percent: 100 * loadFraction,
      output_kw: loadKw,
      // 240 VRLA cells on float at ~2.27 V/cell.
      battery_voltage: 545 + this.batteryVoltage.value,
      battery_current: 0.4 + this.batteryVoltage.value * 0.2,
      battery_temp: site.elecRoomTemp + 1 + this.batteryTemp.value,
      battery_charge: 100,
      runtime_remaining: Math.round(clamp(10 / Math.max(loadFraction, 0.01) ** 1.2, 0, 999)),
      ups_mode: 2,
      output_energy: this.energyKwh,
      output_apparent_power: loadKw / pf,
      on_battery: false,
      on_bypass: false,
      ups_fault: false,
      battery_low: false,
    };
  }
}

export const PDU_BREAKERS = 6;

export class Pdu {
  readonly id: string;
  values: PointValues = {};
  inputClosed = true;
  readonly breakers: boolean[] = Array.from({ length: PDU_BREAKERS }, () => true);
  /** Power drawn this step (kW). */
  kw = 0;

  private readonly noise: NoiseBank;
  private readonly phaseShare: Phases;
  private readonly ownLoad;
  private readonly pf;
  private energyKwh: number;

  constructor(seed: number, id: string) {
    this.id = id;
    this.noise = new NoiseBank(seed, id);
    this.phaseShare = imbalance(this.noise, 0.05);
    this.ownLoad = this.noise.wander('load', 0.02, 600);
    this.pf = this.noise.wander('pf', 0.004, 600);
    this.energyKwh = this.noise.rng('energy').between(2.5e5, 9e5);
  }

  update(site: SiteConditions, demandKw: number, supply: PowerSupply): void {
    this.noise.advance(site.dtSec);
    const closedBranches = this.breakers.filter(Boolean).length;
    const energised = this.inputClosed;
    this.kw = energised ? Math.max(0, demandKw * (1 + this.ownLoad.value) * (closedBranches / PDU_BREAKERS)) : 0;
    this.energyKwh += (this.kw * site.dtSec) / 3600;
    const pf = clamp(0.96 + this.pf.value, 0.85, 1);
    const currents = PHASES.map((p) => {
      const v = supply.voltages[p];
      return this.kw > 0 && v > 0 ? ((this.kw * 1000) / 3) * this.phaseShare[p] / (v * pf) : 0;
    }) as Phases;
    // A small cable drop between the UPS and the PDU meter, proportional to current.
    const voltages = PHASES.map((p) => (energised ? supply.voltages[p] - 0.004 * currents[p] : 0)) as Phases;
    const values: PointValues = {
      current_l1: currents[0],
      current_l2: currents[1],
      current_l3: currents[2],
      voltage_l1: voltages[0],
      voltage_l2: voltages[1],
      voltage_l3: voltages[2],
      total_kw: this.kw,
      power_factor: this.kw > 0 ? pf : 0,
      frequency: energised ? supply.frequency : 0,
      energy_total: this.energyKwh,
      input_breaker_closed: this.inputClosed,
    };
    this.breakers.forEach((closed, i) => { values[`breaker_${i + 1}_closed`] = closed; });
    this.values = values;
  }
}

export const PANEL_BREAKERS = 6;

export class Panel {
  readonly id: string;
  values: PointValues = {};
  doorOpen = false;
  mainClosed = true;
  readonly breakers: boolean[] = Array.from({ length: PANEL_BREAKERS }, () => true);

  private readonly noise: NoiseBank;
  private readonly branchAmps: number[];
  private readonly voltageOffsets: Phases;
  private readonly demand;

  constructor(seed: number, id: string) {
    this.id = id;
    this.noise = new NoiseBank(seed, id);
    const rng = this.noise.rng('branches');
    this.branchAmps = Array.from({ length: PANEL_BREAKERS }, () => rng.between(8, 45));
    this.voltageOffsets = [rng.between(-1, 1), rng.between(-1, 1), rng.between(-1, 1)];
    this.demand = this.noise.wander('demand', 0.03, 600);
  }

  update(site: SiteConditions): void {
    this.noise.advance(site.dtSec);
    const factor = Math.max(0, 0.85 + 0.15 * site.diurnal + this.demand.value);
    const currents: Phases = [0, 0, 0];
    if (this.mainClosed) {
      this.branchAmps.forEach((amps, i) => {
        if (this.breakers[i]) currents[(i % 3) as 0 | 1 | 2] += amps * factor;
      });
    }
    const voltages = PHASES.map((p) => (this.mainClosed ? site.utilityVoltage + this.voltageOffsets[p] : 0)) as Phases;
    const kw = (voltages[0] * currents[0] + voltages[1] * currents[1] + voltages[2] * currents[2]) * 0.92 / 1000;
    const values: PointValues = {
      door_open: this.doorOpen,
      main_breaker_closed: this.mainClosed,
      voltage_l1: voltages[0],
      voltage_l2: voltages[1],
      voltage_l3: voltages[2],
      current_l1: currents[0],
      current_l2: currents[1],
      current_l3: currents[2],
      total_kw: kw,
    };
    this.breakers.forEach((closed, i) => { values[`breaker_${i + 1}_closed`] = closed; });
    this.values = values;
  }
}
