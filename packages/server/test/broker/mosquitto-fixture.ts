/**
 * Test fixture: Debian's Mosquitto 2.0 started on a free loopback port with a generated
 * configuration, and MosquittoBroker connected to it as Shellguard, with a stand-in fleet the test
 * controls (who is admitted, which serials are revoked). Also the embedded broker behind the same
 * shape, so one contract suite runs against both.
 */
import { X509Certificate, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { initPki, issueDeviceCertificate, type Pki, type SiteCa } from '../../src/pki/index.ts';
import { startBroker, type Broker, type BrokerOptions } from '../../src/broker/index.ts';
import { BrokerTrustFiles } from '../../src/broker/mosquitto/crl-writer.ts';
import { generateMosquittoConfig, type MosquittoFiles } from '../../src/broker/mosquitto/mosquitto-config.ts';
import { freeLoopbackPort, startMosquitto, type MosquittoProcess } from '../../src/broker/mosquitto/mosquitto-process.ts';
import { startMosquittoBroker, type ManagedBroker } from '../../src/broker/mosquitto/mosquitto-broker.ts';
import { issueBrokerClientCertificate } from '../../src/broker/mosquitto/server-client-certificate.ts';
import type { DeviceFiles, IssueDeviceOptions, Published } from './broker-fixture.ts';
import { makeDeviceCsr } from '../pki/device-csr.ts';

export type BrokerKind = 'embedded' | 'mosquitto';

/** The same shape for both brokers: what the contract suite drives. */
export interface ContractFixture {
  kind: BrokerKind;
  dir: string;
  pki: Pki;
  rootPem: string;
  /** The site root as a file, for mosquitto_pub / mosquitto_sub. */
  caFile: string;
  broker: Broker;
  published: Published[];
  events: string[];
  logs: Record<string, unknown>[];
  /** A device with an operational certificate; admitted by the stand-in fleet unless `admit: false`. */
  issueDevice(name: string, options?: IssueDeviceOptions & { admit?: boolean }): Promise<DeviceFiles>;
  /** The fleet lets the device in (claimed, in good standing, this certificate live). */
  admit(device: DeviceFiles): Promise<void>;
  /** The fleet revokes the device and its certificate, and tells the broker (FleetService.onRevoked). */
  revoke(device: DeviceFiles): Promise<void>;
  /** The fleet quarantines the device (its certificate stays unrevoked), and tells the broker. */
  quarantine(device: DeviceFiles): Promise<void>;
  close(): Promise<void>;
}

export interface MosquittoFixture extends ContractFixture {
  kind: 'mosquitto';
  broker: ManagedBroker;
  mosquitto: MosquittoProcess;
  files: MosquittoFiles;
  trustFiles: BrokerTrustFiles;
  /** The stand-in fleet admits the device without telling the broker (a change still on its way). */
  fleetAdmitsSilently(device: DeviceFiles): void;
  /** A second Shellguard username in the server group, for tests that talk to the plugin themselves. */
  operator: { username: string; certPem: string; keyPem: string };
}

/** The stand-in fleet: who may use the broker until when, and which serials are revoked. */
class StandInFleet {
  readonly admitted = new Map<string, { serial: string; notAfter: number }>();
  readonly revoked: { serial: string; revokedAt: number }[] = [];

  isDeviceAllowed(deviceId: string, serial: string): boolean {
    const entry = this.admitted.get(deviceId);
    return entry !== undefined && entry.serial === serial && entry.notAfter > Date.now() && !this.revoked.some((r) => r.serial === serial);
  }
}

function deviceIssuer(dir: string, pki: Pki) {
  return async (name: string, options: IssueDeviceOptions = {}): Promise<DeviceFiles> => {
    const device = await makeDeviceCsr();
    const validity = { validityHours: options.validityHours ?? 24, ...(options.now ? { now: options.now } : {}) };
    let certPem: string;
    let serial: string;
    if (options.ca) {
      certPem = await issueDeviceCertificate(options.ca as SiteCa, device.csrPem, validity);
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
  };
}

function notAfterOf(device: DeviceFiles): number {
  return Date.parse(new X509Certificate(device.certPem).validTo);
}

function collectors() {
  const published: Published[] = [];
  const events: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const callbacks: Pick<BrokerOptions, 'onPublish' | 'onClientConnected' | 'onClientDisconnected'> = {
    onPublish: (deviceId, topic, payload) => published.push({ deviceId, topic, payload: payload.toString() }),
    onClientConnected: (deviceId) => events.push(`connected ${deviceId}`),
    onClientDisconnected: (deviceId) => events.push(`disconnected ${deviceId}`),
  };
  return { published, events, logs, logger, callbacks };
}

export async function startEmbeddedContractFixture(): Promise<ContractFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-contract-embedded-'));
  const pki = await initPki(join(dir, 'ca'), { commonName: 'Test site' });
  const server = await pki.issueServerCertificate({ hostnames: ['localhost'], ips: ['127.0.0.1'], validityDays: 30 });
  const fleet = new StandInFleet();
  const { published, events, logs, logger, callbacks } = collectors();
  const broker = await startBroker({
    port: 0, tls: { certPem: server.chainPem, keyPem: server.keyPem, caPems: [pki.rootPem] }, logger, ...callbacks,
    isDeviceAllowed: (deviceId, serial) => fleet.isDeviceAllowed(deviceId, serial),
  });
  const issue = deviceIssuer(dir, pki);
  const fixture: ContractFixture = {
    kind: 'embedded', dir, pki, rootPem: pki.rootPem, caFile: join(dir, 'ca', 'root.crt'), broker, published, events, logs,
    async issueDevice(name, options = {}) {
      const device = await issue(name, options);
      if (options.admit !== false) await fixture.admit(device);
      return device;
    },
    async admit(device) {
      fleet.admitted.set(device.deviceId, { serial: device.serial, notAfter: notAfterOf(device) });
    },
    async revoke(device) {
      fleet.admitted.delete(device.deviceId);
      fleet.revoked.push({ serial: device.serial, revokedAt: Date.now() });
      broker.disconnectDevice(device.deviceId);
    },
    async quarantine(device) {
      fleet.admitted.delete(device.deviceId);
      broker.disconnectDevice(device.deviceId);
    },
    async close() {
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}

export const OPERATOR_USERNAME = 'shellguard-test-operator';

export async function startMosquittoFixture(options: { evictionCooldownMs?: number; reconcileIntervalMs?: number } = {}): Promise<MosquittoFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-contract-mosquitto-'));
  const pki = await initPki(join(dir, 'ca'), { commonName: 'Test site' });
  const fleet = new StandInFleet();
  const crls = () => pki.generateCrls(fleet.revoked);
  const server = await pki.issueServerCertificate({ hostnames: ['localhost'], ips: ['127.0.0.1'], validityDays: 30 });
  const port = await freeLoopbackPort();
  const files = generateMosquittoConfig({
    dir: join(dir, 'mosquitto'), host: '127.0.0.1', port,
    serverCertificate: { chainPem: server.chainPem, keyPem: server.keyPem },
    trustAnchorPems: [pki.rootPem], crlPems: await crls(),
    serverUsernames: ['shellguard-server', OPERATOR_USERNAME],
    // Started as root (CI containers), mosquitto would drop to the `mosquitto` account, which cannot read this folder.
    user: userInfo().username,
  });
  const mosquitto = await startMosquitto({ configFile: files.configFile, host: '127.0.0.1', port });
  const { published, events, logs, logger, callbacks } = collectors();
  const own = await issueBrokerClientCertificate(pki, { username: 'shellguard-server', validityDays: 30 });
  const operatorCert = await issueBrokerClientCertificate(pki, { username: OPERATOR_USERNAME, validityDays: 30 });
  const trustFiles = new BrokerTrustFiles({ crlFile: files.crlFile, caFile: files.caFile, crls, reload: () => mosquitto.reload(), logger });
  let broker: ManagedBroker;
  try {
    broker = await startMosquittoBroker({
      url: `mqtts://127.0.0.1:${port}`, tls: { certPem: own.chainPem, keyPem: own.keyPem, caPems: [pki.rootPem] }, username: own.username,
      logger, ...callbacks, trustFiles,
      standing: {
        accessUntil: async (deviceId) => {
          const entry = fleet.admitted.get(deviceId);
          return entry && entry.notAfter > Date.now() ? entry.notAfter : undefined;
        },
        devicesWithAccess: async () => [...fleet.admitted].filter(([, e]) => e.notAfter > Date.now()).map(([id, e]) => [id, e.notAfter] as const),
      },
      ...(options.evictionCooldownMs !== undefined ? { evictionCooldownMs: options.evictionCooldownMs } : {}),
      ...(options.reconcileIntervalMs !== undefined ? { reconcileIntervalMs: options.reconcileIntervalMs } : {}),
    });
  } catch (err) {
    await mosquitto.stop();
    throw new Error(`${String(err)}\n${mosquitto.output()}`);
  }
  const issue = deviceIssuer(dir, pki);
  const fixture: MosquittoFixture = {
    kind: 'mosquitto', dir, pki, rootPem: pki.rootPem, caFile: join(dir, 'ca', 'root.crt'), broker, published, events, logs,
    mosquitto, files, trustFiles, operator: { username: operatorCert.username, certPem: operatorCert.chainPem, keyPem: operatorCert.keyPem },
    async issueDevice(name, issueOptions = {}) {
      const device = await issue(name, issueOptions);
      if (issueOptions.admit !== false) await fixture.admit(device);
      return device;
    },
    fleetAdmitsSilently(device) {
      fleet.admitted.set(device.deviceId, { serial: device.serial, notAfter: notAfterOf(device) });
    },
    async admit(device) {
      fleet.admitted.set(device.deviceId, { serial: device.serial, notAfter: notAfterOf(device) });
      broker.deviceStandingChanged(device.deviceId);
      await broker.accessSettled();
    },
    async revoke(device) {
      fleet.admitted.delete(device.deviceId);
      fleet.revoked.push({ serial: device.serial, revokedAt: Date.now() });
      broker.disconnectDevice(device.deviceId);
      await broker.accessSettled();
      await trustFiles.writeCrl();
    },
    async quarantine(device) {
      fleet.admitted.delete(device.deviceId);
      broker.disconnectDevice(device.deviceId);
      await broker.accessSettled();
    },
    async close() {
      await broker.close();
      await mosquitto.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}

export function startContractFixture(kind: BrokerKind): Promise<ContractFixture> {
  return kind === 'embedded' ? startEmbeddedContractFixture() : startMosquittoFixture();
}
