/**
 * Revocation end to end: a guardian that attested and is streaming is revoked through the API;
 * the broker drops its session, refuses its certificate from then on, attestation refuses the
 * device, and the CRL an external broker would load lists the certificate's serial.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import mqtt from 'mqtt';
import { FileKeyStore, GUARDIAN_SWNAME, enrol, type Enrolment } from '@shellguard/guardian';
import { controlTopic, type Measurement } from '@shellguard/protocol';
import { startServer, type ServerHandle } from '@shellguard/server';

const SITE = 'site-1';
const GROUP = 'hall-gateways';
const digest = (s: string) => Buffer.from(s.padEnd(32, '.')).toString('hex').slice(0, 64);
const MEASUREMENTS: Measurement[] = ['runtime', 'guardian-bundle', 'config', 'profiles'].map((component) => ({ component, digest: digest(component) }));

let dir: string;
let server: ServerHandle;
let keys: FileKeyStore;
let enrolment: Enrolment;

function post(pathname: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(`https://127.0.0.1:${server.apiPort}${pathname}`, {
      method: 'POST', ca: server.rootPem,
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += String(c); }).on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

function get(pathname: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https.get(`https://127.0.0.1:${server.apiPort}${pathname}`, { ca: server.rootPem, headers: { authorization: `Bearer ${server.adminToken}` } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += String(c); }).on('end', () => resolve(text));
    }).on('error', reject);
  });
}

function connect(): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(`mqtts://127.0.0.1:${server.mqttPort}`, {
    protocolVersion: 4, clientId: keys.deviceId, reconnectPeriod: 0, connectTimeout: 5_000,
    ca: server.rootPem, cert: enrolment.certificatePem, key: keys.tlsPrivateKeyPem(),
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sg-revoke-'));
  server = await startServer({
    dataDir: path.join(dir, 'server'), caDir: path.join(dir, 'ca'),
    mqtt: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 },
    tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
  }, { logger: pino({ level: 'silent' }) });
  keys = await FileKeyStore.open(path.join(dir, 'guardian'));
  server.fleet.defineGroup({ id: GROUP, site: SITE, minSecureVersion: '0.1.0' }, 'test');
  server.fleet.registerRelease({ group: GROUP, swname: GUARDIAN_SWNAME, swversion: '0.1.0', components: MEASUREMENTS }, 'test');
  server.fleet.claim({ deviceId: keys.deviceId, site: SITE, group: GROUP }, 'test');
  enrolment = await enrol({
    apiUrl: `https://127.0.0.1:${server.apiPort}`, rootCaPem: server.rootPem, keyStore: keys, measurements: MEASUREMENTS,
    swname: GUARDIAN_SWNAME, swversion: '0.1.0', bootcount: 1, now: Date.now,
  });
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('revoking a connected guardian', () => {
  it('drops its session, refuses it from then on, and lists its certificate in the CRL', async () => {
    const client = await connect();
    await client.subscribeAsync(controlTopic(keys.deviceId, 'down', 'ack'));
    expect(server.stats().connectedDevices).toBe(1);

    const closed = new Promise<number>((resolve) => client.once('close', () => resolve(Date.now())));
    const revokedAt = Date.now();
    const res = await post(`/api/v1/fleet/${keys.deviceId}/revoke`, { reason: 'gateway stolen from hall 2' });
    expect(res.status).toBe(200);
    const disconnectedAt = await closed;
    // The issue asks for "within a second"; shared CI machines make that a report, not an assertion.
    console.log(`revocation to disconnect: ${disconnectedAt - revokedAt} ms`);
    expect(server.stats().connectedDevices).toBe(0);

    // Its still-unexpired certificate no longer opens a session.
    await expect(connect()).rejects.toThrow();
    expect(server.stats().broker.refusedConnections).toBeGreaterThan(0);

    // Attestation refuses the device: no new certificate.
    await expect(enrol({
      apiUrl: `https://127.0.0.1:${server.apiPort}`, rootCaPem: server.rootPem, keyStore: keys, measurements: MEASUREMENTS,
      swname: GUARDIAN_SWNAME, swversion: '0.1.0', bootcount: 2, now: Date.now,
    })).rejects.toMatchObject({ refusal: 'device_revoked' });

    // The CRL for external brokers names the serial (checked with openssl, not our parser).
    const crlFile = path.join(dir, 'site.crl');
    writeFileSync(crlFile, await get('/api/v1/pki/crl'));
    const text = execFileSync('openssl', ['crl', '-in', crlFile, '-noout', '-text'], { encoding: 'utf8' });
    expect(text.toLowerCase().replace(/:/g, '')).toContain(enrolment.serial.replace(/^0+/, ''));
  });
});
