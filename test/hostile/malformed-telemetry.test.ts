/**
 * A device that is authenticated but sends garbage: the running server keeps going, counts each
 * bad message by reason, logs it without the payload, refuses the batch for good when it can name
 * it, and still stores the good data that follows. Bytes are sent with mosquitto_pub, a client
 * that is not ours.
 *
 * "Authenticated" as issue 3 defines it: the device is claimed into a group, attested (real
 * evidence over HTTPS against the group's registered release) and holds the operational
 * certificate the server issued, which the broker checks on every CONNECT.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import mqtt from 'mqtt';
import { FileKeyStore, GUARDIAN_SWNAME, enrol } from '@shellguard/guardian';
import {
  DataType, Quality, controlTopic, decodeBatchAck, encodeDeviceData, sparkplugTopic, type BatchAck, type Measurement,
} from '@shellguard/protocol';
import { ROOT_CERT_FILE, initPki, startServer, type ServerHandle } from '@shellguard/server';

const run = promisify(execFile);
const SITE = 'site-1';
const GROUP = 'hostile-devices';
const SWVERSION = '0.1.0';
/** Reference values for a made-up release: the device attests with exactly these. */
const MEASUREMENTS: Measurement[] = ['runtime', 'guardian-bundle', 'config', 'profiles']
  .map((component, i) => ({ component, digest: String(i + 1).repeat(64) }));
let dir: string;
let server: ServerHandle;
let rootFile: string;
let device: { id: string; keyFile: string; certFile: string };
let token: string;
const logLines: string[] = [];

function health(): Promise<{ ingest: { rejected: Record<string, number>; samplesStored: number } }> {
  return new Promise((resolve, reject) => {
    https.get(`https://127.0.0.1:${server.apiPort}/api/v1/health`, { ca: server.rootPem, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += String(c); }).on('end', () => resolve(JSON.parse(text)));
    }).on('error', reject);
  });
}

async function mosquittoPub(topic: string, file: string): Promise<void> {
  await run('mosquitto_pub', [
    '-h', '127.0.0.1', '-p', String(server.mqttPort), '-V', 'mqttv311', '-i', device.id,
    '--cafile', rootFile, '--cert', device.certFile, '--key', device.keyFile,
    '-t', topic, '-f', file, '-q', '1',
  ], { timeout: 10_000 });
}

async function until<T>(what: string, f: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sg-hostile-'));
  const sink = new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } });
  await initPki(path.join(dir, 'ca'), { commonName: 'Hostile test site' });
  server = await startServer({
    dataDir: path.join(dir, 'server'), caDir: path.join(dir, 'ca'),
    mqtt: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 },
    tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
  }, { logger: pino({ level: 'info' }, sink) });
  token = server.adminToken!;
  rootFile = path.join(dir, 'ca', ROOT_CERT_FILE);
  const keys = await FileKeyStore.open(path.join(dir, 'device'));
  await server.fleet.defineGroup({ id: GROUP, site: SITE, minSecureVersion: SWVERSION }, 'test');
  await server.fleet.registerRelease({ group: GROUP, swname: GUARDIAN_SWNAME, swversion: SWVERSION, components: MEASUREMENTS }, 'test');
  await server.fleet.claim({ deviceId: keys.deviceId, site: SITE, group: GROUP }, 'test');
  const enrolment = await enrol({
    apiUrl: `https://127.0.0.1:${server.apiPort}`, rootCaPem: server.rootPem, keyStore: keys, measurements: MEASUREMENTS,
    swname: GUARDIAN_SWNAME, swversion: SWVERSION, bootcount: 1, now: Date.now,
  });
  // leaf + issuing CA: the chain mosquitto_pub and mqtt.js present.
  const certFile = path.join(dir, 'device', 'operational.pem');
  writeFileSync(certFile, enrolment.certificatePem);
  device = { id: keys.deviceId, keyFile: path.join(dir, 'device', 'identity.key'), certFile };
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a server receiving malformed telemetry from an authenticated device', () => {
  it('counts and logs each bad message, refuses the nameable batch for good, and keeps storing good data', async () => {
    const topic = sparkplugTopic({ group: SITE, type: 'DDATA', edge: device.id, device: 'AHU-01' });
    const garbage = path.join(dir, 'garbage.bin');
    writeFileSync(garbage, Buffer.from('this is not protobuf \u0000\u00ff\u00fe'));
    await mosquittoPub(topic, garbage);

    // A well-formed Sparkplug payload whose second metric claims Boolean but carries a double.
    const bad = Buffer.from(encodeDeviceData({ epoch: 'hostile', seq: 41 }, [{ point: 'sat', ts: 1_700_000_000_000, value: 1.5, quality: Quality.good }], { sparkplugSeq: 0, now: 1_700_000_000_000 }));
    const at = bad.indexOf(Buffer.from([0x20, DataType.Double]));
    bad[at + 1] = DataType.Boolean;
    const badFile = path.join(dir, 'bad-metric.bin');
    writeFileSync(badFile, bad);

    // Listen for acks as the device would, then send the bad batch and a good one.
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${server.mqttPort}`, {
      protocolVersion: 4, clientId: device.id, ca: server.rootPem, reconnectPeriod: 0,
      key: readFileSync(device.keyFile), cert: readFileSync(device.certFile),
    });
    const acks: BatchAck[] = [];
    client.on('message', (_t, payload) => acks.push(decodeBatchAck(payload)));
    await client.subscribeAsync(controlTopic(device.id, 'down', 'ack'));
    await client.publishAsync(topic, bad, { qos: 1 });
    const now = Date.now();
    const good = encodeDeviceData({ epoch: 'hostile', seq: 42 }, [{ point: 'sat', ts: now, value: 18.5, quality: Quality.good }], { sparkplugSeq: 1, now });
    await client.publishAsync(topic, Buffer.from(good), { qos: 1 });

    await until('both acks', async () => (acks.flatMap((a) => [...a.stored, ...a.rejected.map((r) => r.seq)]).length >= 2 ? true : undefined));
    await client.endAsync();
    expect(acks.flatMap((a) => a.rejected)).toEqual([{ seq: 41, reason: 'metric_value' }]);
    expect(acks.flatMap((a) => a.stored)).toEqual([42]);

    const h = await health();
    expect(h.ingest.rejected).toMatchObject({ payload_undecodable: 1, metric_value: 1 });
    expect(h.ingest.samplesStored).toBe(1);
    const refusals = logLines.filter((l) => l.includes('refused a message'));
    expect(refusals.length).toBe(2);
    // The log names the reason and the device, never the payload bytes.
    expect(refusals.join('')).not.toContain('this is not protobuf');
  });
});
