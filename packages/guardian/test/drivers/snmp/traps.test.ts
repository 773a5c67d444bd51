/**
 * Traps and informs: the receiver matches them to the asset by source address, the driver turns
 * trap-fed points into samples and re-reads the asset (trap-directed polling). Sent by the
 * simulator's agent from its own port, and by Net-SNMP's snmptrap/snmpinform (v2c, v3 authPriv).
 * Wrong communities and random or mutated datagrams are counted, never crash.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fc from 'fast-check';
import pino from 'pino';
import { Quality, systemClock, type Sample } from '@shellguard/protocol';
import { SnmpDriver } from '../../../src/drivers/snmp/snmp-driver.ts';
import { SnmpTrapReceiver } from '../../../src/drivers/snmp/trap-receiver.ts';
import { COMMUNITY, V3_USER, secretsDir, snmpOptions, startSimUps, writeSecret, type SimDevice } from './sim-device.ts';

const logger = pino({ level: 'silent' });
const ON_BATTERY = '1.3.6.1.2.1.33.2.1';
const ALARM_REMOVED = '1.3.6.1.2.1.33.2.4';
/** Runs a CLI without blocking the event loop (the receiver in this process must answer it). */
function run(cmd: string, args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    c.on('exit', (status) => resolve({ status, stderr }));
  });
}
const hasNetSnmpCli = spawnSync('snmptrap', ['-V'], { stdio: 'ignore' }).status === 0 || process.env.CI === 'true';

async function startReceiver(): Promise<SnmpTrapReceiver> {
  const dir = secretsDir();
  const v3 = snmpOptions('3').user!;
  return SnmpTrapReceiver.start({ host: '127.0.0.1', port: 0, communityFile: writeSecret(dir, 'trap-community', COMMUNITY), users: [v3], logger });
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

async function setup(): Promise<{ receiver: SnmpTrapReceiver; device: SimDevice; driver: SnmpDriver; pushed: Sample[] }> {
  const receiver = await startReceiver();
  cleanups.push(() => receiver.close());
  const device = await startSimUps('2c', { trapTarget: { host: '127.0.0.1', port: receiver.port, community: COMMUNITY } });
  cleanups.push(() => device.close());
  const pushed: Sample[] = [];
  const driver = new SnmpDriver({ equipment: device.equipment, profile: device.profile as never, clock: systemClock, logger, onSamples: (s) => pushed.push(...s), services: { snmpTraps: receiver } });
  cleanups.push(() => driver.close());
  return { receiver, device, driver, pushed };
}

describe('SNMP traps', () => {
  it('turns upsTrapOnBattery from the agent into a sample and a trap-directed read', async () => {
    const { receiver, device, driver, pushed } = await setup();
    await device.agent().sendTrap(ON_BATTERY);
    await expect.poll(() => pushed.some((s) => s.point === 'on_battery_trap' && s.value === true), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => pushed.filter((s) => s.point === 'input_voltage_l1' && s.quality === Quality.good).length, { timeout: 10_000 }).toBe(1);
    await driver.idle();
    await device.agent().sendTrap(ALARM_REMOVED);
    await expect.poll(() => pushed.some((s) => s.point === 'on_battery_trap' && s.value === false), { timeout: 10_000 }).toBe(true);
    expect(receiver.stats()).toMatchObject({ delivered: 2, unmatched: 0, unauthenticated: 0 });
    expect(device.writesReceived()).toBe(0);
  });

  it('sends upsTrapOnBattery on its own when the physics goes on battery', async () => {
    let onBattery = false;
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const device = await startSimUps('2c', { trapTarget: { host: '127.0.0.1', port: receiver.port, community: COMMUNITY }, values: () => ({ input_voltage_l1: 230, on_battery: onBattery, runtime_remaining: 12 }) });
    cleanups.push(() => device.close());
    const traps: string[] = [];
    receiver.register({ asset: 'UPS-01', host: '127.0.0.1', port: device.equipment.port }, (t) => traps.push(t.trapOid));
    onBattery = true;
    await device.agent().checkEvents();
    await expect.poll(() => traps, { timeout: 10_000 }).toEqual([ON_BATTERY, '1.3.6.1.2.1.33.2.3']);
  });

  it('counts traps with a wrong community and from unknown addresses, and delivers none of them', async () => {
    const { receiver, device, pushed } = await setup();
    await device.agent().sendTrap(ON_BATTERY, [], { host: '127.0.0.1', port: receiver.port, community: 'wrong-community' });
    await expect.poll(() => receiver.stats().unauthenticated, { timeout: 10_000 }).toBe(1);
    // Same host, but a second asset on it makes the port decide: an unknown port matches nobody.
    receiver.register({ asset: 'UPS-02', host: '127.0.0.1', port: 1 }, () => { throw new Error('not this one'); });
    const plain = (await import('net-snmp')).default.createSession('127.0.0.1', COMMUNITY, { version: 1, trapPort: receiver.port });
    plain.trap(ON_BATTERY, () => plain.close());
    await expect.poll(() => receiver.stats().unmatched, { timeout: 10_000 }).toBe(1);
    expect(pushed).toEqual([]);
  });

  it('survives random and mutated datagrams on the trap port', async () => {
    const { receiver, device } = await setup();
    const s = dgram.createSocket('udp4');
    cleanups.push(() => { s.close(); });
    const validTrap = Buffer.from('30820045020101040c73672d726561642d37663361a73202047b2d3a9b020100020100302430100608 2b06010201010300430300f3f0301006 0a2b06010603010104010006022b06'.replace(/\s/g, ''), 'hex');
    await fc.assert(fc.asyncProperty(
      fc.oneof(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.tuple(fc.nat(validTrap.length - 1), fc.integer({ min: 0, max: 255 })).map(([i, b]) => { const m = Buffer.from(validTrap); m[i] = b; return new Uint8Array(m); })),
      async (bytes) => { await new Promise<void>((r) => s.send(bytes, receiver.port, '127.0.0.1', () => r())); },
    ), { numRuns: 300 });
    // The receiver still works afterwards: once it has worked through the fuzz (its counters
    // stop moving), one more trap from the agent is delivered.
    const total = () => Object.values(receiver.stats()).reduce((a, b) => a + b, 0);
    let seen = -1;
    await expect.poll(() => { const t = total(); const settled = t === seen; seen = t; return settled; }, { timeout: 10_000, interval: 300 }).toBe(true);
    const before = receiver.stats().delivered;
    await device.agent().sendTrap(ON_BATTERY);
    await expect.poll(() => receiver.stats().delivered, { timeout: 10_000 }).toBe(before + 1);
    expect(receiver.stats().malformed + receiver.stats().unauthenticated + receiver.stats().unmatched + receiver.stats().delivered).toBeGreaterThan(0);
  });
});

describe.skipIf(!hasNetSnmpCli)('SNMP traps from Net-SNMP\'s snmptrap and snmpinform', () => {
  it('receives a v2c trap and acknowledges a v3 authPriv inform, both becoming samples', async () => {
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const got: { oid: string; inform: boolean }[] = [];
    receiver.register({ asset: 'UPS-CLI', host: '127.0.0.1', port: 161 }, (t) => got.push({ oid: t.trapOid, inform: t.inform }));
    const trap = await run('snmptrap', ['-v', '2c', '-c', COMMUNITY, `udp:127.0.0.1:${receiver.port}`, '', ON_BATTERY, '1.3.6.1.2.1.33.1.2.3.0', 'i', '12']);
    expect(trap.status, trap.stderr).toBe(0);
    const inform = await run('snmpinform', ['-v', '3', '-l', 'authPriv', '-u', V3_USER.name, '-a', 'SHA-256', '-A', V3_USER.authKey, '-x', 'AES', '-X', V3_USER.privKey, '-r', '1', '-t', '3', `udp:127.0.0.1:${receiver.port}`, '', ALARM_REMOVED]);
    // snmpinform exits 0 only when our Response acknowledged the inform.
    expect(inform.status, inform.stderr).toBe(0);
    await expect.poll(() => got, { timeout: 10_000 }).toEqual([{ oid: ON_BATTERY, inform: false }, { oid: ALARM_REMOVED, inform: true }]);
    expect(receiver.stats().acknowledged).toBeGreaterThanOrEqual(1);
  });
});
