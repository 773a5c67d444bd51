/**
 * An independent SNMP agent for the driver's tests: snmpsim's command responder (snmpsimd,
 * pysnmp) serving a recorded-data file from test/fixtures/snmpsim, over v2c and v3 authPriv.
 *
 * snmpsim picks the data file by community (v2c: `<community>.snmprec`) or by SNMPv3 context
 * name. The driver sends the empty context name, for which snmpsim tries the transport ID of the
 * endpoint (`1.3.6.1.6.1.1.0`, its first UDP/IPv4 one) as the file name: the same data is put there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnyProfilePoint, SnmpProfile } from '@shellguard/protocol';
import type { EquipmentConfig } from '../../../src/config/config.ts';
import type { ContractDevice } from '../contract/driver-contract.ts';
import { secretsDir, writeSecret } from './sim-device.ts';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../test/fixtures/snmpsim');
const SNMPSIMD = '/usr/bin/snmpsimd';
export const hasSnmpsim = existsSync(SNMPSIMD);

/** The strongest USM pair snmpsim 0.4.5 offers: HMAC-SHA-512 (RFC 7860) and AES-256 with Blumenthal key extension, which is what the driver's `aes256` is. */
export const SNMPSIM_V3 = { name: 'guardian', authProtocol: 'sha512', authKey: 'interop-auth-phrase-9', privProtocol: 'aes256', privKey: 'interop-priv-phrase-9' } as const;
const SNMPSIM_V3_FLAGS = ['--v3-auth-proto=SHA512', '--v3-priv-proto=AES256BLMT'];
export const SNMPSIM_COMMUNITY = 'sg-interop-ro';

export interface SnmprecRecord { tag: number; value: string }

/** An .snmprec file: `OID|tag|value` per line (tag: ASN.1 type number, 4x = hex OctetString). */
export function readSnmprec(file: string): Map<string, SnmprecRecord> {
  const out = new Map<string, SnmprecRecord>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const [oid, tag, ...rest] = line.split('|');
    out.set(oid!, { tag: Number.parseInt(tag!, 10), value: rest.join('|') });
  }
  return out;
}

/** What the driver must store for this point, from the recorded value: raw x scale + offset (RFC 2578 numeric types). */
export function expectedValue(point: AnyProfilePoint & { oid?: string }, records: Map<string, SnmprecRecord>): number | boolean {
  const rec = records.get(point.oid!);
  if (!rec) throw new Error(`the fixture has no ${point.oid} (${point.name})`);
  if (![2, 65, 66, 67, 70].includes(rec.tag)) throw new Error(`${point.oid} is recorded as tag ${rec.tag}, not a number`);
  const raw = Number(rec.value);
  if (point.kind === 'binary') return raw !== 0;
  if (point.kind === 'enum') return raw;
  return raw * point.scale + point.offset;
}

export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

export interface SnmpsimDevice extends ContractDevice { records: Map<string, SnmprecRecord>; port: number }

/** snmpsimd serving `fixture` on a free loopback port; the profile is read by `version`. */
export async function startSnmpsim(fixture: string, profile: SnmpProfile, version: '2c' | '3', opts: { timeoutMs?: number } = {}): Promise<SnmpsimDevice> {
  const root = mkdtempSync(path.join(tmpdir(), 'shellguard-snmpsim-'));
  // snmpsimd drops to nobody:nogroup when started as root: it must read the data and write its index cache.
  chmodSync(root, 0o755);
  const data = path.join(root, 'data');
  const cache = path.join(root, 'cache');
  mkdirSync(data, { mode: 0o755 });
  mkdirSync(cache, { mode: 0o777 });
  chmodSync(cache, 0o777);
  const source = path.join(FIXTURES, fixture);
  for (const name of [`${SNMPSIM_COMMUNITY}.snmprec`, '1.3.6.1.6.1.1.0.snmprec']) {
    copyFileSync(source, path.join(data, name));
    chmodSync(path.join(data, name), 0o644);
  }
  const records = readSnmprec(source);
  const port = await freeUdpPort();
  const log = path.join(cache, 'snmpsimd.log');
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const asRoot = process.getuid?.() === 0 ? ['--process-user=nobody', '--process-group=nogroup'] : [];
    // The keys are on snmpsimd's command line and in its log (a file in the temp dir that no test prints).
    child = spawn(SNMPSIMD, [
      `--data-dir=${data}`, `--cache-dir=${cache}`, `--agent-udpv4-endpoint=127.0.0.1:${port}`, ...asRoot,
      `--v3-user=${SNMPSIM_V3.name}`, `--v3-auth-key=${SNMPSIM_V3.authKey}`, `--v3-priv-key=${SNMPSIM_V3.privKey}`, ...SNMPSIM_V3_FLAGS,
      `--logging-method=file:${log}`,
    ], { stdio: 'ignore' });
    const proc = child;
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`snmpsimd exited (${code}) before it listened`))));
    const listening = (async () => {
      while (!(existsSync(log) && readFileSync(log, 'utf8').includes(`Listening at UDP/IPv4 endpoint 127.0.0.1:${port}`))) await new Promise((r) => setTimeout(r, 50));
    })();
    await Promise.race([listening, exited]);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => { c.once('exit', () => resolve()); c.kill('SIGTERM'); });
  };
  await start();

  const dir = secretsDir();
  const equipment: EquipmentConfig = {
    asset: 'SNMPSIM-01', name: 'snmpsim agent', area: 'a', profile: profile.id, host: '127.0.0.1', port, unitId: 1,
    // snmpsimd builds its index on the first request: a timeout that covers it, no retries.
    pollIntervalMs: 1000, fastPollIntervalMs: 250, timeoutMs: opts.timeoutMs ?? 3000,
    snmp: version === '2c'
      ? { version, communityFile: writeSecret(dir, 'community', SNMPSIM_COMMUNITY), maxRepetitions: 20, retries: 0 }
      : { version, user: { name: SNMPSIM_V3.name, authProtocol: SNMPSIM_V3.authProtocol, authKeyFile: writeSecret(dir, 'auth', SNMPSIM_V3.authKey), privProtocol: SNMPSIM_V3.privProtocol, privKeyFile: writeSecret(dir, 'priv', SNMPSIM_V3.privKey) }, maxRepetitions: 20, retries: 0 },
  };
  const served = (): Record<string, number | boolean> => Object.fromEntries(
    profile.points.filter((p) => p.oid !== undefined).map((p) => [p.name, expectedValue(p, records)]),
  );
  return {
    equipment, profile, records, port, served,
    tolerance: () => 1e-9,
    stop,
    restart: start,
    // snmpsim logs each request's flags; a SetRequest is "..., SET".
    writesReceived: () => (existsSync(log) ? (readFileSync(log, 'utf8').match(/flags: \w+, SET$/gm) ?? []).length : 0),
    close: async () => { await stop(); rmSync(root, { recursive: true, force: true }); rmSync(dir, { recursive: true, force: true }); },
  };
}
