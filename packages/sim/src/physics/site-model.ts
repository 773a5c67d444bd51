/**
 * The physics of a simulated site: pure and deterministic given a seed and the sequence of
 * `step(nowMs)` calls. No timers, no I/O: whoever drives it chooses the clock.
 *
 * Topology: the IT load is shared by the PDUs; PDU n is fed by UPS (n mod #UPS); the heat of the
 * IT load plus UPS losses is removed by the AHUs and CRAHs; panels carry building loads from the
 * utility bus; generators stand by.
 */
import { SimError } from '../errors.ts';
import { CoolingUnit } from './cooling.ts';
import { bearingWear, capacityLoss, coolantDrift, DEFAULT_FAULT_RATE } from './faults.ts';
import { Generator } from './generator.ts';
import { Panel, PANEL_BREAKERS, Pdu, PDU_BREAKERS, Ups } from './power.ts';
import { NoiseBank } from './noise-bank.ts';
import { SiteDrivers } from './site-conditions.ts';
import { Server } from './server.ts';
import type { ActiveFault, AssetType, FaultKind, FaultSpec, PointValues, SimAsset } from './types.ts';

export interface SiteModelOptions {
  assets: SimAsset[];
  /** Seed of every noise source and fixed parameter (default 1). */
  seed?: number;
  /** Simulated time of the first state (epoch ms, default 2025-01-01T00:00:00Z). */
  startMs?: number;
  /** Mean IT load of the whole site in kW (default 75 kW per PDU, or 600 kW without PDUs). */
  itLoadKw?: number;
}

const FAULT_TYPES: Record<FaultKind, readonly AssetType[]> = {
  'fan-bearing': ['ahu', 'crah'],
  'coolant-drift': ['generator'],
  'valve-fouling': ['ahu', 'crah'],
  'fan-belt-slip': ['ahu', 'crah'],
};

export class SiteModel {
  readonly seed: number;
  readonly baseItLoadKw: number;
  private readonly assetList: readonly SimAsset[];
  private readonly byId = new Map<string, SimAsset>();
  private readonly drivers: SiteDrivers;
  private readonly ups: Ups[] = [];
  private readonly pdus: Pdu[] = [];
  private readonly panels = new Map<string, Panel>();
  private readonly cooling: CoolingUnit[] = [];
  private readonly generators = new Map<string, Generator>();
  private readonly servers: Server[] = [];
  private readonly pduShares: number[];
  private readonly coolingShares: number[];
  private readonly activeFaults = new Map<string, ActiveFault>();
  private readonly snapshot = new Map<string, PointValues>();
  private now: number;
  private loadFactor = 1;
  private lastItLoadKw = 0;

  constructor(options: SiteModelOptions) {
    this.seed = options.seed ?? 1;
    this.now = options.startMs ?? Date.UTC(2025, 0, 1);
    this.assetList = options.assets.map((a) => ({ ...a }));
    const counts = { pdu: 0, ups: 0, cooling: 0 };
    for (const a of this.assetList) {
      if (this.byId.has(a.id)) throw new SimError('invalid_option', `asset ${a.id} is listed twice`, { asset: a.id });
      this.byId.set(a.id, a);
      if (a.type === 'pdu') counts.pdu++;
      if (a.type === 'ups') counts.ups++;
      if (a.type === 'ahu' || a.type === 'crah') counts.cooling++;
    }
    this.baseItLoadKw = options.itLoadKw ?? (counts.pdu > 0 ? 75 * counts.pdu : 600);
    // Ratings leave headroom over the design load, as a real site would (N+1-ish).
    const upsRated = counts.ups > 0 ? Math.ceil((1.6 * this.baseItLoadKw) / counts.ups / 50) * 50 : 0;
    const coolingRated = counts.cooling > 0 ? Math.ceil((1.5 * this.baseItLoadKw) / counts.cooling / 10) * 10 : 0;
    for (const a of this.assetList) {
      switch (a.type) {
        case 'ups': this.ups.push(new Ups(this.seed, a.id, upsRated)); break;
        case 'pdu': this.pdus.push(new Pdu(this.seed, a.id)); break;
        case 'panel': this.panels.set(a.id, new Panel(this.seed, a.id)); break;
        case 'generator': this.generators.set(a.id, new Generator(this.seed, a.id)); break;
        case 'ahu': case 'crah': this.cooling.push(new CoolingUnit(this.seed, a.id, a.type, coolingRated)); break;
        case 'server': this.servers.push(new Server(this.seed, a.id)); break;
      }
    }
    const shares = new NoiseBank(this.seed, 'topology');
    this.pduShares = normalise(this.pdus.map((p) => shares.rng(p.id).between(0.8, 1.2)));
    this.coolingShares = normalise(this.cooling.map((c) => shares.rng(c.id).between(0.85, 1.15)));
    this.drivers = new SiteDrivers(this.seed);
    this.compute(0);
  }

  /** Simulated time of the current state (epoch ms). */
  get nowMs(): number {
    return this.now;
  }

  assets(): readonly SimAsset[] {
    return this.assetList;
  }

  /** Current IT load of the whole site, kW. */
  itLoadKw(): number {
    return this.lastItLoadKw;
  }

  /** Advances the model to `nowMs` (simulated epoch ms). Steps backwards in time are ignored. */
  step(nowMs: number): void {
    if (!(nowMs > this.now)) return;
    const dtSec = (nowMs - this.now) / 1000;
    this.now = nowMs;
    this.compute(dtSec);
  }

  /** The engineering values of an asset, keyed by its profile's point names. */
  values(asset: string): Readonly<PointValues> {
    const v = this.snapshot.get(asset);
    if (!v) throw new SimError('unknown_asset', `no asset ${asset} in this site`, { asset });
    return v;
  }

  /** Scales the site IT load (1 = nominal), e.g. to simulate a load surge. */
  setLoadFactor(factor: number): void {
    if (!Number.isFinite(factor) || factor < 0) throw new SimError('invalid_option', 'load factor must be a finite number >= 0', { factor });
    this.loadFactor = factor;
  }

  injectFault(spec: FaultSpec): ActiveFault {
    const asset = this.requireAsset(spec.asset);
    const allowed = FAULT_TYPES[spec.kind];
    if (!allowed) throw new SimError('unsupported_fault', `unknown fault kind ${String(spec.kind)}`, { kind: spec.kind });
    if (!allowed.includes(asset.type)) {
      throw new SimError('unsupported_fault', `a ${asset.type} cannot develop ${spec.kind}`, { asset: spec.asset, kind: spec.kind });
    }
    const ratePerHour = spec.ratePerHour ?? DEFAULT_FAULT_RATE[spec.kind];
    if (!Number.isFinite(ratePerHour) || ratePerHour < 0) {
      throw new SimError('invalid_option', 'ratePerHour must be a finite number >= 0', { ratePerHour });
    }
    const timeScale = spec.timeScale ?? 1;
    if (!Number.isFinite(timeScale) || timeScale <= 0) {
      throw new SimError('invalid_option', 'timeScale must be a finite number > 0', { timeScale });
    }
    const startsAfterMs = spec.startsAfterMs ?? 0;
    if (!Number.isFinite(startsAfterMs) || startsAfterMs < 0) {
      throw new SimError('invalid_option', 'startsAfterMs must be a finite number >= 0', { startsAfterMs });
    }
    const fault: ActiveFault = { asset: spec.asset, kind: spec.kind, ratePerHour, timeScale, sinceMs: this.now + startsAfterMs };
    this.activeFaults.set(faultKey(spec.asset, spec.kind), fault);
    return { ...fault };
  }

  /** Repairs a fault (e.g. after a bearing change). Returns whether one was active. */
  clearFault(asset: string, kind: FaultKind): boolean {
    const removed = this.activeFaults.delete(faultKey(asset, kind));
    this.compute(0);
    return removed;
  }

  faults(): ActiveFault[] {
    return [...this.activeFaults.values()].map((f) => ({ ...f }));
  }

  openDoor(asset: string): void {
    this.panel(asset).doorOpen = true;
    this.compute(0);
  }

  closeDoor(asset: string): void {
    this.panel(asset).doorOpen = false;
    this.compute(0);
  }

  /**
   * Opens or closes a breaker of a panel or PDU: `n` 1..6 is a branch (output) breaker,
   * `n` 0 the main (input) breaker.
   */
  setBreaker(asset: string, n: number, closed: boolean): void {
    const a = this.requireAsset(asset);
    const target = a.type === 'panel' ? this.panels.get(asset) : a.type === 'pdu' ? this.pdus.find((p) => p.id === asset) : undefined;
    if (!target) throw new SimError('unknown_asset', `${asset} is a ${a.type}, not a panel or PDU`, { asset });
    const count = target instanceof Panel ? PANEL_BREAKERS : PDU_BREAKERS;
    if (!Number.isInteger(n) || n < 0 || n > count) {
      throw new SimError('invalid_option', `breaker must be 0 (main) or 1..${count}`, { asset, breaker: n });
    }
    if (n === 0) {
      if (target instanceof Panel) target.mainClosed = closed;
      else target.inputClosed = closed;
    } else {
      target.breakers[n - 1] = closed;
    }
    this.compute(0);
  }

  startGenerator(asset: string): void {
    this.generator(asset).running = true;
    this.compute(0);
  }

  stopGenerator(asset: string): void {
    this.generator(asset).running = false;
    this.compute(0);
  }

  private compute(dtSec: number): void {
    const site = this.drivers.advance(this.now, dtSec, this.baseItLoadKw, this.loadFactor);
    this.lastItLoadKw = site.itLoadKw;
    for (const u of this.ups) u.prepare(site);
    const upsLoad = this.ups.map(() => 0);
    this.pdus.forEach((pdu, i) => {
      const feed = this.ups.length > 0 ? i % this.ups.length : -1;
      const supply = this.ups[feed]?.output ?? { voltages: [site.utilityVoltage, site.utilityVoltage, site.utilityVoltage], frequency: site.gridFrequency };
      pdu.update(site, site.itLoadKw * (this.pduShares[i] ?? 0), supply);
      // Cabling and transformer losses between UPS output and PDU meters.
      if (feed >= 0) upsLoad[feed] = (upsLoad[feed] ?? 0) + pdu.kw * 1.015;
    });
    this.ups.forEach((u, i) => u.update(site, this.pdus.length > 0 ? (upsLoad[i] ?? 0) : site.itLoadKw / this.ups.length));
    for (const p of this.panels.values()) p.update(site);

    const itHeat = this.pdus.length > 0 ? this.pdus.reduce((s, p) => s + p.kw, 0) : site.itLoadKw;
    const heat = itHeat + this.ups.reduce((s, u) => s + u.lossKw, 0);
    this.cooling.forEach((c, i) => {
      const fault = this.activeFaults.get(faultKey(c.id, 'fan-bearing'));
      c.bearingWear = fault ? bearingWear(fault.ratePerHour, faultHours(fault, this.now)) : 0;
      const fouling = this.activeFaults.get(faultKey(c.id, 'valve-fouling'));
      c.valveFouling = fouling ? capacityLoss(fouling.ratePerHour, faultHours(fouling, this.now)) : 0;
      const slip = this.activeFaults.get(faultKey(c.id, 'fan-belt-slip'));
      c.beltSlip = slip ? capacityLoss(slip.ratePerHour, faultHours(slip, this.now)) : 0;
      c.update(site, heat * (this.coolingShares[i] ?? 0));
    });
    // Servers breathe what the cooling units supply (the mean supply air; 20 degC without cooling units).
    const supplies = this.cooling.map((c) => c.values.supply_air_temp).filter((v): v is number => typeof v === 'number');
    const supplyAir = supplies.length > 0 ? supplies.reduce((s, v) => s + v, 0) / supplies.length : 20;
    for (const s of this.servers) s.update(site, site.itLoadKw / this.baseItLoadKw, supplyAir);
    for (const g of this.generators.values()) {
      const fault = this.activeFaults.get(faultKey(g.id, 'coolant-drift'));
      g.coolantDrift = fault ? coolantDrift(fault.ratePerHour, faultHours(fault, this.now)) : 0;
      g.update(site);
    }

    for (const u of this.ups) this.snapshot.set(u.id, u.values);
    for (const p of this.pdus) this.snapshot.set(p.id, p.values);
    for (const p of this.panels.values()) this.snapshot.set(p.id, p.values);
    for (const c of this.cooling) this.snapshot.set(c.id, c.values);
    for (const g of this.generators.values()) this.snapshot.set(g.id, g.values);
    for (const s of this.servers) this.snapshot.set(s.id, s.values);
  }

  private requireAsset(id: string): SimAsset {
    const a = this.byId.get(id);
    if (!a) throw new SimError('unknown_asset', `no asset ${id} in this site`, { asset: id });
    return a;
  }

  private panel(id: string): Panel {
    this.requireAsset(id);
    const p = this.panels.get(id);
    if (!p) throw new SimError('unknown_asset', `${id} is not a panel`, { asset: id });
    return p;
  }

  private generator(id: string): Generator {
    this.requireAsset(id);
    const g = this.generators.get(id);
    if (!g) throw new SimError('unknown_asset', `${id} is not a generator`, { asset: id });
    return g;
  }
}

/** Hours the fault has developed for at `nowMs` (negative before it begins). */
function faultHours(fault: ActiveFault, nowMs: number): number {
  return ((nowMs - fault.sinceMs) / 3_600_000) * fault.timeScale;
}

function faultKey(asset: string, kind: FaultKind): string {
  return `${asset}\u0000${kind}`;
}

function normalise(weights: number[]): number[] {
  const sum = weights.reduce((s, w) => s + w, 0);
  return sum > 0 ? weights.map((w) => w / sum) : weights;
}
