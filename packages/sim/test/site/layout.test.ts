import { describe, expect, it } from 'vitest';
import { isValidId } from '@shellguard/protocol';
import { planSite, SimError } from '../../src/index.ts';

describe('planSite', () => {
  it('plans 32 assets by default: 4 AHU, 6 CRAH, 4 UPS, 8 PDU, 2 generators, 8 panels', () => {
    const plan = planSite();
    const count = (t: string) => plan.filter((a) => a.type === t).length;
    expect(plan).toHaveLength(32);
    expect([count('ahu'), count('crah'), count('ups'), count('pdu'), count('generator'), count('panel')]).toEqual([4, 6, 4, 8, 2, 8]);
    expect(plan.map((a) => a.id)).toContain('AHU-01');
    expect(plan.find((a) => a.id === 'PANEL-05')!.area).toBe('elec-room-2');
  });

  it('gives every asset a unique valid id and an area', () => {
    for (const n of [1, 6, 32, 100]) {
      const plan = planSite(n);
      expect(plan).toHaveLength(n);
      expect(new Set(plan.map((a) => a.id)).size).toBe(n);
      for (const a of plan) {
        expect(isValidId(a.id)).toBe(true);
        expect(isValidId(a.area)).toBe(true);
      }
    }
  });

  it('keeps every type in the mix from six assets up', () => {
    expect(new Set(planSite(6).map((a) => a.type)).size).toBe(6);
    expect(new Set(planSite(64).map((a) => a.type)).size).toBe(6);
  });

  it('refuses a count it cannot plan', () => {
    expect(() => planSite(0)).toThrow(SimError);
    expect(() => planSite(2.5)).toThrow(SimError);
  });
});
