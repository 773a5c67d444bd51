/** `shellguard guardian discover-bacnet` against the simulator's BACnet/IP controllers on loopback. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { profileOfProtocol } from '@shellguard/protocol';
import { loadProfiles, startBacnetDevice, type SimulatedBacnetDevice } from '@shellguard/sim';
import { discoverBacnet } from '../../src/commands/guardian.ts';

describe('guardian discover-bacnet', () => {
  let device: SimulatedBacnetDevice;
  beforeAll(async () => {
    const profile = profileOfProtocol(loadProfiles().get('crah-bacnet')!, 'bacnet');
    device = await startBacnetDevice({ host: '127.0.0.1', port: 0, deviceInstance: 31_337, profile, values: () => ({}), covCheckMs: 0 });
  });
  afterAll(async () => { await device?.close(); });

  it('lists the device that answers, with what guardian.yaml needs', async () => {
    const lines: string[] = [];
    const n = await discoverBacnet({ broadcast: '127.0.0.1', port: device.port, timeoutMs: 300 }, (l) => lines.push(l));
    expect(n).toBe(1);
    expect(lines[1]).toMatch(new RegExp(`^31337\\s+127\\.0\\.0\\.1:${device.port}\\s+-\\s+1476\\s+none\\s+999$`));
    const json: string[] = [];
    await discoverBacnet({ broadcast: '127.0.0.1', port: device.port, timeoutMs: 300, json: true }, (l) => json.push(l));
    expect(JSON.parse(json[0]!)).toEqual([{ deviceInstance: 31_337, host: '127.0.0.1', port: device.port, maxApdu: 1476, segmentation: 'none', vendorId: 999 }]);
    expect(device.writesReceived()).toBe(0);
  });

  it('says what to check when nothing answers, and honours the instance range', async () => {
    const lines: string[] = [];
    expect(await discoverBacnet({ broadcast: '127.0.0.1', port: device.port, timeoutMs: 300, low: 1, high: 100 }, (l) => lines.push(l))).toBe(0);
    expect(lines[0]).toMatch(/no BACnet device answered .* directed broadcast/);
  });
});
