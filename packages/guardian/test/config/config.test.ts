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
});
