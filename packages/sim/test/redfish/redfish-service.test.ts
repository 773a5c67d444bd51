import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import { profileOfProtocol, type RedfishProfile } from '@shellguard/protocol';
import { createCaIssuedBmcCertificate, startRedfishService, type IssuedBmcCertificate, type RedfishService, type RedfishWriteAttempt } from '../../src/redfish/index.ts';
import { loadProfiles } from '../../src/site/profile-catalog.ts';

const USERS = { admin: 's3cret' };
const BASIC = `Basic ${Buffer.from('admin:s3cret').toString('base64')}`;
let cert: IssuedBmcCertificate;
let service: RedfishService | undefined;
beforeAll(async () => { cert = await createCaIssuedBmcCertificate(); });
afterEach(async () => { await service?.close(); service = undefined; });

const values = { inlet_temp: 21.5, exhaust_temp: 35, cpu1_temp: 60, cpu2_temp: 59, fan_1_speed: 8000, fan_2_speed: 8000, fan_3_speed: 8000, fan_4_speed: 8000,
  power_watts: 400, psu_1_input_voltage: 230, psu_2_input_voltage: 231, psu_1_power_watts: 200, psu_2_power_watts: 200, energy_kwh: 12.5, health: 1, power_on: true };

async function start(extra: { profile?: RedfishProfile; onWrite?: (a: RedfishWriteAttempt) => void; values?: () => Record<string, number | boolean> } = {}): Promise<RedfishService> {
  service = await startRedfishService({ host: '127.0.0.1', port: 0, values: extra.values ?? (() => values), users: USERS, tls: cert, chassisId: '1', ...extra });
  return service;
}

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: Record<string, unknown> | undefined }
function request(method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request({ host: '127.0.0.1', port: service!.port, method, path, ca: cert.caPem, headers: { ...headers, ...(data ? { 'Content-Type': 'application/json' } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) as Record<string, unknown> : undefined });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

describe('startRedfishService (simulated BMC)', () => {
  it('serves the service root without credentials and nothing else', async () => {
    await start();
    const root = await request('GET', '/redfish/v1/');
    expect(root.status).toBe(200);
    expect(root.body).toMatchObject({ '@odata.id': '/redfish/v1', '@odata.type': expect.stringMatching(/^#ServiceRoot\.v1_/), Chassis: { '@odata.id': '/redfish/v1/Chassis' } });
    const chassis = await request('GET', '/redfish/v1/Chassis/1');
    expect(chassis.status).toBe(401);
    expect(chassis.headers['www-authenticate']).toMatch(/^Basic/);
    expect((await request('GET', '/redfish/v1/Chassis/1', { Authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` })).status).toBe(401);
  });

  it('builds the chassis, Power, Thermal and the newer resources from the values', async () => {
    await start();
    const get = async (p: string) => (await request('GET', p, { Authorization: BASIC })).body!;
    expect(await get('/redfish/v1/Chassis/1')).toMatchObject({ PowerState: 'On', Status: { Health: 'Warning' }, Power: { '@odata.id': '/redfish/v1/Chassis/1/Power' } });
    expect(await get('/redfish/v1/Chassis/1/Power')).toMatchObject({ '@odata.type': '#Power.v1_7_1.Power', PowerControl: [{ PowerConsumedWatts: 400 }], PowerSupplies: [{ LineInputVoltage: 230 }, { LineInputVoltage: 231 }] });
    expect(await get('/redfish/v1/Chassis/1/Thermal')).toMatchObject({ Temperatures: [{ ReadingCelsius: 21.5 }, {}, {}, {}], Fans: [{ Reading: 8000, ReadingUnits: 'RPM' }, {}, {}, {}] });
    expect(await get('/redfish/v1/Chassis/1/EnvironmentMetrics')).toMatchObject({ EnergykWh: { Reading: 12.5 }, PowerWatts: { Reading: 400 } });
    expect(await get('/redfish/v1/Chassis/1/PowerSubsystem/PowerSupplies/2/Metrics')).toMatchObject({ InputVoltage: { Reading: 231 } });
    expect(await get('/redfish/v1/Chassis/1/ThermalSubsystem/Fans/4')).toMatchObject({ SpeedPercent: { SpeedRPM: 8000, Reading: 50 } });
    expect((await get('/redfish/v1/Chassis/1/Sensors')).Members).toHaveLength(6);
    expect((await request('GET', '/redfish/v1/Chassis/2', { Authorization: BASIC })).status).toBe(404);
  });

  it('serves null for a value the physics does not give, as a BMC does for a sensor without a reading', async () => {
    await start({ values: () => ({ power_on: false }) });
    const chassis = (await request('GET', '/redfish/v1/Chassis/1', { Authorization: BASIC })).body!;
    expect(chassis).toMatchObject({ PowerState: 'Off', Status: { Health: null } });
    expect((await request('GET', '/redfish/v1/Chassis/1/Sensors/InletTemp', { Authorization: BASIC })).body).toMatchObject({ Reading: null });
  });

  it('opens a session on login and ends it on logout, neither counted as a write', async () => {
    await start();
    expect((await request('POST', '/redfish/v1/SessionService/Sessions', {}, { UserName: 'admin', Password: 'nope' })).status).toBe(401);
    const login = await request('POST', '/redfish/v1/SessionService/Sessions', {}, { UserName: 'admin', Password: 's3cret' });
    expect(login.status).toBe(201);
    const token = login.headers['x-auth-token'] as string;
    expect(login.headers.location).toBe('/redfish/v1/SessionService/Sessions/1');
    expect((await request('GET', '/redfish/v1/Chassis/1/Thermal', { 'X-Auth-Token': token })).status).toBe(200);
    expect(service!.sessionsOpen()).toBe(1);
    expect((await request('DELETE', '/redfish/v1/SessionService/Sessions/1', { 'X-Auth-Token': token })).status).toBe(204);
    expect((await request('GET', '/redfish/v1/Chassis/1/Thermal', { 'X-Auth-Token': token })).status).toBe(401);
    expect(service!.writesReceived()).toBe(0);
  });

  it('answers changes and actions as a BMC would, and counts every one', async () => {
    const seen: RedfishWriteAttempt[] = [];
    await start({ onWrite: (a) => seen.push(a) });
    const auth = { Authorization: BASIC };
    expect((await request('PATCH', '/redfish/v1/Chassis/1', auth, { IndicatorLED: 'Lit' })).status).toBe(204);
    expect((await request('PATCH', '/redfish/v1/Chassis/1/Power', auth, { PowerControl: [] })).status).toBe(405);
    expect((await request('PUT', '/redfish/v1/Chassis/1', auth, {})).status).toBe(405);
    expect((await request('POST', '/redfish/v1/Chassis/1/Actions/Chassis.Reset', auth, { ResetType: 'ForceOff' })).status).toBe(204);
    expect((await request('POST', '/redfish/v1/Chassis/1/Actions/Chassis.Reset', auth, {})).status).toBe(400);
    expect((await request('POST', '/redfish/v1/Chassis', auth, {})).status).toBe(405);
    expect((await request('DELETE', '/redfish/v1/Chassis/1', auth)).status).toBe(405);
    expect((await request('PATCH', '/redfish/v1/Chassis/1', {}, { IndicatorLED: 'Lit' })).status).toBe(401);
    expect(service!.writesReceived()).toBe(8);
    expect(seen.map((a) => `${a.method} ${a.path}`)).toEqual([
      'PATCH /redfish/v1/Chassis/1', 'PATCH /redfish/v1/Chassis/1/Power', 'PUT /redfish/v1/Chassis/1', 'POST /redfish/v1/Chassis/1/Actions/Chassis.Reset',
      'POST /redfish/v1/Chassis/1/Actions/Chassis.Reset', 'POST /redfish/v1/Chassis', 'DELETE /redfish/v1/Chassis/1', 'PATCH /redfish/v1/Chassis/1',
    ]);
  });

  it('serves every point of both shipped server profiles, and refuses a profile pointing at something it does not serve', async () => {
    const profiles = loadProfiles();
    for (const id of ['server-redfish', 'server-redfish-legacy']) {
      const profile = profileOfProtocol(profiles.get(id)!, 'redfish');
      expect(profile.type).toBe('server');
      await (await start({ profile })).close();
    }
    const legacy = profileOfProtocol(profiles.get('server-redfish-legacy')!, 'redfish');
    const wrong = { ...legacy, points: [{ ...legacy.points[0]!, pointer: '/Temperatures/0/Celsius' }] };
    await expect(start({ profile: wrong })).rejects.toMatchObject({ code: 'profile_missing', message: expect.stringMatching(/inlet_temp reads \/redfish\/v1\/Chassis\/1\/Thermal#\/Temperatures\/0\/Celsius/) });
  });
});
