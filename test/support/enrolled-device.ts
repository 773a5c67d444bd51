/**
 * A real server on loopback and one device enrolled the way a guardian is (group, release, claim,
 * attestation), for system tests that need an authenticated MQTT client that is not a whole guardian.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { pino } from 'pino';
import mqtt from 'mqtt';
import { FileKeyStore, GUARDIAN_SWNAME, enrol, type Enrolment } from '@shellguard/guardian';
import type { Measurement } from '@shellguard/protocol';
import { initPki, startServer, type LiveAnalyticsTuning, type ServerConfig, type ServerHandle } from '@shellguard/server';
import { startExternalMosquitto, type TestBroker } from '../external-broker/mosquitto-site.ts';

export const SITE = 'site-1';
export const GROUP = 'hall-gateways';
const digest = (s: string) => Buffer.from(s.padEnd(32, '.')).toString('hex').slice(0, 64);
export const MEASUREMENTS: Measurement[] = ['runtime', 'guardian-bundle', 'config', 'profiles'].map((component) => ({ component, digest: digest(component) }));

export interface TestSite {
  dir: string;
  server: ServerHandle;
  keys: FileKeyStore;
  enrolment: Enrolment;
  apiUrl: string;
  connect(): Promise<mqtt.MqttClient>;
  enrolAgain(): Promise<Enrolment>;
  get(pathname: string): Promise<{ status: number; text: string }>;
  post(pathname: string, body: unknown): Promise<{ status: number; text: string }>;
  close(): Promise<void>;
}

/** `broker: 'mosquitto'` runs the site on an external Mosquitto (test/external-broker) instead of the embedded broker. */
/** `config`: more of server.yaml (e.g. `federation`), over the test site's own. */
/** `analytics`: live analytics tuning (e.g. a shorter declared-normal period for the asset models). */
export async function startTestSite(prefix: string, options: { broker?: TestBroker; config?: Partial<ServerConfig>; analytics?: LiveAnalyticsTuning } = {}): Promise<TestSite> {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  await initPki(path.join(dir, 'ca'), { commonName: 'Test site' });
  const external = options.broker === 'mosquitto' ? await startExternalMosquitto(dir, path.join(dir, 'ca')) : undefined;
  const server = await startServer({
    dataDir: path.join(dir, 'server'), caDir: path.join(dir, 'ca'),
    mqtt: external?.mqtt ?? { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 },
    tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
    ...options.config,
  }, { logger: pino({ level: 'silent' }), ...(options.analytics ? { analytics: options.analytics } : {}) }).catch(async (err: unknown) => {
    await external?.stop();
    throw err;
  });
  const keys = await FileKeyStore.open(path.join(dir, 'guardian'));
  await server.fleet.defineGroup({ id: GROUP, site: SITE, minSecureVersion: '0.1.0' }, 'test');
  await server.fleet.registerRelease({ group: GROUP, swname: GUARDIAN_SWNAME, swversion: '0.1.0', components: MEASUREMENTS }, 'test');
  await server.fleet.claim({ deviceId: keys.deviceId, site: SITE, group: GROUP }, 'test');
  const apiUrl = `https://127.0.0.1:${server.apiPort}`;
  let bootcount = 0;
  const enrolAgain = () => enrol({
    apiUrl, rootCaPem: server.rootPem, keyStore: keys, measurements: MEASUREMENTS,
    swname: GUARDIAN_SWNAME, swversion: '0.1.0', bootcount: ++bootcount, now: Date.now,
  });
  const enrolment = await enrolAgain();
  await external?.waitForAccess({ deviceId: keys.deviceId, certPem: enrolment.certificatePem, keyPem: keys.tlsPrivateKeyPem(), rootPem: server.rootPem });
  const request = (method: string, pathname: string, body?: unknown) => new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = https.request(`${apiUrl}${pathname}`, {
      method, ca: server.rootPem,
      headers: { authorization: `Bearer ${server.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += String(c); }).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
  return {
    dir, server, keys, enrolment, apiUrl, enrolAgain,
    connect: () => mqtt.connectAsync(`mqtts://127.0.0.1:${server.mqttPort}`, {
      protocolVersion: 4, clientId: keys.deviceId, reconnectPeriod: 0, connectTimeout: 5_000,
      ca: server.rootPem, cert: enrolment.certificatePem, key: keys.tlsPrivateKeyPem(),
    }),
    get: (pathname) => request('GET', pathname),
    post: (pathname, body) => request('POST', pathname, body),
    async close() {
      await server.stop();
      await external?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
