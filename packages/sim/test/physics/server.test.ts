import { describe, expect, it } from 'vitest';
import { SiteModel } from '../../src/index.ts';

const START = Date.UTC(2025, 5, 1, 14);

function site(loadFactor = 1): SiteModel {
  const m = new SiteModel({
    assets: [{ id: 'CRAH-01', type: 'crah' }, { id: 'PDU-01', type: 'pdu' }, { id: 'SRV-01', type: 'server' }, { id: 'SRV-02', type: 'server' }],
    seed: 5, startMs: START,
  });
  m.setLoadFactor(loadFactor);
  return m;
}

describe('rack servers in the physics model', () => {
  it('breathe the supply air of the cooling units and run hotter inside than at the inlet', () => {
    const m = site();
    for (let t = 1; t <= 120; t++) m.step(START + t * 1000);
    const crah = m.values('CRAH-01');
    for (const id of ['SRV-01', 'SRV-02']) {
      const v = m.values(id);
      expect(v.inlet_temp as number).toBeGreaterThan(crah.supply_air_temp as number);
      expect(v.inlet_temp as number).toBeLessThan((crah.supply_air_temp as number) + 4);
      expect(v.exhaust_temp as number).toBeGreaterThan(v.inlet_temp as number);
      expect(v.cpu1_temp as number).toBeGreaterThan(v.exhaust_temp as number);
      expect(v.power_watts as number).toBeGreaterThan(150);
      expect((v.psu_1_power_watts as number) + (v.psu_2_power_watts as number)).toBeCloseTo(v.power_watts as number, -1);
      expect(v.fan_1_speed as number).toBeGreaterThanOrEqual(3000);
      expect(v.health).toBe(0);
      expect(v.power_on).toBe(true);
    }
    expect(m.values('SRV-01').inlet_temp).not.toBe(m.values('SRV-02').inlet_temp);
  });

  it('draws more power and counts more energy when the site load is higher', () => {
    const low = site(0.5);
    const high = site(1.5);
    const e0 = { low: low.values('SRV-01').energy_kwh as number, high: high.values('SRV-01').energy_kwh as number };
    for (let t = 1; t <= 3600; t += 10) { low.step(START + t * 1000); high.step(START + t * 1000); }
    expect(high.values('SRV-01').power_watts as number).toBeGreaterThan(low.values('SRV-01').power_watts as number);
    expect((high.values('SRV-01').energy_kwh as number) - e0.high).toBeGreaterThan((low.values('SRV-01').energy_kwh as number) - e0.low);
  });
});
