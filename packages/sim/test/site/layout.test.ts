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

  it('plans a mixed site: cooling over BACnet, UPSs and PDUs over SNMP, servers over Redfish', () => {
    const mixed = planSite(36, 'mixed');
    expect(mixed).toHaveLength(36);
    const byType = (t: string) => mixed.filter((a) => a.type === t).map((a) => a.profile);
    expect(byType('server')).toEqual(['server-redfish', 'server-redfish-legacy', 'server-redfish', 'server-redfish-legacy']);
    expect(new Set(byType('ahu'))).toEqual(new Set(['ahu-bacnet']));
    expect(new Set(byType('ups'))).toEqual(new Set(['ups-rfc1628']));
    expect(new Set(byType('pdu')).size).toBe(2);
    expect(new Set(byType('panel'))).toEqual(new Set(['panel-generic']));
    expect(planSite(32).some((a) => a.type === 'server')).toBe(false);
  });

  it('refuses a count it cannot plan', () => {
    expect(() => planSite(0)).toThrow(SimError);
    expect(() => planSite(2.5)).toThrow(SimError);
  });
});
