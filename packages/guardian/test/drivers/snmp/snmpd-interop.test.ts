/**
 * The SNMP driver against Net-SNMP's own agent, snmpd, started by the test on a free loopback port
 * with its own configuration and persistent directory (nothing under /etc/snmp or /var/lib/snmp):
 * the host-net-snmp profile and network-if-mib for the interface `lo` (its ifIndex found with the
 * driver's GETBULK table walk), over v2c and v3 authPriv (SHA-256/AES-128 and SHA-512/AES-256).
 * What the driver stored is compared with Net-SNMP's snmpget run around the read: equal for
 * values that do not change, bracketed by a read before and after for those that only grow.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Quality, profileOfProtocol, systemClock, type Sample, type SnmpPoint, type SnmpProfile } from '@shellguard/protocol';
import { loadProfiles } from '../../../../sim/src/site/profile-catalog.ts';
import type { EquipmentConfig, SnmpAuthProtocol, SnmpEquipmentOptions, SnmpPrivProtocol } from '../../../src/config/config.ts';
import { SnmpDriver } from '../../../src/drivers/snmp/snmp-driver.ts';
import { ReadOnlySnmpSession } from '../../../src/drivers/snmp/read-only-session.ts';
import { listTableIndexes } from '../../../src/drivers/snmp/table-indexes.ts';
import { usmUser } from '../../../src/drivers/snmp/security.ts';
import { freeUdpPort } from './snmpsim-device.ts';
import { secretsDir, writeSecret } from './sim-device.ts';

const SNMPD = '/usr/sbin/snmpd';
const hasSnmpd = existsSync(SNMPD) && spawnSync('snmpget', ['-V'], { stdio: 'ignore' }).status === 0;
const logger = pino({ level: 'silent' });
const profiles = loadProfiles();
const HOST = profileOfProtocol(profiles.get('host-net-snmp')!, 'snmp');
const IFACE = profileOfProtocol(profiles.get('network-if-mib')!, 'snmp');
const IF_DESCR = '1.3.6.1.2.1.2.2.1.2';

const COMMUNITY = 'sg-snmpd-ro-4c1e';
/** A v3 user as the driver names its protocols and as snmpd's createUser / snmpget name them. */
interface UserSpec {
  name: string;
  authProtocol: SnmpAuthProtocol; cliAuth: string; authKey: string;
  privProtocol: SnmpPrivProtocol; cliPriv: string; privKey: string;
}
const USERS: readonly UserSpec[] = [
  { name: 'guardian', authProtocol: 'sha256', cliAuth: 'SHA-256', authKey: 'snmpd-auth-phrase-1', privProtocol: 'aes128', cliPriv: 'AES', privKey: 'snmpd-priv-phrase-1' },
  { name: 'guardian512', authProtocol: 'sha512', cliAuth: 'SHA-512', authKey: 'snmpd-auth-phrase-2', privProtocol: 'aes256', cliPriv: 'AES-256', privKey: 'snmpd-priv-phrase-2' },
];
type Access = { version: '2c' } | { version: '3'; user: UserSpec };
const ACCESS: Access[] = [{ version: '2c' }, ...USERS.map((user) => ({ version: '3' as const, user }))];
const label = (a: Access): string => (a.version === '2c' ? 'v2c' : `v3 authPriv ${a.user.cliAuth}/${a.user.cliPriv}`);

/** ifMtu and ifSpeed (IF-MIB ifEntry 4, 5) of the same row, read beside the profile's points. */
const EXTRA_IF_POINTS: SnmpPoint[] = [
  { name: 'mtu', description: 'ifMtu', unit: 'B', kind: 'analog', scale: 1, offset: 0, fast: false, condition: false, oid: '1.3.6.1.2.1.2.2.1.4.{index}' },
  { name: 'speed_bps', description: 'ifSpeed', unit: 'bit/s', kind: 'analog', scale: 1, offset: 0, fast: false, condition: false, oid: '1.3.6.1.2.1.2.2.1.5.{index}' },
];

interface Snmpd { port: number; stop(): Promise<void> }

async function startSnmpd(): Promise<Snmpd> {
  const root = mkdtempSync(path.join(tmpdir(), 'shellguard-snmpd-'));
  const persist = path.join(root, 'persist');
  mkdirSync(persist);
  const port = await freeUdpPort();
  const conf = path.join(root, 'snmpd.conf');
  writeFileSync(conf, [
    `[snmp] persistentDir ${persist}`,
    `rocommunity ${COMMUNITY} 127.0.0.1`,
    ...USERS.flatMap((u) => [`createUser ${u.name} ${u.cliAuth} ${u.authKey} ${u.cliPriv} ${u.privKey}`, `rouser ${u.name} priv`]),
    '',
  ].join('\n'), { mode: 0o600 });
  // -f foreground, -Lo log to stdout, -C only our config, -r do not exit over unreadable /dev files.
  const child: ChildProcess = spawn(SNMPD, ['-f', '-Lo', '-C', '-r', '-c', conf, '-p', path.join(root, 'snmpd.pid'), `udp:127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, SNMP_PERSISTENT_DIR: persist, MIBS: '' },
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (/NET-SNMP version/.test(out)) resolve(); });
    child.once('exit', (code) => reject(new Error(`snmpd exited (${code}) before it started`)));
  });
  child.stdout!.resume();
  return {
    port,
    stop: async () => {
      if (child.exitCode === null) await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); });
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function cliAuth(a: Access): string[] {
  return a.version === '2c' ? ['-v2c', '-c', COMMUNITY] : ['-v3', '-l', 'authPriv', '-u', a.user.name, '-a', a.user.cliAuth, '-A', a.user.authKey, '-x', a.user.cliPriv, '-X', a.user.privKey];
}

/** Net-SNMP's snmpget: numeric values (-Oqv values only, -Oe enums as numbers, -Ot raw TimeTicks, -OU no units). */
function snmpget(port: number, a: Access, oids: string[]): number[] {
  const r = spawnSync('snmpget', [...cliAuth(a), '-OqvetU', '-r', '1', '-t', '3', `127.0.0.1:${port}`, ...oids], { encoding: 'utf8', env: { ...process.env, MIBS: '' } });
  // Never echo the command line: it holds the keys.
  if (r.status !== 0) throw new Error(`snmpget failed (${r.status}): ${r.stderr.split('\n')[0]}`);
  return r.stdout.trim().split('\n').map((l) => Number(l.trim()));
}

function snmpOptions(a: Access, index?: string): SnmpEquipmentOptions {
  const dir = secretsDir();
  const base = { maxRepetitions: 20, retries: 0, ...(index ? { index } : {}) };
  return a.version === '2c'
    ? { version: '2c', communityFile: writeSecret(dir, 'community', COMMUNITY), ...base }
    : { version: '3', user: { name: a.user.name, authProtocol: a.user.authProtocol, authKeyFile: writeSecret(dir, 'auth', a.user.authKey), privProtocol: a.user.privProtocol, privKeyFile: writeSecret(dir, 'priv', a.user.privKey) }, ...base };
}

function driverFor(port: number, profile: SnmpProfile, snmp: SnmpEquipmentOptions): SnmpDriver {
  const equipment: EquipmentConfig = {
    asset: 'HOST-01', name: 'snmpd on loopback', area: 'a', profile: profile.id, host: '127.0.0.1', port, unitId: 1,
    pollIntervalMs: 1000, fastPollIntervalMs: 250, timeoutMs: 3000, snmp,
  };
  return new SnmpDriver({ equipment, profile, clock: systemClock, logger, onSamples: () => undefined, services: {} });
}

function valuesOf(samples: Sample[]): Record<string, number> {
  for (const s of samples) expect(s.quality, `${s.point} is good`).toBe(Quality.good);
  return Object.fromEntries(samples.map((s) => [s.point, s.value as number]));
}

const oidOf = (profile: SnmpProfile, name: string, index?: string): string => profile.points.find((p) => p.name === name)!.oid!.replaceAll('{index}', index ?? '');

let agent: Snmpd | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await agent?.stop();
  agent = undefined;
});

describe.skipIf(!hasSnmpd)('SnmpDriver against Net-SNMP snmpd', () => {
  for (const access of ACCESS) {
    it(`finds lo's ifIndex with the GETBULK table walk, as snmpwalk does (${label(access)})`, async () => {
      agent = await startSnmpd();
      const opts = snmpOptions(access);
      const driver = driverFor(agent.port, IFACE, { ...opts, index: '1' });
      cleanups.push(() => driver.close());
      const session = ReadOnlySnmpSession.open({
        host: '127.0.0.1', port: agent.port, version: access.version, timeoutMs: 3000, retries: 0,
        ...(access.version === '2c' ? { community: COMMUNITY } : { user: usmUser(opts.user!) }),
      });
      cleanups.push(() => session.close());
      const rows = await listTableIndexes(session, IF_DESCR);
      // -Onq: one `.<oid> <value>` line per row.
      const walk = spawnSync('snmpwalk', [...cliAuth(access), '-Onq', `127.0.0.1:${agent.port}`, IF_DESCR], { encoding: 'utf8', env: { ...process.env, MIBS: '' } });
      expect(walk.status).toBe(0);
      const cliRows = walk.stdout.trim().split('\n').map((l) => {
        const [oid, ...name] = l.trim().split(' ');
        return { index: oid!.slice(IF_DESCR.length + 2), value: name.join(' ').replace(/^"|"$/g, '') };
      });
      expect(rows).toEqual(cliRows);
      expect(rows.find((r) => r.value === 'lo')).toBeDefined();
      expect(session.refusals()).toBe(0);
    });

    it(`reads host-net-snmp and network-if-mib (lo) as snmpget reads them (${label(access)})`, async () => {
      agent = await startSnmpd();
      const port = agent.port;
      const opts = snmpOptions(access);
      const session = ReadOnlySnmpSession.open({
        host: '127.0.0.1', port, version: access.version, timeoutMs: 3000, retries: 0,
        ...(access.version === '2c' ? { community: COMMUNITY } : { user: usmUser(opts.user!) }),
      });
      cleanups.push(() => session.close());
      const lo = (await listTableIndexes(session, IF_DESCR)).find((r) => r.value === 'lo')!.index;
      const ifProfile: SnmpProfile = { ...IFACE, points: [...IFACE.points, ...EXTRA_IF_POINTS] };
      const host = driverFor(port, HOST, opts);
      const iface = driverFor(port, ifProfile, { ...opts, index: lo });
      cleanups.push(() => host.close(), () => iface.close());

      const uptimeOids = [oidOf(HOST, 'agent_uptime'), oidOf(HOST, 'host_uptime')];
      const octetOids = [oidOf(IFACE, 'in_octets', lo), oidOf(IFACE, 'out_octets', lo)];
      const before = snmpget(port, access, [...uptimeOids, ...octetOids]);
      const hostRead = await host.read('all');
      const ifRead = await iface.read('all');
      const after = snmpget(port, access, [...uptimeOids, ...octetOids]);
      expect(hostRead.errors).toEqual([]);
      expect(ifRead.errors).toEqual([]);
      const h = valuesOf(hostRead.samples);
      const i = valuesOf(ifRead.samples);

      // Values that do not change while the test runs: equal to snmpget's.
      const [memTotalReal, hrMemorySize, memTotalSwap] = snmpget(port, access, [oidOf(HOST, 'mem_total'), '1.3.6.1.2.1.25.2.2.0', oidOf(HOST, 'swap_total')]);
      expect(h.mem_total).toBe(memTotalReal);
      expect(h.mem_total).toBe(hrMemorySize); // both KiB: HOST-RESOURCES-MIB and UCD-SNMP-MIB agree
      expect(h.swap_total).toBe(memTotalSwap);
      const [operStatus, adminStatus, highSpeed, mtu, speed] = snmpget(port, access, ['oper_status', 'admin_status', 'speed'].map((n) => oidOf(IFACE, n, lo)).concat(EXTRA_IF_POINTS.map((p) => p.oid!.replace('{index}', lo))));
      expect(i.oper_status).toBe(operStatus);
      expect(i.admin_status).toBe(adminStatus);
      expect(i.speed).toBe(highSpeed);
      expect(i.mtu).toBe(mtu);
      expect(i.speed_bps).toBe(speed);

      // TimeTicks (0.01 s, scaled to s) and Counter64 octets only grow: between the reads before and after.
      expect(h.agent_uptime).toBeGreaterThanOrEqual(before[0]! * 0.01 - 1e-9);
      expect(h.agent_uptime).toBeLessThanOrEqual(after[0]! * 0.01 + 1e-9);
      expect(h.host_uptime).toBeGreaterThanOrEqual(before[1]! * 0.01 - 1e-9);
      expect(h.host_uptime).toBeLessThanOrEqual(after[1]! * 0.01 + 1e-9);
      expect(i.in_octets).toBeGreaterThanOrEqual(before[2]!);
      expect(i.in_octets).toBeLessThanOrEqual(after[2]!);
      expect(i.out_octets).toBeGreaterThanOrEqual(before[3]!);
      expect(i.out_octets).toBeLessThanOrEqual(after[3]!);
      // Load averages move; laLoadInt is load x 100, so a scaled value has at most two decimals.
      for (const n of ['load_1min', 'load_5min', 'load_15min']) expect(Math.abs(h[n]! * 100 - Math.round(h[n]! * 100))).toBeLessThan(1e-6);
    });
  }

  it('is refused by snmpd for a wrong v3 key, and says so without the key', async () => {
    agent = await startSnmpd();
    const wrong = { ...USERS[0]!, authKey: 'not-the-auth-phrase' };
    const driver = driverFor(agent.port, HOST, snmpOptions({ version: '3', user: wrong }));
    cleanups.push(() => driver.close());
    const { samples, errors } = await driver.read('all');
    expect(samples.every((s) => s.quality === Quality.bad)).toBe(true);
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) {
      expect(e.error.code).toBe('snmp_auth_failed'); // snmpd answers a Report (usmStatsWrongDigests, RFC 3414 §3.2 step 7)
      expect(e.error.message).not.toContain(wrong.authKey);
      expect(e.error.message).not.toContain(USERS[0]!.authKey);
    }
  });
});
