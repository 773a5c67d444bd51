import { describe, expect, it } from 'vitest';
import { planSite, SiteModel, SimError, type PointValues } from '../../src/index.ts';

const START = Date.UTC(2025, 5, 1, 12);
const MINUTE = 60_000;
const HOUR = 3_600_000;
const assets = planSite();

function run(model: SiteModel, fromMs: number, toMs: number, stepMs: number): void {
  for (let t = fromMs + stepMs; t <= toMs; t += stepMs) model.step(t);
}

function num(v: PointValues, name: string): number {
  const x = v[name];
  if (typeof x !== 'number') throw new Error(`${name} is not a number`);
  return x;
}

function sum(model: SiteModel, type: string, point: string): number {
  return assets.filter((a) => a.type === type).reduce((s, a) => s + num(model.values(a.id), point), 0);
}

describe('SiteModel', () => {
  it('is deterministic for a seed and a clock', () => {
    const a = new SiteModel({ assets, seed: 42, startMs: START });
    const b = new SiteModel({ assets, seed: 42, startMs: START });
    run(a, START, START + HOUR, 1000);
    run(b, START, START + HOUR, 1000);
    for (const asset of assets) expect(a.values(asset.id)).toEqual(b.values(asset.id));
  });

  it('differs between seeds', () => {
    const a = new SiteModel({ assets, seed: 1, startMs: START });
    const b = new SiteModel({ assets, seed: 2, startMs: START });
    expect(a.values('PDU-01')).not.toEqual(b.values('PDU-01'));
  });

  it('ignores steps backwards in time', () => {
    const m = new SiteModel({ assets, seed: 5, startMs: START });
    m.step(START + MINUTE);
    const before = { ...m.values('UPS-01') };
    m.step(START);
    expect(m.nowMs).toBe(START + MINUTE);
    expect(m.values('UPS-01')).toEqual(before);
  });

  it('makes IT load drive PDU currents, UPS load and cooling in the same direction', () => {
    const low = new SiteModel({ assets, seed: 9, startMs: START });
    const high = new SiteModel({ assets, seed: 9, startMs: START });
    high.setLoadFactor(1.4);
    run(low, START, START + 10 * MINUTE, 10_000);
    run(high, START, START + 10 * MINUTE, 10_000);
    expect(high.itLoadKw()).toBeGreaterThan(low.itLoadKw());
    for (const pdu of assets.filter((a) => a.type === 'pdu')) {
      expect(num(high.values(pdu.id), 'current_l1')).toBeGreaterThan(num(low.values(pdu.id), 'current_l1'));
    }
    expect(sum(high, 'ups', 'load_percent')).toBeGreaterThan(sum(low, 'ups', 'load_percent'));
    expect(sum(high, 'ups', 'output_kw')).toBeGreaterThan(sum(low, 'ups', 'output_kw'));
    expect(sum(high, 'crah', 'chw_valve_position')).toBeGreaterThan(sum(low, 'crah', 'chw_valve_position'));
    expect(sum(high, 'crah', 'fan_speed')).toBeGreaterThan(sum(low, 'crah', 'fan_speed'));
    expect(sum(high, 'ahu', 'return_air_temp')).toBeGreaterThan(sum(low, 'ahu', 'return_air_temp'));
  });

  it('keeps power consistent: each UPS carries the PDUs it feeds', () => {
    const m = new SiteModel({ assets, seed: 11, startMs: START });
    // PDU n is fed by UPS (n mod 4): UPS-01 feeds PDU-01 and PDU-05.
    const pduKw = num(m.values('PDU-01'), 'total_kw') + num(m.values('PDU-05'), 'total_kw');
    expect(num(m.values('UPS-01'), 'output_kw')).toBeCloseTo(pduKw * 1.015, 6);
    const sumKw = assets.filter((a) => a.type === 'pdu').reduce((s, a) => s + num(m.values(a.id), 'total_kw'), 0);
    expect(sumKw).toBeGreaterThan(0.8 * m.itLoadKw());
    expect(sumKw).toBeLessThan(1.2 * m.itLoadKw());
  });

  it('raises fan vibration and motor current over hours of a fan-bearing fault', () => {
    const healthy = new SiteModel({ assets, seed: 4, startMs: START });
    const worn = new SiteModel({ assets, seed: 4, startMs: START });
    worn.injectFault({ asset: 'CRAH-03', kind: 'fan-bearing', ratePerHour: 0.5 });
    const vib: number[] = [];
    for (let h = 1; h <= 8; h++) {
      run(healthy, START + (h - 1) * HOUR, START + h * HOUR, MINUTE);
      run(worn, START + (h - 1) * HOUR, START + h * HOUR, MINUTE);
      vib.push(num(worn.values('CRAH-03'), 'fan_vibration'));
    }
    // Wear after 8 h at 0.5 mm/s/h (accelerating): 0.5 * 8 * (1 + 8/24) = 5.3 mm/s extra.
    expect(vib[7]! - num(healthy.values('CRAH-03'), 'fan_vibration')).toBeGreaterThan(4);
    expect(vib[7]!).toBeGreaterThan(vib[1]! + 2);
    expect(num(worn.values('CRAH-03'), 'fan_motor_current')).toBeGreaterThan(num(healthy.values('CRAH-03'), 'fan_motor_current'));
    // Other units are unaffected.
    expect(worn.values('CRAH-04')).toEqual(healthy.values('CRAH-04'));
    expect(worn.faults()).toEqual([{ asset: 'CRAH-03', kind: 'fan-bearing', ratePerHour: 0.5, timeScale: 1, sinceMs: START }]);
  });

  it('develops a time-compressed fault as the real one would over scaled time, after its delay', () => {
    const real = new SiteModel({ assets, seed: 4, startMs: START });
    const compressed = new SiteModel({ assets, seed: 4, startMs: START });
    real.injectFault({ asset: 'AHU-02', kind: 'fan-bearing' });
    // 180 times faster, starting 90 s after injection: 3 minutes later it has worn for 9 h.
    compressed.injectFault({ asset: 'AHU-02', kind: 'fan-bearing', timeScale: 180, startsAfterMs: 90_000 });
    const healthy = new SiteModel({ assets, seed: 4, startMs: START });
    run(compressed, START, START + 90_000, 1_000);
    run(healthy, START, START + 90_000, 1_000);
    expect(compressed.values('AHU-02')).toEqual(healthy.values('AHU-02'));
    run(compressed, START + 90_000, START + 90_000 + 3 * MINUTE, 1_000);
    run(healthy, START + 90_000, START + 90_000 + 3 * MINUTE, 1_000);
    real.step(START + 9 * HOUR);
    const wear = (m: SiteModel, base: SiteModel) => num(m.values('AHU-02'), 'fan_vibration') - num(base.values('AHU-02'), 'fan_vibration');
    // bearingWear(0.3, 9 h) = 0.3 * 9 * (1 + 9/24) = 3.7 mm/s, give or take the wear jitter.
    expect(wear(compressed, healthy)).toBeGreaterThan(3.7 * 0.8);
    expect(wear(compressed, healthy)).toBeLessThan(3.7 * 1.25);
    expect(compressed.faults()[0]).toMatchObject({ timeScale: 180, sinceMs: START + 90_000 });
    expect(() => compressed.injectFault({ asset: 'AHU-01', kind: 'fan-bearing', timeScale: 0 })).toThrow(/timeScale/);
    expect(() => compressed.injectFault({ asset: 'AHU-01', kind: 'fan-bearing', startsAfterMs: -1 })).toThrow(/startsAfterMs/);
  });

  it('scales bearing wear with the configured rate', () => {
    const slow = new SiteModel({ assets, seed: 4, startMs: START });
    const fast = new SiteModel({ assets, seed: 4, startMs: START });
    slow.injectFault({ asset: 'AHU-02', kind: 'fan-bearing', ratePerHour: 0.1 });
    fast.injectFault({ asset: 'AHU-02', kind: 'fan-bearing', ratePerHour: 1 });
    slow.step(START + 6 * HOUR);
    fast.step(START + 6 * HOUR);
    expect(num(fast.values('AHU-02'), 'fan_vibration')).toBeGreaterThan(num(slow.values('AHU-02'), 'fan_vibration') + 3);
  });

  it('drifts a generator coolant temperature up and raises its warning', () => {
    const m = new SiteModel({ assets, seed: 8, startMs: START });
    expect(num(m.values('GEN-01'), 'coolant_temp')).toBeGreaterThan(37);
    expect(num(m.values('GEN-01'), 'coolant_temp')).toBeLessThan(43);
    m.injectFault({ asset: 'GEN-01', kind: 'coolant-drift', ratePerHour: 3 });
    run(m, START, START + 8 * HOUR, 5 * MINUTE);
    expect(num(m.values('GEN-01'), 'coolant_temp')).toBeGreaterThan(60);
    expect(m.values('GEN-01').common_warning).toBe(true);
    expect(num(m.values('GEN-02'), 'coolant_temp')).toBeLessThan(43);
  });

  it('keeps generators on standby until started', () => {
    const m = new SiteModel({ assets, seed: 2, startMs: START });
    const idle = m.values('GEN-02');
    expect(idle.running).toBe(false);
    expect(idle.engine_speed).toBe(0);
    expect(num(idle, 'battery_voltage')).toBeGreaterThan(26.8);
    expect(num(idle, 'battery_voltage')).toBeLessThan(27.6);
    m.startGenerator('GEN-02');
    run(m, START, START + HOUR, 10_000);
    const run1 = m.values('GEN-02');
    expect(run1.running).toBe(true);
    expect(num(run1, 'engine_speed')).toBeGreaterThan(1450);
    expect(num(run1, 'coolant_temp')).toBeGreaterThan(70);
    expect(num(run1, 'run_hours')).toBeGreaterThan(num(idle, 'run_hours') + 0.99);
  });

  it('opens panel doors and breakers on demand', () => {
    const m = new SiteModel({ assets, seed: 6, startMs: START });
    expect(m.values('PANEL-02').door_open).toBe(false);
    expect(m.values('PANEL-02').breaker_4_closed).toBe(true);
    const before = num(m.values('PANEL-02'), 'current_l1');
    m.openDoor('PANEL-02');
    m.setBreaker('PANEL-02', 4, false); // branch 4 is on L1
    expect(m.values('PANEL-02').door_open).toBe(true);
    expect(m.values('PANEL-02').breaker_4_closed).toBe(false);
    expect(num(m.values('PANEL-02'), 'current_l1')).toBeLessThan(before);
    m.setBreaker('PANEL-02', 0, false);
    expect(m.values('PANEL-02').main_breaker_closed).toBe(false);
    expect(m.values('PANEL-02').current_l2).toBe(0);
    expect(m.values('PANEL-01').door_open).toBe(false);
  });

  it('drops a PDU load when its breakers open', () => {
    const m = new SiteModel({ assets, seed: 6, startMs: START });
    const before = num(m.values('PDU-03'), 'total_kw');
    m.setBreaker('PDU-03', 1, false);
    expect(num(m.values('PDU-03'), 'total_kw')).toBeCloseTo((before * 5) / 6, 6);
    m.setBreaker('PDU-03', 0, false);
    expect(m.values('PDU-03').total_kw).toBe(0);
    expect(m.values('PDU-03').input_breaker_closed).toBe(false);
  });

  it('refuses unknown assets, wrong asset types and unknown breakers', () => {
    const m = new SiteModel({ assets, seed: 1, startMs: START });
    expect(() => m.openDoor('PANEL-99')).toThrow(expect.objectContaining({ code: 'unknown_asset' }));
    expect(() => m.openDoor('UPS-01')).toThrow(SimError);
    expect(() => m.injectFault({ asset: 'UPS-01', kind: 'fan-bearing' })).toThrow(expect.objectContaining({ code: 'unsupported_fault' }));
    expect(() => m.injectFault({ asset: 'GEN-01', kind: 'fan-bearing' })).toThrow(expect.objectContaining({ code: 'unsupported_fault' }));
    expect(() => m.setBreaker('PANEL-01', 7, false)).toThrow(expect.objectContaining({ code: 'invalid_option' }));
    expect(() => m.values('NOPE')).toThrow(expect.objectContaining({ code: 'unknown_asset' }));
  });
});
