/**
 * The broker server.yaml asks for: the embedded one (aedes, default) or an external Mosquitto
 * (`mqtt.external`, ARCHITECTURE.md §5). Both are the same Broker port to the rest of the server;
 * the external one also needs the fleet's changes, to keep its per-device authorisation current.
 */
import type { Logger } from 'pino';
import type { FleetDeviceView } from '../fleet/index.ts';
import type { Pki } from '../pki/index.ts';
import type { ExternalBrokerConfig } from './mosquitto/external-broker-config.ts';
import { startBroker, type BrokerOptions } from './broker.ts';
import { BrokerTrustFiles, reloadByPidFile } from './mosquitto/crl-writer.ts';
import type { DeviceStanding } from './mosquitto/dynamic-security.ts';
import { startMosquittoBroker, type ManagedBroker } from './mosquitto/mosquitto-broker.ts';
import { issueBrokerClientCertificate } from './mosquitto/server-client-certificate.ts';

export type SelectedBroker = ManagedBroker;

/** What the external broker needs from the rest of the server. */
export interface SelectedBrokerContext {
  pki: Pick<Pki, 'current' | 'rootPem'>;
  fleet: { fleetView(): Promise<FleetDeviceView[]>; crls(): Promise<string[]> };
  now: () => number;
  /** External broker only: receive every device's traffic instead of a shared subscription's share (see MosquittoBrokerOptions.shareGroup). */
  everyDevice?: boolean;
}

/**
 * The fleet's standing as DeviceAccess reads it: a device has access while it is claimed (not
 * quarantined, not revoked) and until its newest unrevoked operational certificate expires. One
 * fleet view serves every question asked before it is read, so a burst of enrolments costs one
 * read per event-loop turn; a question asked while a read runs waits for the next one, which sees
 * the change that prompted it.
 */
export function fleetStanding(fleet: SelectedBrokerContext['fleet'], now: () => number): DeviceStanding {
  let upcoming: Promise<Map<string, number>> | undefined;
  const read = (): Promise<Map<string, number>> => {
    upcoming ??= new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      upcoming = undefined;
      const at = now();
      return new Map((await fleet.fleetView())
        .filter((d) => d.state === 'claimed' && d.certificateNotAfter !== undefined && d.certificateNotAfter > at)
        .map((d) => [d.deviceId, d.certificateNotAfter!] as const));
    });
    return upcoming;
  };
  return {
    accessUntil: async (deviceId) => (await read()).get(deviceId),
    devicesWithAccess: async () => (await read()).entries(),
  };
}

export async function startSelectedBroker(
  mqtt: { external?: ExternalBrokerConfig }, context: SelectedBrokerContext, options: BrokerOptions,
): Promise<SelectedBroker> {
  if (!mqtt.external) {
    const broker = await startBroker(options);
    // The embedded broker asks the fleet on every CONNECT (isDeviceAllowed): nothing to keep.
    return { ...broker, deviceStandingChanged: () => undefined, accessSettled: () => Promise.resolve() };
  }
  return startExternalBroker(mqtt.external, context, options);
}

async function startExternalBroker(external: ExternalBrokerConfig, context: SelectedBrokerContext, options: BrokerOptions): Promise<SelectedBroker> {
  const logger: Logger = options.logger;
  const certificate = await issueBrokerClientCertificate(context.pki, { username: external.username, validityDays: 365, now: new Date(context.now()) });
  const trustFiles = new BrokerTrustFiles({
    crlFile: external.crlFile,
    caFile: external.caFile,
    crls: () => context.fleet.crls(),
    reload: external.pidFile
      ? reloadByPidFile(external.pidFile)
      : () => logger.info({ crlFile: external.crlFile, caFile: external.caFile }, 'broker files written; the broker must reload them (no mqtt.external.pidFile)'),
    logger,
  });
  trustFiles.writeTrustAnchors(options.tls.caPems);
  return startMosquittoBroker({
    url: external.url,
    tls: { certPem: certificate.chainPem, keyPem: certificate.keyPem, caPems: [context.pki.rootPem] },
    username: certificate.username,
    logger,
    standing: fleetStanding(context.fleet, context.now),
    trustFiles,
    now: context.now,
    ...(context.everyDevice ? { shareGroup: null } : {}),
    ...(options.onPublish ? { onPublish: options.onPublish } : {}),
    ...(options.onClientConnected ? { onClientConnected: options.onClientConnected } : {}),
    ...(options.onClientDisconnected ? { onClientDisconnected: options.onClientDisconnected } : {}),
    ...(options.onClientSubscribed ? { onClientSubscribed: options.onClientSubscribed } : {}),
  });
}
