/**
 * More guardians for a test site (test/support/enrolled-device.ts): each claimed into the site
 * and attested the way a real guardian is, its operational certificate and key written to files
 * so an independent client (mosquitto_pub) can speak with exactly that identity — the attacker
 * of the trust findings holds one real guardian's certificate.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import mqtt from 'mqtt';
import { FileKeyStore, GUARDIAN_SWNAME, Outbox, Uplink, enrol } from '@shellguard/guardian';
import type { AssetBirth } from '@shellguard/protocol';
import { GROUP, MEASUREMENTS, SITE, type TestSite } from './enrolled-device.ts';

export interface SiteGuardian {
  name: string;
  dir: string;
  deviceId: string;
  keys: FileKeyStore;
  certPem: string;
  certFile: string;
  keyFile: string;
  caFile: string;
  /** An MQTT session with this guardian's certificate (mqtt.js). */
  connect(): Promise<mqtt.MqttClient>;
}

/** Claims and attests a new guardian into the test site. */
export async function enrolGuardian(site: TestSite, name: string): Promise<SiteGuardian> {
  const dir = path.join(site.dir, name);
  mkdirSync(dir, { recursive: true });
  const keys = await FileKeyStore.open(dir);
  await site.server.fleet.claim({ deviceId: keys.deviceId, site: SITE, group: GROUP }, 'test');
  const enrolment = await enrol({
    apiUrl: site.apiUrl, rootCaPem: site.server.rootPem, keyStore: keys, measurements: MEASUREMENTS,
    swname: GUARDIAN_SWNAME, swversion: '0.1.0', bootcount: 1, now: Date.now,
  });
  return withFiles(site, name, dir, keys, enrolment.certificatePem);
}

/** The site's own first guardian (startTestSite enrols it) as a SiteGuardian. */
export function firstGuardian(site: TestSite): SiteGuardian {
  return withFiles(site, 'guardian', path.join(site.dir, 'guardian'), site.keys, site.enrolment.certificatePem);
}

function withFiles(site: TestSite, name: string, dir: string, keys: FileKeyStore, certPem: string): SiteGuardian {
  const certFile = path.join(dir, 'operational.crt');
  const keyFile = path.join(dir, 'operational.key');
  const caFile = path.join(dir, 'site-root.crt');
  writeFileSync(certFile, certPem);
  writeFileSync(keyFile, keys.tlsPrivateKeyPem(), { mode: 0o600 });
  writeFileSync(caFile, site.server.rootPem);
  return {
    name, dir, deviceId: keys.deviceId, keys, certPem, certFile, keyFile, caFile,
    connect: () => mqtt.connectAsync(`mqtts://127.0.0.1:${site.server.mqttPort}`, {
      protocolVersion: 4, clientId: keys.deviceId, reconnectPeriod: 0, connectTimeout: 5_000,
      ca: site.server.rootPem, cert: certPem, key: keys.tlsPrivateKeyPem(),
    }),
  };
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Publishes one message with Debian's mosquitto_pub as `guardian` (its real operational
 * certificate and key; MQTT 3.1.1; client id = device id). The payload goes through a file.
 */
export function mosquittoPublish(
  site: TestSite, guardian: SiteGuardian, topic: string, payload: Uint8Array, options: { retain?: boolean } = {},
): Promise<ProcessResult> {
  const file = path.join(guardian.dir, `payload-${Date.now()}-${Math.random().toString(36).slice(2)}.bin`);
  writeFileSync(file, payload);
  const args = [
    '-h', '127.0.0.1', '-p', String(site.server.mqttPort), '-V', 'mqttv311', '-i', guardian.deviceId,
    '--cafile', guardian.caFile, '--cert', guardian.certFile, '--key', guardian.keyFile,
    '-t', topic, '-f', file, ...(options.retain ? ['-r'] : []),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('mosquitto_pub', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface GuardianUplink {
  outbox: Outbox;
  uplink: Uplink;
  /** Queues samples as a batch of `asset` and sends what is queued. */
  send(asset: string, samples: Parameters<Outbox['enqueue']>[1]): number;
  stop(): Promise<void>;
}

/**
 * A guardian's real store-and-forward path (its Outbox on disk and its Uplink), without polling
 * equipment: the test decides what was "read". `queueFile` may be given to reuse or replace the queue.
 */
export function startGuardianUplink(site: TestSite, guardian: SiteGuardian, assets: AssetBirth[], queueFile = path.join(guardian.dir, 'queue.sqlite')): GuardianUplink {
  const outbox = new Outbox(queueFile);
  const uplink = new Uplink({
    url: `mqtts://127.0.0.1:${site.server.mqttPort}`, deviceId: guardian.deviceId, site: SITE, version: '0.1.0',
    tls: { caPem: site.server.rootPem, certPem: guardian.certPem, keyPem: guardian.keys.tlsPrivateKeyPem() },
    outbox, assets, logger: pino({ level: 'silent' }), resendAfterMs: 2_000,
  });
  uplink.start();
  return {
    outbox, uplink,
    send(asset, samples) {
      const { seq } = outbox.enqueue(asset, samples, Date.now());
      uplink.pump();
      return seq;
    },
    async stop() {
      await uplink.stop();
      outbox.close();
    },
  };
}
