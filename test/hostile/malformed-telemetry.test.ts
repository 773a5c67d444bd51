/**
 * A device that is authenticated but sends garbage: the running server keeps going, counts each
 * bad message by reason, logs it without the payload, refuses the batch for good when it can name
 * it, and still stores the good data that follows. Bytes are sent with mosquitto_pub, a client
 * that is not ours.
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
import { FileKeyStore } from '@shellguard/guardian';
import {
  DataType, Quality, controlTopic, decodeBatchAck, encodeDeviceData, sparkplugTopic, type BatchAck,
} from '@shellguard/protocol';
import { initCaDirectory, issueDeviceCertificate, startServer, type ServerHandle, type SiteCa } from '@shellguard/server';

const run = promisify(execFile);
let dir: string;
let server: ServerHandle;
let ca: SiteCa;
let device: { id: string; keyFile: string; certFile: string };
let token: string;
const logLines: string[] = [];

function health(): Promise<{ ingest: { rejected: Record<string, number>; samplesStored: number } }> {
  return new Promise((resolve, reject) => {
    https.get(`https://127.0.0.1:${server.apiPort}/api/v1/health`, { ca: ca.certPem, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += String(c); }).on('end', () => resolve(JSON.parse(text)));
    }).on('error', reject);
  });
}

async function mosquittoPub(topic: string, file: string): Promise<void> {
  await run('mosquitto_pub', [
    '-h', '127.0.0.1', '-p', String(server.mqttPort), '-V', 'mqttv311', '-i', device.id,
    '--cafile', path.join(dir, 'ca', 'ca.crt'), '--cert', device.certFile, '--key', device.keyFile,
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
  ca = await initCaDirectory(path.join(dir, 'ca'), { commonName: 'hostile test CA' });
  const sink = new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } });
  server = await startServer({
    dataDir: path.join(dir, 'server'), caDir: path.join(dir, 'ca'),
    mqtt: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 },
    tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
  }, { logger: pino({ level: 'info' }, sink) });
  token = server.adminToken!;
  const keys = await FileKeyStore.open(path.join(dir, 'device'));
  const certFile = path.join(dir, 'device', 'cert.pem');
  writeFileSync(certFile, await issueDeviceCertificate(ca, await keys.createCsr(), { validityHours: 1 }));
  device = { id: keys.deviceId, keyFile: path.join(dir, 'device', 'identity.key'), certFile };
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a server receiving malformed telemetry from an authenticated device', () => {
  it('counts and logs each bad message, refuses the nameable batch for good, and keeps storing good data', async () => {
    const topic = sparkplugTopic({ group: 'site-1', type: 'DDATA', edge: device.id, device: 'AHU-01' });
    const garbage = path.join(dir, 'garbage.bin');
    writeFileSync(garbage, Buffer.from('this is not protobuf \u0000\u00ff\u00fe'));
    await mosquittoPub(topic, garbage);

    // A well-formed Sparkplug payload whose second metric claims Boolean but carries a double.
    const bad = Buffer.from(encodeDeviceData(41, [{ point: 'sat', ts: 1_700_000_000_000, value: 1.5, quality: Quality.good }], { sparkplugSeq: 0, now: 1_700_000_000_000 }));
    const at = bad.indexOf(Buffer.from([0x20, DataType.Double]));
    bad[at + 1] = DataType.Boolean;
    const badFile = path.join(dir, 'bad-metric.bin');
    writeFileSync(badFile, bad);

    // Listen for acks as the device would, then send the bad batch and a good one.
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${server.mqttPort}`, {
      protocolVersion: 4, clientId: device.id, ca: ca.certPem, reconnectPeriod: 0,
      key: readFileSync(device.keyFile), cert: readFileSync(device.certFile),
    });
    const acks: BatchAck[] = [];
    client.on('message', (_t, payload) => acks.push(decodeBatchAck(payload)));
    await client.subscribeAsync(controlTopic(device.id, 'down', 'ack'));
    await client.publishAsync(topic, bad, { qos: 1 });
    const good = encodeDeviceData(42, [{ point: 'sat', ts: 1_700_000_000_001, value: 18.5, quality: Quality.good }], { sparkplugSeq: 1, now: 1_700_000_000_001 });
    await client.publishAsync(topic, Buffer.from(good), { qos: 1 });

    await until('both acks', async () => (acks.flatMap((a) => [...a.stored, ...a.rejected.map((r) => r.seq)]).length >= 2 ? true : undefined));
    await client.endAsync();
    expect(acks.flatMap((a) => a.rejected)).toEqual([{ seq: 41, reason: 'metric_value' }]);
    expect(acks.flatMap((a) => a.stored)).toEqual([42]);

    const h = await health();
    expect(h.ingest.rejected).toMatchObject({ payload_undecodable: 1, metric_value: 1 });
    expect(h.ingest.samplesStored).toBe(1);
    const refusals = logLines.filter((l) => l.includes('refused a malformed message'));
    expect(refusals.length).toBe(2);
    // The log names the reason and the device, never the payload bytes.
    expect(refusals.join('')).not.toContain('this is not protobuf');
  });
});
