/**
 * Test fixture: a site PKI (root + issuing CA) in a temporary directory, server and device
 * certificates written there too (mosquitto_* read them from files), and a broker started with
 * them, trusting the root.
 */
import { spawn } from 'node:child_process';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { issueDeviceCertificate, initPki, type Pki, type SiteCa } from '../../src/pki/index.ts';
import { startBroker, type Broker, type BrokerOptions } from '../../src/broker/index.ts';
import { makeDeviceCsr } from '../pki/device-csr.ts';

export interface DeviceFiles {
  deviceId: string;
  /** What the device presents: its certificate, then the issuing CA when there is one. */
  certPem: string;
  /** Lowercase hex. */
  serial: string;
  keyPem: string;
  certFile: string;
  keyFile: string;
}

export interface Published {
  deviceId: string;
  topic: string;
  payload: string;
}

export interface IssueDeviceOptions {
  /** Another PKI (a foreign root) instead of the fixture's. */
  pki?: Pki;
  /** Sign directly with this CA (leaf only, no policy) instead of a PKI. */
  ca?: SiteCa;
  /** 'identity' leaves the operational policy out. Default 'operational'. */
  kind?: 'operational' | 'identity';
  now?: Date;
  validityHours?: number;
}

export interface BrokerFixture {
  dir: string;
  pki: Pki;
  /** The site root, what devices trust for the server. */
  rootPem: string;
  caFile: string;
  broker: Broker;
  published: Published[];
  events: string[];
  /** Every log record the broker wrote, parsed. */
  logs: Record<string, unknown>[];
  deniedDevices: Set<string>;
  issueDevice(name: string, options?: IssueDeviceOptions): Promise<DeviceFiles>;
  close(): Promise<void>;
}

export async function startBrokerFixture(overrides: Partial<BrokerOptions> = {}): Promise<BrokerFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-broker-'));
  const pki = await initPki(join(dir, 'ca'), { commonName: 'Test site' });
  const caFile = join(dir, 'ca', 'root.crt');
  const server = await pki.issueServerCertificate({ hostnames: ['localhost'], ips: ['127.0.0.1'], validityDays: 30 });
  const published: Published[] = [];
  const events: string[] = [];
  const deniedDevices = new Set<string>();
  const logs: Record<string, unknown>[] = [];
  const logDestination = { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) };

  const broker = await startBroker({
    port: 0,
    tls: { certPem: server.chainPem, keyPem: server.keyPem, caPems: [pki.rootPem] },
    logger: pino({ level: 'info' }, logDestination),
    onPublish: (deviceId, topic, payload) => published.push({ deviceId, topic, payload: payload.toString() }),
    onClientConnected: (deviceId) => events.push(`connected ${deviceId}`),
    onClientDisconnected: (deviceId) => events.push(`disconnected ${deviceId}`),
    isDeviceAllowed: (deviceId) => !deniedDevices.has(deviceId),
    ...overrides,
  });

  async function issueDevice(name: string, options: IssueDeviceOptions = {}): Promise<DeviceFiles> {
    const device = await makeDeviceCsr();
    const validity = { validityHours: options.validityHours ?? 24, ...(options.now ? { now: options.now } : {}) };
    let certPem: string;
    let serial: string;
    if (options.ca) {
      certPem = await issueDeviceCertificate(options.ca, device.csrPem, validity);
      serial = new X509Certificate(certPem).serialNumber.toLowerCase();
    } else {
      const signer = options.pki ?? pki;
      const key = { deviceId: device.deviceId, publicKey: createPublicKey(device.keyPem) };
      const signed = options.kind === 'identity'
        ? await signer.issueIdentityCertificate(key, validity)
        : await signer.signOperationalCertificate(key, validity);
      certPem = signed.chainPem;
      serial = signed.serial;
    }
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    writeFileSync(certFile, certPem);
    writeFileSync(keyFile, device.keyPem, { mode: 0o600 });
    return { deviceId: device.deviceId, certPem, serial, keyPem: device.keyPem, certFile, keyFile };
  }

  return {
    dir, pki, rootPem: pki.rootPem, caFile, broker, published, events, logs, deniedDevices, issueDevice,
    async close() {
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (the Debian mosquitto clients here). */
export function run(command: string, args: string[]): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** mosquitto_pub / mosquitto_sub connection arguments for a device (or none for its cert). */
export function mosquittoArgs(fixture: BrokerFixture, clientId: string, device?: { certFile: string; keyFile: string }): string[] {
  return [
    '-h', '127.0.0.1', '-p', String(fixture.broker.port), '-V', 'mqttv311', '-i', clientId,
    '--cafile', fixture.caFile,
    ...(device ? ['--cert', device.certFile, '--key', device.keyFile] : []),
  ];
}

/** Polls until `condition` holds; the test's own timeout bounds it. */
export async function eventually(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}
