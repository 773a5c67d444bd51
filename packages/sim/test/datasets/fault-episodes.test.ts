/** The simulator's labelled multivariate fault episodes: deterministic, labelled from the fault's start, faults that move what they should. */
import { describe, expect, it } from 'vitest';
import { faultEpisodes, EPISODE_POINTS } from '../../src/datasets/fault-episodes.ts';

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('faultEpisodes', () => {
  const eps = faultEpisodes({ perKind: 1, normalDays: 1, testDays: 1.5 });

  it('makes one episode per unit type and fault kind, deterministically', () => {
    expect(eps.map((e) => e.id)).toEqual(['ahu', 'crah'].flatMap((u) => ['none', 'fan-bearing', 'valve-fouling', 'fan-belt-slip', 'sensor-drift', 'sensor-stuck'].map((f) => `${u}-${f}-1`)));
    const again = faultEpisodes({ perKind: 1, normalDays: 1, testDays: 1.5 });
    expect(again[3]!.values).toEqual(eps[3]!.values);
    for (const e of eps) {
      expect(e.points).toEqual(EPISODE_POINTS[e.unit]);
      expect(e.values.every((r) => r.length === e.points.length && r.every(Number.isFinite))).toBe(true);
    }
  });

  it('labels 0 before the fault and through the normal period, 1 from its start', () => {
    for (const e of eps) {
      expect(e.labels.length).toBe(e.ts.length);
      expect(e.labels.slice(0, e.normalSamples).every((l) => l === 0)).toBe(true);
      if (e.fault === 'none') {
        expect(e.faultStart).toBe(-1);
        expect(e.labels.every((l) => l === 0)).toBe(true);
      } else {
        expect(e.faultStart).toBeGreaterThanOrEqual(e.normalSamples + 6 * 60);
        expect(e.labels.indexOf(1)).toBe(e.faultStart);
        expect(e.labels.slice(e.faultStart).every((l) => l === 1)).toBe(true);
      }
    }
  });

  it('moves the points each fault should move', () => {
    const by = (id: string) => eps.find((e) => e.id === id)!;
    const late = (id: string, point: string) => { const e = by(id); const j = e.points.indexOf(point); return mean(e.values.slice(-120).map((r) => r[j]!)); };
    const early = (id: string, point: string) => { const e = by(id); const j = e.points.indexOf(point); return mean(e.values.slice(e.faultStart - 120, e.faultStart).map((r) => r[j]!)); };
    // A stuck sensor reports one value from the fault's start.
    const stuck = by('ahu-sensor-stuck-1');
    const j = stuck.points.indexOf(stuck.sensor!);
    expect(new Set(stuck.values.slice(stuck.faultStart).map((r) => r[j])).size).toBe(1);
    // A fouled coil: the valve opens further for the same duty.
    expect(late('crah-valve-fouling-1', 'chw_valve_position') - early('crah-valve-fouling-1', 'chw_valve_position')).toBeGreaterThan(2);
    // A slipping belt: less air, so the motor draws less and the return air is warmer.
    expect(late('ahu-fan-belt-slip-1', 'fan_motor_current')).toBeLessThan(early('ahu-fan-belt-slip-1', 'fan_motor_current'));
    // A worn bearing: vibration up.
    expect(late('crah-fan-bearing-1', 'fan_vibration')).toBeGreaterThan(early('crah-fan-bearing-1', 'fan_vibration'));
  });
});
