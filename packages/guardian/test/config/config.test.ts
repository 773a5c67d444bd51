import { describe, expect, it } from 'vitest';
import { ConfigError, validateGuardianConfig } from '../../src/config/config.ts';

const valid = {
  site: 'site-1',
  dataDir: './data',
  server: { mqttUrl: 'mqtts://127.0.0.1:8883', apiUrl: 'https://127.0.0.1:8443', caFile: 'root.crt' },
  equipment: [{ asset: 'AHU-01', profile: 'ahu-generic', host: '127.0.0.1', port: 15020, area: 'hall-1' }],
};

function check(doc: unknown): unknown {
  return validateGuardianConfig(doc, 'guardian.yaml', '/etc/shellguard');
}

describe('validateGuardianConfig', () => {
  it('fills defaults and resolves paths against the config folder', () => {
    const c = validateGuardianConfig(valid, 'guardian.yaml', '/etc/shellguard');
    expect(c.dataDir).toBe('/etc/shellguard/data');
    expect(c.equipment[0]).toMatchObject({ unitId: 1, pollIntervalMs: 1000, fastPollIntervalMs: 250, timeoutMs: 1000, name: 'AHU-01' });
    expect(c.server.apiCaFile).toBeUndefined();
  });

  it('takes a separate CA for an API that presents an operator certificate', () => {
    const c = validateGuardianConfig({ ...valid, server: { ...valid.server, apiCaFile: 'corp-root.crt' } }, 'guardian.yaml', '/etc/shellguard');
    expect(c.server).toMatchObject({ caFile: '/etc/shellguard/root.crt', apiCaFile: '/etc/shellguard/corp-root.crt' });
  });

  it('makes a panel controller of a panel in its equipment: its tower, and its door read every 25 ms', () => {
    const panel = { asset: 'PANEL-01', profile: 'panel-generic', host: '127.0.0.1', port: 15021 };
    const c = validateGuardianConfig({ ...valid, equipment: [...valid.equipment, panel], panels: [{ asset: 'PANEL-01', tower: { host: '10.0.0.9', port: 10000 } }] }, 'guardian.yaml', '/etc/shellguard');
    expect(c.panels).toEqual([{ asset: 'PANEL-01', tower: { host: '10.0.0.9', port: 10000 }, doorPollMs: 25 }]);
    expect(c.equipment.find((e) => e.asset === 'PANEL-01')!.fastPollIntervalMs).toBe(25);
    expect(c.equipment.find((e) => e.asset === 'AHU-01')!.fastPollIntervalMs).toBe(250);
  });

  it.each([
    [{ ...valid, panels: [{ asset: 'PANEL-09', tower: { host: 'h', port: 1 } }] }, /panels\[0\]\.asset: PANEL-09 is not in equipment/],
    [{ ...valid, panels: [{ asset: 'AHU-01', tower: { host: 'h', port: 1, write: true } }] }, /panels\[0\]\.tower\.write: unknown field/],
    [{ ...valid, panels: [{ asset: 'AHU-01', tower: { host: 'h', port: 1 }, doorPollMs: 5 }] }, /doorPollMs: must be a whole number from 10 to 1000/],
    [{ ...valid, panels: { asset: 'AHU-01' } }, /panels: must be a list/],
  ])('refuses a broken panel controller config (%#)', (doc, message) => {
    expect(() => check(doc)).toThrow(message);
  });

  it.each([
    [{ ...valid, site: 'a/b' }, /site: "a\/b" may use only/],
    [{ ...valid, server: { ...valid.server, mqttUrl: 'mqtt://127.0.0.1:1883' } }, /must be mqtts:\/\/host:port/],
    [{ ...valid, equipment: [] }, /equipment: must list at least one/],
    [{ ...valid, server: { ...valid.server, apiUrl: 'http://127.0.0.1:8443' } }, /server.apiUrl: must be https:\/\/host:port/],
    [{ ...valid, server: { ...valid.server, certFile: 'x.crt' } }, /server.certFile: unknown field/],
    [{ ...valid, equipment: [{ ...valid.equipment[0], port: 70000 }] }, /equipment\[0\]\.port: must be a whole number from 1 to 65535/],
    [{ ...valid, equipment: [valid.equipment[0], valid.equipment[0]] }, /listed twice/],
    [{ ...valid, equipment: [{ ...valid.equipment[0], writeEnable: true }] }, /equipment\[0\]\.writeEnable: unknown field/],
    [{ ...valid, server: undefined }, /server: must be a mapping/],
  ])('refuses a broken config with a message naming the field (%#)', (doc, message) => {
    expect(() => check(doc)).toThrow(ConfigError);
    expect(() => check(doc)).toThrow(message);
  });

  describe('refuses a misspelt key in every section, naming the file, the field and the keys it knows', () => {
    it.each([
      ['root', { ...valid, sever: {} }, 'sever', 'site, dataDir, server, profilesDir, snmpTraps, queue, equipment, panels, updates'],
      ['server', { ...valid, server: { ...valid.server, caFlie: 'root.crt' } }, 'server.caFlie', 'mqttUrl, apiUrl, caFile, apiCaFile'],
      ['queue', { ...valid, queue: { maxBatch: 1000 } }, 'queue.maxBatch', 'maxBatches'],
      ['updates', { ...valid, updates: { installDir: '/opt/x', trustedRootsDir: '/etc/x', directorKey: 'k' } }, 'updates.directorKey', 'installDir, trustedRootsDir, product'],
      ['equipment[i]', { ...valid, equipment: [valid.equipment[0], { ...valid.equipment[0], asset: 'AHU-02', pollInterval: 500 }] }, 'equipment[1].pollInterval',
        'asset, name, area, profile, host, port, unitId, pollIntervalMs, fastPollIntervalMs, timeoutMs, bacnet, snmp, redfish'],
    ])('%s', (_section, doc, field, known) => {
      let err: unknown;
      try {
        check(doc);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toBe(`guardian.yaml: ${field}: unknown field (known: ${known})`);
      expect((err as ConfigError).details).toEqual({ source: 'guardian.yaml', field });
    });
  });

  it('accepts every known key', () => {
    const c = validateGuardianConfig({
      ...valid, profilesDir: 'profiles', queue: { maxBatches: 1000 },
      equipment: [{ ...valid.equipment[0], name: 'AHU 1', unitId: 3, pollIntervalMs: 500, fastPollIntervalMs: 0, timeoutMs: 200 }],
    }, 'guardian.yaml', '/etc/shellguard');
    expect(c).toMatchObject({ profilesDir: '/etc/shellguard/profiles', queue: { maxBatches: 1000 } });
    expect(c.equipment[0]).toMatchObject({ name: 'AHU 1', unitId: 3, pollIntervalMs: 500, fastPollIntervalMs: 0, timeoutMs: 200 });
  });

  it('reads the updates section: install and trusted-root folders resolved against the file, product defaulted', () => {
    const c = validateGuardianConfig({ ...valid, updates: { installDir: '../opt/shellguard/guardian', trustedRootsDir: 'tuf' } }, 'guardian.yaml', '/etc/shellguard');
    expect(c.updates).toEqual({ installDir: '/etc/opt/shellguard/guardian', trustedRootsDir: '/etc/shellguard/tuf', product: 'shellguard-guardian' });
    expect(() => check({ ...valid, updates: { installDir: '/opt/x' } })).toThrow(/updates\.trustedRootsDir/);
    expect(validateGuardianConfig(valid, 'guardian.yaml', '/etc/shellguard').updates).toBeUndefined();
  });

  it('refuses a document that is not a mapping and a queue that is not one', () => {
    expect(() => check(['site'])).toThrow('guardian.yaml: (root): must be a mapping');
    expect(() => check({ ...valid, queue: 5 })).toThrow('guardian.yaml: queue: must be a mapping');
  });
});
