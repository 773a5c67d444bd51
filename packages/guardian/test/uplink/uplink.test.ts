import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer, type Server, type TLSSocket } from 'node:tls';
// aedes is only a test fixture here (hoisted from the server's dependencies); the guardian never
// imports the server package.
import { Aedes } from 'aedes';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ControlKinds, Quality, controlTopic, decodeDeviceData, decodeDeviceReport, encodeDeviceReport,
} from '@shellguard/protocol';
import { ManualClock } from '@shellguard/protocol/testing';
import { FileKeyStore } from '../../src/identity/file-key-store.ts';
import { Outbox } from '../../src/queue/outbox.ts';
import { Uplink, type UplinkOptions } from '../../src/uplink/uplink.ts';
import { createTestPki, type TestPki } from '../attestation/openssl-pki.ts';

interface Session { clientId: string; certSerial: string }

/** An MQTT broker behind mutual TLS that records who connected with which certificate. */
async function startTestBroker(pki: TestPki, port = 0) {
  const sessions: Session[] = [];
  const published: { topic: string; payload: Buffer }[] = [];
  const aedes = await Aedes.createBroker({
    published(packet, client, done) {
      if (client) published.push({ topic: packet.topic, payload: Buffer.from(packet.payload as Buffer) });
      done(null);
    },
  });
  aedes.on('clientReady', (client) => {
    const cert = (client.conn as unknown as TLSSocket).getPeerX509Certificate();
    sessions.push({ clientId: client.id, certSerial: cert!.serialNumber.toLowerCase() });
  });
  const server: Server = createServer({
    cert: pki.serverChainPem, key: pki.serverKeyPem, ca: [pki.rootPem], requestCert: true, rejectUnauthorized: true,
  }, (socket) => aedes.handle(socket as never));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    sessions,
    published,
    async close() {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function eventually(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Serial of the first (leaf) certificate of a chain. */
const serialOf = (chainPem: string) => new X509Certificate(chainPem).serialNumber.toLowerCase();

describe('Uplink', () => {
  let dir: string;
  let pki: TestPki;
  let keys: FileKeyStore;
  let broker: Awaited<ReturnType<typeof startTestBroker>>;
  let outbox: Outbox;
  let uplink: Uplink | undefined;
  let firstChain: string;
  let renewedChain: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-uplink-'));
    pki = createTestPki(dir);
    keys = await FileKeyStore.open(path.join(dir, 'guardian'));
    const publicPem = keys.publicKey().export({ type: 'spki', format: 'pem' }).toString();
    firstChain = pki.issueLeaf(publicPem, keys.deviceId) + pki.issuingPem;
    renewedChain = pki.issueLeaf(publicPem, keys.deviceId) + pki.issuingPem;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    broker = await startTestBroker(pki);
    outbox = new Outbox(path.join(dir, `queue-${Date.now()}-${Math.random()}.sqlite`));
  });
  afterEach(async () => {
    await uplink?.stop();
    uplink = undefined;
    outbox.close();
    await broker.close();
  });

  const startUplink = (onReady?: () => void, extra: Partial<UplinkOptions> = {}) => {
    uplink = new Uplink({
      url: `mqtts://127.0.0.1:${broker.port}`,
      deviceId: keys.deviceId,
      site: 'dc1',
      version: '0.1.0',
      tls: { caPem: pki.rootPem, certPem: firstChain, keyPem: keys.tlsPrivateKeyPem() },
      outbox,
      assets: [],
      logger: pino({ level: 'silent' }),
      resendAfterMs: 3_600_000,
      reconnectPeriodMs: 50,
      ...(onReady ? { onReady } : {}),
      ...extra,
    });
    uplink.start();
    return uplink;
  };
  const ddataSeqs = () => broker.published.filter((p) => p.topic.includes('/DDATA/')).map((p) => decodeDeviceData(p.payload).seq);

  it('switches to a renewed certificate at once and publishes again every batch not yet acknowledged', async () => {
    outbox.enqueue('ahu-1', [{ point: 'supply_air_temp', ts: 1, value: 18.5, quality: Quality.good }], 1);
    const up = startUplink();
    await eventually(() => ddataSeqs().length === 1);
    expect(broker.sessions).toEqual([{ clientId: keys.deviceId, certSerial: serialOf(firstChain) }]);

    up.updateCredentials(renewedChain);
    await eventually(() => broker.sessions.length === 2 && ddataSeqs().length === 2);
    expect(broker.sessions[1]).toEqual({ clientId: keys.deviceId, certSerial: serialOf(renewedChain) });
    // The unacknowledged batch went out again in the new session: nothing lost.
    expect(ddataSeqs()).toEqual([1, 1]);
    // The old session announced its end (Sparkplug NDEATH) before the new one was born.
    const kinds = broker.published.map((p) => p.topic.split('/')[2]);
    expect(kinds.indexOf('NDEATH')).toBeGreaterThan(-1);
    expect(kinds.lastIndexOf('NBIRTH')).toBeGreaterThan(kinds.indexOf('NDEATH'));
    await eventually(() => up.stats().connected);
    expect(up.stats()).toMatchObject({ connects: 2, credentialUpdates: 1 });
  });

  it('publishes a batch again once resendAfterMs has passed without its ack, and not before', async () => {
    // Fake time for the resend check; the network is real (this broker never acknowledges).
    const clock = new ManualClock(Date.now());
    outbox.enqueue('ahu-1', [{ point: 'supply_air_temp', ts: clock.now(), value: 18.5, quality: Quality.good }], clock.now());
    const up = startUplink(undefined, { clock, resendAfterMs: 15_000 });
    await eventually(() => ddataSeqs().length === 1 && up.stats().connected);
    // The resend check runs in the background: it never keeps the process alive.
    expect(clock.refedTimers()).toBe(0);

    clock.advance(14_999);
    expect(up.stats().resentBatches).toBe(0);
    clock.advance(1);
    expect(up.stats()).toMatchObject({ resentBatches: 1, inFlight: 1 });
    await eventually(() => ddataSeqs().length === 2);
    expect(ddataSeqs()).toEqual([1, 1]);
    // The resend restarted its wait: nothing more until another resendAfterMs has passed.
    clock.advance(14_000);
    expect(up.stats().resentBatches).toBe(1);
  });

  it('presents a certificate renewed while disconnected on its next connection', async () => {
    const up = startUplink();
    await eventually(() => up.stats().connected);
    const port = broker.port;
    await broker.close();
    await eventually(() => !up.stats().connected);
    up.updateCredentials(renewedChain);
    broker = await startTestBroker(pki, port);
    await eventually(() => broker.sessions.length === 1);
    expect(broker.sessions[0]!.certSerial).toBe(serialOf(renewedChain));
  });

  it('publishes a report on up/report when connected and declines when not', async () => {
    const report = encodeDeviceReport({ kind: 'error', at: 5, message: 'modbus timeout', detail: '' });
    let readyCalls = 0;
    const up = startUplink(() => { readyCalls += 1; });
    expect(up.publishReport(report)).toBe(false);
    await eventually(() => up.stats().connected);
    expect(readyCalls).toBe(1);
    expect(up.publishReport(report)).toBe(true);
    const topic = controlTopic(keys.deviceId, 'up', ControlKinds.report);
    await eventually(() => broker.published.some((p) => p.topic === topic));
    expect(decodeDeviceReport(broker.published.find((p) => p.topic === topic)!.payload).message).toBe('modbus timeout');
  });
});
