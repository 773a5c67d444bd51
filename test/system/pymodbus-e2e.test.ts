/**
 * Interop with an independent Modbus implementation, end to end (issue 2, "Proof required"): a
 * guardian polls a python3-pymodbus server through a custom equipment profile, sends over mutual
 * TLS to the server, and the values the HTTPS API returns equal the values pymodbus serves, after
 * the profile's scaling. A tshark capture of the session shows the guardian only ever read.
 *
 * The expected values are worked out by hand from test/fixtures/pymodbus/values.json (and the
 * fixture's fill formulas), not with Shellguard's own register codec.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import {
  FileKeyStore, GUARDIAN_SWNAME, GUARDIAN_VERSION, loadGuardianConfig, measureGuardianConfig, startGuardian, type GuardianHandle,
} from '@shellguard/guardian';
import { ROOT_CERT_FILE, initPki, startServer, type ServerHandle } from '@shellguard/server';
import { getJson } from './support/https-json.ts';
import { captureModbus, hasTshark, type ModbusCapture } from './support/packet-capture.ts';
import { startPymodbusServer, type PymodbusServer } from '../support/pymodbus-server.ts';
import { waitFor } from './support/wait-for.ts';

const MODBUS_PORT = 19200;
const MQTT_PORT = 19201;
const API_PORT = 19202;
const SITE = 'interop-site';
const GROUP = 'interop-guardians';
const ACTOR = 'test:pymodbus-e2e';
const ASSET = 'PYM-01';
/** Enough polls to see that the value is stable, not a one-off. */
const SAMPLES_PER_POINT = 5;

/** The fixture's values for addresses values.json does not list. */
const fillRegister = (address: number) => (address * 31 + 7) & 0xffff;
const fillBit = (address: number) => address % 3 === 0;

const PROFILE = `
id: pymodbus-interop
name: pymodbus interop fixture
type: interop
points:
  - { name: coil_0, table: coil, address: 0 }
  - { name: coil_1, table: coil, address: 1 }
  - { name: coil_8, table: coil, address: 8 }
  - { name: coil_10, table: coil, address: 10 }
  - { name: coil_2001, table: coil, address: 2001 }
  - { name: discrete_0, table: discrete, address: 0 }
  - { name: discrete_1, table: discrete, address: 1 }
  - { name: discrete_5, table: discrete, address: 5 }
  - { name: discrete_7, table: discrete, address: 7 }
  - { name: discrete_9, table: discrete, address: 9 }
  - { name: supply_air_temp, table: holding, address: 0, type: uint16, scale: 0.1, unit: degC }
  - { name: signed_pressure, table: holding, address: 1, type: int16, unit: Pa }
  - { name: float_high_word_first, table: holding, address: 2, type: float32 }
  - { name: counter_high_word_first, table: holding, address: 4, type: uint32 }
  - { name: float_low_word_first, table: holding, address: 6, type: float32, wordOrder: little }
  - { name: operating_mode, table: holding, address: 8, type: uint16, kind: enum, states: { 3: cooling } }
  - { name: holding_150, table: holding, address: 150, type: uint16 }
  - { name: input_centi, table: input, address: 0, type: uint16, scale: 0.01, unit: bar }
  - { name: input_signed, table: input, address: 1, type: int16 }
  - { name: input_float, table: input, address: 2, type: float32, unit: kW }
  - { name: input_scaled_offset, table: input, address: 4, type: uint16, scale: 2, offset: -1 }
  - { name: input_counter_low_word_first, table: input, address: 10, type: uint32, wordOrder: little }
  - { name: input_299, table: input, address: 299, type: uint16 }
`;

/** point -> engineering value the API must return (binary points as 1/0). */
const EXPECTED: Record<string, number> = {
  coil_0: 1, // values.json coils["0"] = true
  coil_1: 0, // coils["1"] = false
  coil_8: 1, // coils["8"] = true
  coil_10: 0, // coils["10"] = false
  coil_2001: fillBit(2001) ? 1 : 0, // unlisted: 2001 % 3 == 0 -> true
  discrete_0: 0, // discrete["0"] = false (the fill would say true)
  discrete_1: 1,
  discrete_5: 1,
  discrete_7: fillBit(7) ? 1 : 0, // unlisted -> false
  discrete_9: fillBit(9) ? 1 : 0, // unlisted -> true
  supply_air_temp: 23.5, // 235 * 0.1
  signed_pressure: -125, // 65411 as int16
  float_high_word_first: 21.5, // 0x41AC 0x0000 -> IEEE 754 21.5
  counter_high_word_first: 65_538, // 1 * 65536 + 2
  float_low_word_first: 2.6875, // words 0x0000 0x402C, low word first -> 0x402C0000 = 2.6875
  operating_mode: 3,
  holding_150: fillRegister(150), // 4657
  input_centi: 40, // 4000 * 0.01
  input_signed: -1, // 65535 as int16
  input_float: 1001, // 0x447A 0x4000 -> 1001.0
  input_scaled_offset: 3, // 2 * 2 - 1
  input_counter_low_word_first: fillRegister(11) * 65_536 + fillRegister(10), // 348 * 65536 + 317
  input_299: fillRegister(299), // 9276
};

const UNITS: Record<string, string> = { supply_air_temp: 'degC', signed_pressure: 'Pa', input_centi: 'bar', input_float: 'kW' };

/** Scaled values go through binary floating point (0.1 is not exact), so compare to 1e-9 relative. */
function sameValue(actual: number | null, expected: number): boolean {
  return actual !== null && Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));
}

interface AssetPoint {
  id: number;
  name: string;
  unit: string;
  latest: { ts: number; value: number | null; quality: number } | null;
}

describe('guardian against an independent Modbus server (pymodbus), end to end', () => {
  let work: string;
  let caPem: string;
  let pymodbus: PymodbusServer | undefined;
  let server: ServerHandle | undefined;
  let guardian: GuardianHandle | undefined;
  let capture: ModbusCapture | undefined;
  let token: string;
  const logger = pino({ level: process.env.SG_TEST_LOG_LEVEL ?? 'silent' });

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'sg-pymodbus-e2e-'));
    const caDir = path.join(work, 'ca');
    const guardianDir = path.join(work, 'guardian');
    const profilesDir = path.join(work, 'profiles');
    mkdirSync(guardianDir, { recursive: true });
    mkdirSync(profilesDir, { recursive: true });
    writeFileSync(path.join(profilesDir, 'pymodbus-interop.yaml'), PROFILE);

    pymodbus = await startPymodbusServer(MODBUS_PORT);
    if (hasTshark) capture = await captureModbus(MODBUS_PORT, path.join(work, 'modbus.pcap'));

    await initPki(caDir, { commonName: 'pymodbus interop' });
    const rootFile = path.join(caDir, ROOT_CERT_FILE);
    caPem = readFileSync(rootFile, 'utf8');
    server = await startServer({
      dataDir: path.join(work, 'server'),
      caDir,
      mqtt: { host: '127.0.0.1', port: MQTT_PORT },
      api: { host: '127.0.0.1', port: API_PORT },
      tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
    }, { logger });
    if (!server.adminToken) throw new Error('a first start must create an admin API token');
    token = server.adminToken;

    const configFile = path.join(guardianDir, 'guardian.yaml');
    writeFileSync(configFile, toYaml({
      site: SITE,
      dataDir: guardianDir,
      profilesDir,
      server: { mqttUrl: `mqtts://127.0.0.1:${MQTT_PORT}`, apiUrl: `https://127.0.0.1:${API_PORT}`, caFile: rootFile },
      equipment: [{ asset: ASSET, name: 'pymodbus fixture', area: 'interop-lab', profile: 'pymodbus-interop', host: '127.0.0.1', port: MODBUS_PORT, unitId: 1, pollIntervalMs: 200 }],
    }));
    const config = loadGuardianConfig(configFile);
    // Enrolment: claim the guardian, register the release it runs (with the custom profile); it
    // attests at start and receives its operational certificate.
    const keys = await FileKeyStore.open(guardianDir);
    await server.fleet.defineGroup({ id: GROUP, site: SITE, minSecureVersion: '0.1.0' }, ACTOR);
    await server.fleet.claim({ deviceId: keys.deviceId, site: SITE, group: GROUP }, ACTOR);
    await server.fleet.registerRelease({
      group: GROUP, swname: GUARDIAN_SWNAME, swversion: GUARDIAN_VERSION, components: await measureGuardianConfig(config, configFile),
    }, ACTOR);
    guardian = await startGuardian(config, { logger, configFile });
  }, 90_000);

  afterAll(async () => {
    await guardian?.stop();
    await server?.stop();
    await capture?.stop().catch(() => []);
    await pymodbus?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  const api = (route: string) => getJson(`https://127.0.0.1:${API_PORT}/api/v1${route}`, { caPem, token });

  it('stores exactly the values pymodbus serves, after the profile scaling', async () => {
    let points: AssetPoint[] = [];
    await waitFor(`every point of ${ASSET} has a latest value`, async () => {
      const res = await api(`/assets/${ASSET}`);
      if (res.status !== 200) return false;
      points = (res.body as { points: AssetPoint[] }).points;
      return Object.keys(EXPECTED).every((name) => points.find((p) => p.name === name)?.latest != null);
    }, { timeoutMs: 45_000, diagnostics: () => JSON.stringify({ points, guardian: guardian?.stats(), server: server?.stats() }) });

    expect(points.map((p) => p.name).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const p of points) {
      expect(p.latest, p.name).toMatchObject({ quality: 192 });
      expect(sameValue(p.latest!.value, EXPECTED[p.name]!), `${p.name}: stored ${p.latest!.value}, served ${EXPECTED[p.name]}`).toBe(true);
      expect(p.unit, `${p.name} unit`).toBe(UNITS[p.name] ?? '');
    }

    // Every stored sample, not only the latest, carries the served value.
    for (const p of points) {
      let samples: { ts: number; value: number | null; quality: number }[] = [];
      await waitFor(`${p.name} has ${SAMPLES_PER_POINT} samples`, async () => {
        const res = await api(`/points/${p.id}/samples`);
        expect(res.status).toBe(200);
        samples = (res.body as { samples: typeof samples }).samples;
        return samples.length >= SAMPLES_PER_POINT;
      }, { timeoutMs: 30_000 });
      const wrong = samples.filter((s) => s.quality !== 192 || !sameValue(s.value, EXPECTED[p.name]!));
      expect(wrong, `${p.name}: samples that differ from the served value`).toEqual([]);
    }
  }, 120_000);

  it('refuses the API without the admin token', async () => {
    const res = await getJson(`https://127.0.0.1:${API_PORT}/api/v1/assets/${ASSET}`, { caPem });
    expect(res.status).toBe(401);
  });

  it.skipIf(!hasTshark)('sent pymodbus only read requests (function codes 1, 2, 3, 4; 43 allowed) on the wire', async () => {
    // Stop polling first so the capture holds whole exchanges.
    await guardian!.stop();
    guardian = undefined;
    const codes = await capture!.stop();
    capture = undefined;
    expect(codes.length).toBeGreaterThan(0);
    const seen = [...new Set(codes)].sort((a, b) => a - b);
    expect(seen.filter((fc) => ![1, 2, 3, 4, 43].includes(fc)), 'function codes other than reads').toEqual([]);
    // The profile reads all four tables, so all four read function codes were used.
    expect(seen.filter((fc) => fc !== 43)).toEqual([1, 2, 3, 4]);
  }, 60_000);
});
