import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import modbusSerial from 'modbus-serial';
import { decodePointValue, profileOfProtocol, registerCount, type ProfilePoint } from '@shellguard/protocol';
import { loadProfiles, startSimulatedSite, type SimulatedSite } from '../../src/index.ts';

// Under NodeNext, TypeScript types this CJS package's default import as its module object; the
// class is its `default` (index.js sets module.exports.default = module.exports).
const ModbusRTU = modbusSerial.default;
type ModbusRTU = InstanceType<typeof ModbusRTU>;

// Port range for this package's tests: 15000-15999.
const FIXED_NOW = Date.UTC(2025, 5, 1, 12);
const profiles = loadProfiles();
const started: SimulatedSite[] = [];
const clients: ModbusRTU[] = [];

async function site(basePort: number, extra: Partial<Parameters<typeof startSimulatedSite>[0]> = {}): Promise<SimulatedSite> {
  // A frozen clock: the physics never steps during a test, so wire values equal model values.
  const s = await startSimulatedSite({ site: 'test-site', basePort, seed: 12, clock: () => FIXED_NOW, ...extra });
  started.push(s);
  return s;
}

async function connect(port: number): Promise<ModbusRTU> {
  const client = new ModbusRTU();
  clients.push(client);
  await client.connectTCP('127.0.0.1', { port });
  client.setID(1);
  client.setTimeout(5000);
  return client;
}

async function readPoint(client: ModbusRTU, point: ProfilePoint): Promise<number | boolean> {
  const n = registerCount(point.type);
  switch (point.table) {
    case 'input': return decodePointValue(point, (await client.readInputRegisters(point.address, n)).data);
    case 'holding': return decodePointValue(point, (await client.readHoldingRegisters(point.address, n)).data);
    case 'discrete': return decodePointValue(point, [(await client.readDiscreteInputs(point.address, 1)).data[0] ? 1 : 0]);
    case 'coil': return decodePointValue(point, [(await client.readCoils(point.address, 1)).data[0] ? 1 : 0]);
  }
}

function tolerance(point: ProfilePoint, expected: number): number {
  // Half a count of the register, or float32 precision.
  return point.type === 'float32' ? Math.max(1e-6, Math.abs(expected) * 1e-6) : Math.abs(point.scale) / 2 + 1e-9;
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => { sock.destroy(); resolve(false); });
    sock.once('error', () => resolve(true));
  });
}

afterEach(async () => {
  for (const c of clients.splice(0)) await new Promise<void>((r) => (c.isOpen ? c.close(() => r()) : r()));
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

describe('startSimulatedSite', () => {
  it('serves 32 assets of all six types on consecutive loopback ports', async () => {
    const s = await site(15000);
    expect(s.assets).toHaveLength(32);
    expect(new Set(s.assets.map((a) => a.type))).toEqual(new Set(['ahu', 'crah', 'ups', 'pdu', 'generator', 'panel']));
    expect(s.assets.map((a) => a.port)).toEqual(Array.from({ length: 32 }, (_, i) => 15000 + i));
    expect(s.assets[0]).toMatchObject({ id: 'AHU-01', type: 'ahu', profile: 'ahu-generic', area: 'hall-1', host: '127.0.0.1', unitId: 1 });
  });

  it('returns over Modbus TCP the values of the model, within scaling precision', async () => {
    const s = await site(15100);
    const checked = new Set<string>();
    for (const type of ['ahu', 'crah', 'ups', 'pdu', 'generator', 'panel']) {
      const asset = s.assets.find((a) => a.type === type)!;
      const profile = profileOfProtocol(profiles.get(asset.profile)!, 'modbus');
      const client = await connect(asset.port);
      const model = s.model.values(asset.id);
      for (const point of profile.points) {
        const wire = await readPoint(client, point);
        const expected = model[point.name]!;
        if (typeof expected === 'boolean' || point.kind !== 'analog') {
          expect(wire, `${asset.id}.${point.name}`).toEqual(typeof expected === 'boolean' ? expected : Math.round(expected));
        } else {
          expect(Math.abs((wire as number) - expected), `${asset.id}.${point.name}: ${wire} vs ${expected}`).toBeLessThanOrEqual(tolerance(point, expected));
        }
        checked.add(point.table);
      }
    }
    expect(checked).toEqual(new Set(['input', 'holding', 'discrete', 'coil']));
    expect(s.writesReceived()).toBe(0);
  });

  it('shows a door opened in the model on the wire', async () => {
    const s = await site(15200, { assets: 6 });
    const panel = s.assets.find((a) => a.type === 'panel')!;
    const client = await connect(panel.port);
    expect((await client.readDiscreteInputs(0, 8)).data.slice(0, 8)).toEqual([false, true, true, true, true, true, true, true]);
    s.model.openDoor(panel.id);
    s.model.setBreaker(panel.id, 2, false);
    expect((await client.readDiscreteInputs(0, 8)).data.slice(0, 8)).toEqual([true, true, true, false, true, true, true, true]);
  });

  it('reads a whole register block across gaps in the map, and refuses addresses beyond it', async () => {
    const s = await site(15300, { assets: 6 });
    const ups = s.assets.find((a) => a.type === 'ups')!;
    const client = await connect(ups.port);
    const block = (await client.readHoldingRegisters(0, 24)).data;
    expect(block).toHaveLength(24);
    expect(block[19]).toBe(0);
    await expect(client.readHoldingRegisters(24, 1)).rejects.toMatchObject({ modbusCode: 2 });
    await expect(client.readInputRegisters(0, 1)).rejects.toMatchObject({ modbusCode: 2 });
  });

  it('answers FC43/14 read device identification with the profile', async () => {
    const s = await site(15400, { assets: 6 });
    const client = await connect(s.assets[0]!.port);
    const id = await client.readDeviceIdentification(1, 0);
    expect(Object.values(id.data)).toContain('ahu-generic');
  });

  it('counts every write request it receives', async () => {
    const seen: string[] = [];
    const s = await site(15500, { assets: 6, onWrite: (asset, w) => seen.push(`${asset}:${w.request.split(' ')[2]}`) });
    const ups = s.assets.find((a) => a.type === 'ups')!;
    const crah = s.assets.find((a) => a.type === 'crah')!;
    expect(s.writesReceived()).toBe(0);
    await (await connect(ups.port)).writeRegister(11, 999);
    expect(s.writesReceived()).toBe(1);
    const c = await connect(crah.port);
    await c.writeCoil(0, false);
    await c.writeRegisters(0, [150, 160]);
    await c.writeCoils(0, [false, false, false]);
    expect(s.writesReceived()).toBe(4);
    expect(s.writesByAsset()).toEqual({ [ups.id]: 1, [crah.id]: 3 });
    expect(seen).toEqual([`${ups.id}:6`, `${crah.id}:5`, `${crah.id}:16`, `${crah.id}:15`]);
    // Writes are accepted but do not move the physics.
    expect(s.model.values(ups.id).ups_mode).toBe(2);
  });

  it('counts a write the library itself rejects (FC22 mask write, raw frame)', async () => {
    const s = await site(15600, { assets: 6 });
    const frame = Buffer.from([0x00, 0x01, 0x00, 0x00, 0x00, 0x08, 0x01, 22, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00]);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const sock = net.connect({ host: '127.0.0.1', port: s.assets[0]!.port }, () => sock.write(frame));
      sock.once('data', (d) => { sock.destroy(); resolve(d); });
      sock.once('error', reject);
    });
    expect(reply[7]).toBe(22 | 0x80); // illegal function exception
    expect(s.writesReceived()).toBe(1);
  });

  it('closes every port on stop()', async () => {
    const s = await site(15700, { assets: 8 });
    const client = await connect(s.assets[3]!.port);
    expect(await refused(s.assets[0]!.port)).toBe(false);
    await s.stop();
    await s.stop();
    for (const a of s.assets) expect(await refused(a.port)).toBe(true);
    expect(client.isOpen).toBe(false);
  });

  it('lets the OS choose ports when basePort is 0', async () => {
    const s = await site(0, { assets: 6 });
    const ports = s.assets.map((a) => a.port);
    expect(new Set(ports).size).toBe(6);
    for (const p of ports) expect(p).toBeGreaterThan(0);
  });

  it('refuses a port that is taken, and releases the ports it had opened', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen({ host: '127.0.0.1', port: 15803 }, r));
    try {
      await expect(startSimulatedSite({ site: 's', basePort: 15800, assets: 6 })).rejects.toMatchObject({
        code: 'port_in_use',
        message: expect.stringContaining('port 15803 on 127.0.0.1 is already in use'),
      });
      expect(await refused(15800)).toBe(true);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });

  it('refuses bad options', async () => {
    await expect(startSimulatedSite({ site: 'bad site', basePort: 15900 })).rejects.toMatchObject({ code: 'invalid_option' });
    await expect(startSimulatedSite({ site: 's', basePort: 65530 })).rejects.toMatchObject({ code: 'invalid_option' });
    await expect(startSimulatedSite({ site: 's', basePort: 15900, timeScale: 0 })).rejects.toMatchObject({ code: 'invalid_option' });
  });

  it('steps the physics on its timer, at timeScale simulated seconds per wall second', async () => {
    let wall = FIXED_NOW;
    const s = await startSimulatedSite({ site: 's', basePort: 15950, assets: 6, tickMs: 5, timeScale: 3600, clock: () => wall });
    started.push(s);
    wall += 2000; // two wall seconds = two simulated hours
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => { if (s.model.nowMs > FIXED_NOW) { clearInterval(poll); resolve(); } }, 5);
    });
    expect(s.model.nowMs).toBe(FIXED_NOW + 2 * 3_600_000);
  });
});
