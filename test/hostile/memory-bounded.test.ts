/**
 * Trust hole 5 (issue 7): one guardian could exhaust the server's memory. Found from outside with
 * a real guardian's certificate: 95 retained 5 MB publishes raised the server from 250 to 564 MB
 * and it never gave it back; the broker set no maximum packet size, so the 4 MB payload check ran
 * after the whole packet was buffered; 100,000 new series in 7.7 s added 225 MB.
 *
 * Here the server runs as its own process (`shellguard server`, as deployed) so its resident
 * memory can be read from /proc. A hostile guardian, attested like any other, attacks with
 * Debian's mosquitto_pub (retained and oversized publishes) and with an MQTT client (a series
 * flood and a message flood), while an honest guardian keeps streaming through its real outbox
 * and uplink. The server's memory stays bounded, the honest guardian loses nothing, and the
 * refusals are counted.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { FileKeyStore, GUARDIAN_SWNAME, Outbox, Uplink, enrol, type Enrolment } from '@shellguard/guardian';
import { Quality, encodeDeviceData, sparkplugTopic, type Sample } from '@shellguard/protocol';
import { MEASUREMENTS } from '../support/enrolled-device.ts';
import { CliProcess, runCli } from '../system/support/cli-process.ts';
import { getJson, postJson } from '../system/support/https-json.ts';
import { sleep, waitFor } from '../system/support/wait-for.ts';
import { run } from '../../packages/server/test/broker/broker-fixture.ts';

const SITE = 'site-1';
const GROUP = 'hall-gateways';
const MB = 1024 * 1024;

/** Resident memory of a process, from /proc (bytes). */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

interface Device { name: string; keys: FileKeyStore; enrolment: Enrolment; certFile: string; keyFile: string }

describe('a hostile guardian cannot exhaust the server\'s memory (hole 5)', () => {
  let dir: string;
  let server: CliProcess;
  let api: string;
  let mqttUrl: string;
  let mqttPort: number;
  let token: string;
  let rootPem: string;
  let rootFile: string;
  let honest: Device;
  let hostile: Device;
  let outbox: Outbox;
  let uplink: Uplink;
  let streaming: NodeJS.Timeout | undefined;
  let honestSent = 0;
  const rss: number[] = [];
  let sampler: NodeJS.Timeout | undefined;

  const health = async () => (await getJson(`${api}/health`, { caPem: rootPem, token })).body as {
    ingest: { rejected: Record<string, number>; broker: { refusedRetained: number; oversizedPackets: number; throttled: number } };
  };

  async function device(name: string): Promise<Device> {
    const keys = await FileKeyStore.open(path.join(dir, name));
    const claim = await postJson(`${api}/claims`, { deviceId: keys.deviceId, site: SITE, group: GROUP }, { caPem: rootPem, token });
    expect(claim.status).toBe(201);
    const enrolment = await enrol({
      apiUrl: api.replace('/api/v1', ''), rootCaPem: rootPem, keyStore: keys, measurements: MEASUREMENTS,
      swname: GUARDIAN_SWNAME, swversion: '0.1.0', bootcount: 1, now: Date.now,
    });
    const certFile = path.join(dir, name, 'operational.crt');
    const keyFile = path.join(dir, name, 'operational.key');
    writeFileSync(certFile, enrolment.certificatePem);
    writeFileSync(keyFile, keys.tlsPrivateKeyPem(), { mode: 0o600 });
    return { name, keys, enrolment, certFile, keyFile };
  }

  const mosquitto = (d: Device, topic: string, file: string, retain: boolean) => run('mosquitto_pub', [
    '-h', '127.0.0.1', '-p', String(mqttPort), '-V', 'mqttv311', '-i', d.keys.deviceId,
    '--cafile', rootFile, '--cert', d.certFile, '--key', d.keyFile, '-t', topic, '-f', file, ...(retain ? ['-r'] : []),
  ]);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sg-memory-'));
    await runCli(['ca', 'init', '--dir', path.join(dir, 'ca')]);
    rootFile = path.join(dir, 'ca', 'root.crt');
    rootPem = readFileSync(rootFile, 'utf8');
    writeFileSync(path.join(dir, 'server.yaml'), toYaml({
      dataDir: path.join(dir, 'server'), caDir: path.join(dir, 'ca'),
      mqtt: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 },
    }));
    server = new CliProcess('server', ['server', '--config', path.join(dir, 'server.yaml')], { logFile: path.join(dir, 'server.log') });
    token = (await server.waitForLine(/admin API token .*: (\S+)/, 60_000))[1]!;
    const ports = await server.waitForLine(/API (https:\/\/\S+\/api\/v1)\s+broker (mqtts:\/\/127\.0\.0\.1:(\d+))/, 60_000);
    api = ports[1]!;
    mqttUrl = ports[2]!;
    mqttPort = Number(ports[3]);
    expect((await postJson(`${api}/groups`, { id: GROUP, site: SITE, minSecureVersion: '0.1.0' }, { caPem: rootPem, token })).status).toBe(201);
    expect((await postJson(`${api}/groups/${GROUP}/releases`, { swname: GUARDIAN_SWNAME, swversion: '0.1.0', components: MEASUREMENTS }, { caPem: rootPem, token })).status).toBe(201);
    honest = await device('honest');
    hostile = await device('hostile');

    // The honest guardian streams a batch every 100 ms through its real outbox and uplink.
    outbox = new Outbox(path.join(dir, 'honest', 'queue.sqlite'));
    uplink = new Uplink({
      url: mqttUrl, deviceId: honest.keys.deviceId, site: SITE, version: '0.1.0',
      tls: { caPem: rootPem, certPem: honest.enrolment.certificatePem, keyPem: honest.keys.tlsPrivateKeyPem() },
      outbox, logger: pino({ level: 'silent' }), resendAfterMs: 3_000,
      assets: [{ asset: 'AHU-01', name: 'AHU 1', type: 'ahu', area: 'hall-1', profile: 'ahu-generic', points: [] }],
    });
    uplink.start();
    streaming = setInterval(() => {
      const now = Date.now();
      outbox.enqueue('AHU-01', [{ point: 'supply_air_temp', ts: now, value: 18 + Math.random(), quality: Quality.good }], now);
      honestSent++;
      uplink.pump();
    }, 100);
    await waitFor('the honest guardian streams', () => uplink.stats().acknowledgedBatches >= 20, { timeoutMs: 30_000 });
    // Warm-up done: the baseline is the running server, streaming.
    rss.push(rssOf(server.child.pid!));
    sampler = setInterval(() => rss.push(rssOf(server.child.pid!)), 100);
  }, 120_000);

  afterAll(async () => {
    if (sampler) clearInterval(sampler);
    if (streaming) clearInterval(streaming);
    await uplink?.stop();
    outbox?.close();
    await server?.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses 95 retained 5 MB publishes (at the packet header) and 95 retained 512 KB ones (as retained)', async () => {
    const big = path.join(dir, 'big.bin');
    const medium = path.join(dir, 'medium.bin');
    writeFileSync(big, Buffer.alloc(5 * MB, 0x41));
    writeFileSync(medium, Buffer.alloc(512 * 1024, 0x42));
    const topic = sparkplugTopic({ group: SITE, type: 'DDATA', edge: hostile.keys.deviceId, device: 'AHU-99' });
    for (let i = 0; i < 95; i++) await mosquitto(hostile, topic, big, true);
    for (let i = 0; i < 95; i++) await mosquitto(hostile, topic, medium, true);
    console.log(`after retained: ${(rssOf(server.child.pid!) / MB).toFixed(0)} MB`);
    const h = await health();
    expect(h.ingest.broker.oversizedPackets).toBeGreaterThanOrEqual(95);
    expect(h.ingest.broker.refusedRetained).toBe(95);
  }, 180_000);

  it('creates no more series than the guardian\'s quota when flooded with 100,000 new ones', async () => {
    const client = await mqtt.connectAsync(mqttUrl, {
      protocolVersion: 4, clientId: hostile.keys.deviceId, reconnectPeriod: 0,
      ca: rootPem, cert: hostile.enrolment.certificatePem, key: hostile.keys.tlsPrivateKeyPem(),
    });
    try {
      const now = Date.now();
      for (let b = 0; b < 100; b++) {
        const samples: Sample[] = Array.from({ length: 1000 }, (_, i) => ({ point: `p${b}_${i}`, ts: now, value: i, quality: Quality.good }));
        const payload = encodeDeviceData({ epoch: 'flood', seq: b + 1 }, samples, { sparkplugSeq: b & 0xff, now });
        client.publish(sparkplugTopic({ group: SITE, type: 'DDATA', edge: hostile.keys.deviceId, device: `FLOOD-${b}` }), Buffer.from(payload), { qos: 0 });
      }
      await waitFor('the flood is decided', async () => ((await health()).ingest.rejected.point_quota_exceeded ?? 0) >= 95, { timeoutMs: 60_000 });
    } finally {
      await client.endAsync();
    }
    const assets = (await getJson(`${api}/assets?site=${SITE}`, { caPem: rootPem, token })).body as { assets: { id: string }[] };
    let series = 0;
    for (const a of assets.assets.filter((x) => x.id.startsWith('FLOOD-'))) {
      const detail = (await getJson(`${api}/assets/${a.id}?site=${SITE}`, { caPem: rootPem, token })).body as { points: unknown[] };
      series += detail.points.length;
    }
    expect(series).toBeLessThanOrEqual(5_000);
    console.log(`after series: ${(rssOf(server.child.pid!) / MB).toFixed(0)} MB, ${series} series`);
  }, 120_000);

  it('throttles a message flood without dropping the honest guardian', async () => {
    const client = await mqtt.connectAsync(mqttUrl, {
      protocolVersion: 4, clientId: hostile.keys.deviceId, reconnectPeriod: 0,
      ca: rootPem, cert: hostile.enrolment.certificatePem, key: hostile.keys.tlsPrivateKeyPem(),
    });
    try {
      const topic = sparkplugTopic({ group: SITE, type: 'DDATA', edge: hostile.keys.deviceId, device: 'AHU-99' });
      for (let i = 0; i < 20_000; i++) client.publish(topic, Buffer.from([0xff, i & 0xff]), { qos: 0 });
      await waitFor('the flood is throttled', async () => (await health()).ingest.broker.throttled > 0, { timeoutMs: 60_000 });
    } finally {
      client.end(true);
    }
  }, 120_000);

  it('kept its memory bounded, and the honest guardian lost nothing', async () => {
    clearInterval(streaming);
    streaming = undefined;
    await waitFor('the honest guardian\'s outbox drains', () => outbox.stats().pendingBatches === 0, { timeoutMs: 60_000 });
    expect(outbox.stats().rejectedBatches).toBe(0);
    expect(uplink.stats().acknowledgedBatches).toBe(honestSent);
    await sleep(500);
    clearInterval(sampler);
    sampler = undefined;
    const baseline = rss[0]!;
    const peak = Math.max(...rss);
    const end = rss[rss.length - 1]!;
    console.log(`server RSS: baseline ${(baseline / MB).toFixed(0)} MB, peak ${(peak / MB).toFixed(0)} MB, end ${(end / MB).toFixed(0)} MB`);
    // The retained publishes alone raised the unfixed server by 314 MB, the series flood by 225 MB.
    expect(peak - baseline).toBeLessThan(150 * MB);
  }, 120_000);
});
