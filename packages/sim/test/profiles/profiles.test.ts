import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BUILTIN_PROFILE_DIR, parseProfile, profileOfProtocol, registerCount, type ModbusProfile } from '@shellguard/protocol';
import { ASSET_TYPES, PROFILE_FOR_TYPE, SiteModel, loadProfiles, planSite } from '../../src/index.ts';

const profiles = loadProfiles();
const modbus = (id: string): ModbusProfile => profileOfProtocol(profiles.get(id)!, 'modbus');
const modbusProfiles = [...profiles.values()].filter((p): p is ModbusProfile => p.protocol === 'modbus');

describe('built-in equipment profiles', () => {
  it('parses every YAML file in the profile folder', () => {
    const files = readdirSync(BUILTIN_PROFILE_DIR).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const f of files) {
      const full = path.join(BUILTIN_PROFILE_DIR, f);
      expect(() => parseProfile(readFileSync(full, 'utf8'), full)).not.toThrow();
    }
    expect(profiles.size).toBe(files.length);
  });

  it('ships one profile for each asset type the simulator plays', () => {
    for (const type of ASSET_TYPES) {
      const p = profiles.get(PROFILE_FOR_TYPE[type]);
      expect(p, PROFILE_FOR_TYPE[type]).toBeDefined();
      expect(p!.type).toBe(type);
    }
  });

  it.each(modbusProfiles.map((p) => [p.id, p] as const))('%s has no overlapping registers within a table', (_id, profile: ModbusProfile) => {
    const owner = new Map<string, string>();
    for (const point of profile.points) {
      for (let w = 0; w < registerCount(point.type); w++) {
        const key = `${point.table}:${point.address + w}`;
        expect(owner.get(key), `${point.name} overlaps ${owner.get(key)} at ${key}`).toBeUndefined();
        owner.set(key, point.name);
      }
    }
  });

  it('marks panel door contacts and breakers for the fast path', () => {
    const panel = profiles.get('panel-generic')!;
    const fast = panel.points.filter((p) => p.fast).map((p) => p.name);
    expect(fast).toEqual(expect.arrayContaining(['door_open', 'main_breaker_closed', 'breaker_1_closed', 'breaker_6_closed']));
    expect(panel.points.find((p) => p.name === 'voltage_l1')!.fast).toBe(false);
  });

  it('uses 32-bit values where counters need them', () => {
    const wide = (id: string) => modbus(id).points.filter((p) => registerCount(p.type) === 2).map((p) => p.name);
    expect(wide('ups-generic')).toEqual(expect.arrayContaining(['output_energy']));
    expect(wide('pdu-generic')).toEqual(expect.arrayContaining(['energy_total']));
    expect(wide('generator-generic')).toEqual(expect.arrayContaining(['run_hours']));
  });

  it('has a simulated value for every point of every profile', () => {
    const model = new SiteModel({ assets: planSite(), seed: 3 });
    for (const asset of planSite()) {
      const values = model.values(asset.id);
      for (const point of profiles.get(asset.profile)!.points) {
        expect(values[point.name], `${asset.id}.${point.name}`).toBeDefined();
      }
    }
  });
});
