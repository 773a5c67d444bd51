/** The Redfish driver against the simulator's BMC over HTTPS on loopback. */
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { Quality, type RedfishProfile } from '@shellguard/protocol';
import { RedfishError } from '../../../src/drivers/redfish/errors.ts';
import { HttpsTransport } from '../../../src/drivers/redfish/https-transport.ts';
import { RedfishDriver, redfishClientFor } from '../../../src/drivers/redfish/redfish-driver.ts';
import { RedfishRequest, SESSIONS_PATH, buildRequest, type RequestSpec } from '../../../src/drivers/redfish/request.ts';
import { CURRENT_PROFILE, LEGACY_PROFILE, PASSWORD, driverContext, recordingLogger, serverValues, startBmc, type Bmc } from './bmc-fixture.ts';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});
async function bmcWith(...args: Parameters<typeof startBmc>): Promise<Bmc> {
  const bmc = await startBmc(...args);
  open.push(bmc);
  return bmc;
}
function driverFor(bmc: Bmc, profile: RedfishProfile = bmc.profile, logger = recordingLogger().logger): RedfishDriver {
  const d = new RedfishDriver({ ...driverContext(bmc, logger), profile });
  open.push(d);
  return d;
}
function withPoint(profile: RedfishProfile, name: string, change: Partial<RedfishProfile['points'][number]>): RedfishProfile {
  return { ...profile, points: profile.points.map((p) => (p.name === name ? { ...p, ...change } : p)) };
}

describe('RedfishDriver', () => {
  it('stores Status.Health through enumValues and PowerState On/Off as a boolean', async () => {
    let values = serverValues({ health: 2, power_on: false });
    const bmc = await bmcWith({ auth: 'basic', trust: 'pin', values: () => values });
    const driver = driverFor(bmc);
    const fast = await driver.read('fast');
    expect(fast.samples.map((s) => [s.point, s.value])).toEqual([['health', 2], ['power_on', false]]);
    values = serverValues({ health: 0, power_on: true });
    expect((await driver.read('fast')).samples.map((s) => s.value)).toEqual([0, true]);
  });

  it('marks a point without a reading (null) bad, says why, and keeps the others good', async () => {
    const { cpu2_temp: _gone, ...rest } = serverValues();
    const bmc = await bmcWith({ auth: 'basic', trust: 'pin', values: () => rest });
    const { samples, errors } = await driverFor(bmc).read('all');
    expect(samples.find((s) => s.point === 'cpu2_temp')).toMatchObject({ value: null, quality: Quality.bad });
    expect(samples.filter((s) => s.point !== 'cpu2_temp').every((s) => s.quality === Quality.good)).toBe(true);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ where: '/redfish/v1/Chassis/1/Thermal#/Temperatures/3/ReadingCelsius', points: ['cpu2_temp'] });
    expect(errors[0]!.error.code).toBe('redfish_value_invalid');
    expect(errors[0]!.error.message).toMatch(/no reading \(null\)/);
  });

  it('marks a point bad whose property the resource lacks, or holds a string where a number belongs', async () => {
    const bmc = await bmcWith({ auth: 'basic', trust: 'pin' });
    let profile = withPoint(LEGACY_PROFILE, 'inlet_temp', { pointer: '/Temperatures/9/ReadingCelsius' });
    profile = withPoint(profile, 'exhaust_temp', { pointer: '/Temperatures/1/Name' });
    const { samples, errors } = await driverFor(bmc, profile).read('all');
    const bad = samples.filter((s) => s.quality === Quality.bad).map((s) => s.point);
    expect(bad).toEqual(['inlet_temp', 'exhaust_temp']);
    expect(errors.map((e) => e.error.code)).toEqual(['redfish_property_missing', 'redfish_value_invalid']);
    expect(errors[0]!.error.message).toMatch(/has no \/Temperatures\/9 .*Fix the profile's pointer/);
    expect(errors[1]!.error.message).toMatch(/holds the string "Exhaust Temp", expected a number/);
  });

  it('marks the points of a resource the BMC does not have (404) bad, and only those', async () => {
    const bmc = await bmcWith({ auth: 'basic', trust: 'ca', profile: CURRENT_PROFILE });
    const profile = withPoint(CURRENT_PROFILE, 'cpu2_temp', { resource: 'Sensors/CPU9Temp' });
    const { samples, errors } = await driverFor(bmc, profile).read('all');
    expect(samples.filter((s) => s.quality === Quality.bad).map((s) => s.point)).toEqual(['cpu2_temp']);
    expect(errors).toEqual([expect.objectContaining({ where: 'GET /redfish/v1/Chassis/1/Sensors/CPU9Temp', points: ['cpu2_temp'] })]);
    expect(errors[0]!.error).toMatchObject({ code: 'redfish_http_status', details: { status: 404 } });
  });

  it('GETs each distinct resource once per read', async () => {
    const bmc = await bmcWith({ auth: 'basic', trust: 'ca', profile: CURRENT_PROFILE });
    await driverFor(bmc).read('all');
    const paths = bmc.service.requests().map((r) => `${r.method} ${r.path}`);
    expect(new Set(paths).size).toBe(paths.length);
    expect(paths).toHaveLength(new Set(CURRENT_PROFILE.points.map((p) => p.resource)).size);
  });

  it('logs in once, logs in again when the BMC forgot the session, and deletes the session at close', async () => {
    const bmc = await bmcWith({ auth: 'session', trust: 'pin' });
    const driver = driverFor(bmc);
    expect((await driver.read('all')).errors).toEqual([]);
    await driver.read('all');
    expect(bmc.service.requests().filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(bmc.service.requests().filter((r) => r.method === 'GET').every((r) => r.auth === 'session')).toBe(true);
    // A BMC restart ends every session: the next GET gets 401 and the driver logs in again.
    await bmc.stop();
    await bmc.restart();
    expect((await driver.read('all')).errors).toEqual([]);
    const after = bmc.service.requests();
    expect(after.filter((r) => r.method === 'POST').map((r) => r.path)).toEqual([SESSIONS_PATH]);
    expect(after.some((r) => r.auth === 'refused')).toBe(true);
    expect(bmc.service.sessionsOpen()).toBe(1);
    await driver.close();
    expect(bmc.service.sessionsOpen()).toBe(0);
    expect(bmc.service.requests().at(-1)).toMatchObject({ method: 'DELETE', path: `${SESSIONS_PATH}/1`, auth: 'session' });
    expect(bmc.service.writesReceived()).toBe(0);
  });

  it.each(['basic', 'session'] as const)('reports refused credentials (%s) as redfish_auth_failed on every point', async (auth) => {
    const bmc = await bmcWith({ auth, trust: 'pin' });
    writeFileSync(bmc.equipment.redfish!.passwordFile, 'not-the-password\n');
    const { samples, errors } = await driverFor(bmc).read('all');
    expect(samples.every((s) => s.quality === Quality.bad)).toBe(true);
    expect(new Set(errors.map((e) => e.error.code))).toEqual(new Set(['redfish_auth_failed']));
    expect(errors[0]!.error.message).toMatch(/check redfish.username and the password file/);
  });

  it.each(['pin', 'ca'] as const)('refuses a BMC whose certificate does not match the %s before any request', async (trust) => {
    const bmc = await bmcWith({ auth: 'session', trust, wrongTrust: true });
    const driver = driverFor(bmc);
    const { samples, errors } = await driver.read('all');
    expect(samples.every((s) => s.quality === Quality.bad && s.value === null)).toBe(true);
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) {
      expect(e.error.code).toBe('redfish_tls_refused');
      expect(e.error.message).toMatch(trust === 'pin' ? /not the pinned one .*nothing was sent/ : /not trusted .*nothing was sent/);
    }
    await driver.close();
    // The TLS handshake was reached, no HTTP request (not even the login with the password).
    expect(bmc.service.connectionsAccepted()).toBeGreaterThan(0);
    expect(bmc.service.requests()).toEqual([]);
  });

  it('never writes the password, its Basic encoding or a session token into a log or an error', async () => {
    const { logger, lines } = recordingLogger();
    const bmc = await bmcWith({ auth: 'session', trust: 'pin' });
    const driver = driverFor(bmc, bmc.profile, logger);
    const tokens: string[] = [];
    const reads = [await driver.read('all')];
    await bmc.stop();
    reads.push(await driver.read('all'));
    await bmc.restart();
    reads.push(await driver.read('all'));
    tokens.push(...bmc.service.issuedTokens());
    writeFileSync(bmc.equipment.redfish!.passwordFile, 'wrong\n');
    await driver.close();
    const failing = driverFor(bmc, bmc.profile, logger);
    reads.push(await failing.read('all'));
    await failing.close();
    const text = [...lines, ...reads.flatMap((r) => r.errors.map((e) => `${e.error.message} ${JSON.stringify(e.error.details)}`))].join('\n');
    expect(text.length).toBeGreaterThan(0);
    expect(tokens.length).toBeGreaterThan(0);
    for (const secret of [PASSWORD, Buffer.from(`monitor:${PASSWORD}`).toString('base64'), ...tokens]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/X-Auth-Token:|Authorization:/i);
  });
});

describe('requests outside the read-only allow-list', () => {
  const forbidden: [string, unknown][] = [
    ['PATCH', { method: 'PATCH', path: '/redfish/v1/Chassis/1' }],
    ['PUT', { method: 'PUT', path: '/redfish/v1/Chassis/1' }],
    ['POST Chassis.Reset', { method: 'POST', path: '/redfish/v1/Chassis/1/Actions/Chassis.Reset', body: { UserName: 'monitor', Password: 'x' } }],
    ['POST ComputerSystem.Reset', { method: 'POST', path: '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset', body: { UserName: 'monitor', Password: 'x' } }],
    ['POST elsewhere', { method: 'POST', path: '/redfish/v1/Chassis', body: { UserName: 'monitor', Password: 'x' } }],
    ['DELETE of a resource', { method: 'DELETE', path: '/redfish/v1/Chassis/1' }],
    ['DELETE of a session not ours', { method: 'DELETE', path: `${SESSIONS_PATH}/1` }],
  ];

  it.each(forbidden)('%s is refused before any socket exists: the BMC sees no connection', async (_name, spec) => {
    const bmc = await bmcWith({ auth: 'basic', trust: 'pin' });
    expect(() => buildRequest(spec as RequestSpec, `${SESSIONS_PATH}/2`)).toThrow(expect.objectContaining({ code: 'redfish_method_refused' }));
    // The transport's own check: a forged request object gets no further than the builder's.
    const transport = new HttpsTransport({ host: '127.0.0.1', port: bmc.service.port, timeoutMs: 2000, tls: { pinSha256: bmc.equipment.redfish!.tls.pinSha256! } });
    const forged = Object.assign(Object.create(RedfishRequest.prototype) as object, spec, { purpose: 'read' }) as RedfishRequest;
    await expect(transport.send(forged, undefined, `${SESSIONS_PATH}/2`)).rejects.toMatchObject({ code: 'redfish_method_refused' });
    transport.close();
    expect(bmc.service.connectionsAccepted()).toBe(0);
    expect(bmc.service.requests()).toEqual([]);
    expect(bmc.service.writesReceived()).toBe(0);
  });

  it('the client has no way to send one: its only request method is a GET of a resource', async () => {
    const bmc = await bmcWith({ auth: 'basic', trust: 'pin' });
    const client = redfishClientFor(bmc.equipment);
    open.push(client);
    await expect(client.getResource('/redfish/v1/Chassis/1/Actions/Chassis.Reset')).rejects.toBeInstanceOf(RedfishError);
    await expect(client.getResource('/redfish/v1/Chassis/1')).resolves.toHaveProperty('PowerState', 'On');
    expect(bmc.service.requests().map((r) => r.method)).toEqual(['GET']);
  });
});
