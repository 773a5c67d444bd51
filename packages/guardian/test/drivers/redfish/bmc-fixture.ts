/**
 * A simulated server BMC on loopback for the Redfish driver's tests: the simulator's Redfish
 * service with a fresh certificate, and the guardian config that reads it (password and CA in a
 * temp dir, as files, the way an operator provides them).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { profileOfProtocol, systemClock, type RedfishProfile, type Sample } from '@shellguard/protocol';
import {
  createCaIssuedBmcCertificate, createSelfSignedBmcCertificate, loadProfiles, startRedfishService,
  type RedfishService, type RedfishServiceOptions,
} from '@shellguard/sim';
import type { EquipmentConfig } from '../../../src/config/config.ts';
import type { DriverContext } from '../../../src/drivers/driver.ts';

export const USER = 'monitor';
export const PASSWORD = 'c0rrect-h0rse-Battery!';

export const LEGACY_PROFILE = profileOfProtocol(loadProfiles().get('server-redfish-legacy')!, 'redfish');
export const CURRENT_PROFILE = profileOfProtocol(loadProfiles().get('server-redfish')!, 'redfish');

/** A server's values as the physics gives them (health 0/1/2, power_on a boolean). */
export function serverValues(overrides: Record<string, number | boolean> = {}): Record<string, number | boolean> {
  return {
    inlet_temp: 22.4, exhaust_temp: 38.9, cpu1_temp: 61.5, cpu2_temp: 58.25,
    fan_1_speed: 8120, fan_2_speed: 8080, fan_3_speed: 7990, fan_4_speed: 8210,
    power_watts: 412.5, psu_1_input_voltage: 229.8, psu_2_input_voltage: 231.2, psu_1_power_watts: 205, psu_2_power_watts: 207.5,
    energy_kwh: 10234.75, health: 1, power_on: true, ...overrides,
  };
}

export type Trust = 'pin' | 'ca';

export interface BmcOptions {
  auth: 'basic' | 'session';
  trust: Trust;
  profile?: RedfishProfile;
  values?: () => Record<string, number | boolean>;
  chassisId?: string;
  /** Configure a pin or CA that is not the BMC's. */
  wrongTrust?: boolean;
}

export interface Bmc {
  service: RedfishService;
  equipment: EquipmentConfig;
  profile: RedfishProfile;
  dir: string;
  values: () => Record<string, number | boolean>;
  /** Stops the service (the BMC goes away); `restart` brings it back on the same port. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startBmc(options: BmcOptions): Promise<Bmc> {
  const dir = mkdtempSync(path.join(tmpdir(), 'shellguard-redfish-'));
  const profile = options.profile ?? LEGACY_PROFILE;
  const values = options.values ?? (() => serverValues());
  const chassisId = options.chassisId ?? '1';
  const passwordFile = path.join(dir, 'password');
  writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  let tlsSection: NonNullable<EquipmentConfig['redfish']>['tls'];
  let tls: RedfishServiceOptions['tls'];
  if (options.trust === 'pin') {
    const cert = await createSelfSignedBmcCertificate();
    const other = options.wrongTrust ? await createSelfSignedBmcCertificate() : cert;
    tls = cert;
    tlsSection = { pinSha256: other.sha256 };
  } else {
    const cert = await createCaIssuedBmcCertificate();
    const other = options.wrongTrust ? await createCaIssuedBmcCertificate() : cert;
    tls = cert;
    const caFile = path.join(dir, 'ca.pem');
    writeFileSync(caFile, other.caPem);
    tlsSection = { caFile };
  }
  const serve = (port: number): Promise<RedfishService> => startRedfishService({
    host: '127.0.0.1', port, profile, values, users: { [USER]: PASSWORD }, tls, chassisId,
  });
  let service: RedfishService | undefined = await serve(0);
  const port = service.port;
  const bmc: Bmc = {
    get service() { return service!; },
    equipment: {
      asset: 'SRV-01', name: 'Server 1', area: 'hall-a', profile: profile.id, host: '127.0.0.1', port, unitId: 1,
      pollIntervalMs: 5000, fastPollIntervalMs: 1000, timeoutMs: 3000,
      redfish: { chassis: chassisId, auth: options.auth, username: USER, passwordFile, tls: tlsSection },
    },
    profile, dir, values,
    stop: async () => { await service?.close(); service = undefined; },
    restart: async () => { service = await serve(port); },
    close: async () => {
      await service?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return bmc;
}

/** Log lines a driver wrote, to check no secret is among them. */
export function recordingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => { lines.push(line); } });
  return { logger, lines };
}

export function driverContext(bmc: Bmc, logger: pino.Logger = pino({ level: 'silent' }), pushed: Sample[] = []): DriverContext<RedfishProfile> {
  return { equipment: bmc.equipment, profile: bmc.profile, clock: systemClock, logger, onSamples: (s) => pushed.push(...s), services: {} };
}
