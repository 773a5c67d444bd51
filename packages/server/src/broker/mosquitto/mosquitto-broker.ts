/**
 * The Broker port over an external Mosquitto 2.0 (ARCHITECTURE.md §5, scale-out): devices connect
 * to Mosquitto with mutual TLS; Shellguard connects to it as a privileged client of its own.
 *
 * Trust, in the order a device meets it:
 *   1. TLS (Mosquitto/OpenSSL): a client certificate chaining to the site root (`cafile`, written
 *      by Shellguard), within its validity, clientAuth purpose, and not on the CRL (`crlfile`,
 *      rewritten by Shellguard on every revocation and hourly). The certificate's CN becomes the
 *      username and the client id (use_identity_as_username, use_username_as_clientid).
 *   2. Rights (dynamic-security, DeviceAccess): a device id has exactly its own topics while it is
 *      claimed, in good standing and holds a live operational certificate; otherwise none, and
 *      the session is closed as soon as the broker's log reports it.
 *   3. Here: every message is checked again with deviceMayPublish against the device named by its
 *      topic before ingest sees it. The topic names the publisher because only that device's
 *      role may publish under it (Shellguard's own role publishes only `down` and commands).
 *
 * What Mosquitto does not report, and so is not in stats(): refused publishes and subscriptions
 * (dropped by the ACL, not logged below debug level), retained publishes (refused by
 * `retain_available false`, logged only as an unnamed socket error), and no message rate limit
 * exists in Mosquitto 2.0. connectedDevices() is learnt from the broker's log since Shellguard
 * connected: devices already connected before then are missing until they reconnect.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { deviceMayPublish, errorMessage, parseControlTopic, parseSparkplugTopic } from '@shellguard/protocol';
import type { Broker, BrokerOptions, BrokerStats } from '../broker.ts';
import { BrokerError } from '../broker-error.ts';
import {
  BROKER_LOG_TOPICS, DEFAULT_SHARE_GROUP, DEVICE_PUBLISHED_FILTERS, DYNSEC_RESPONSE_TOPIC, SERVER_GROUP, isDeviceUsername,
} from './device-acls.ts';
import { DynamicSecurityClient } from './dynamic-security-client.ts';
import { DeviceAccess, type DeviceStanding } from './dynamic-security.ts';
import { parseBrokerLogLine, type BrokerLogEvent } from './broker-log.ts';
import type { BrokerTrustFiles } from './crl-writer.ts';
import { ExternalBrokerError } from './external-broker-error.ts';

export interface MosquittoBrokerOptions extends Pick<BrokerOptions, 'logger' | 'onPublish' | 'onClientConnected' | 'onClientDisconnected' | 'onClientSubscribed'> {
  /** mqtts://host:port of the broker; devices connect to the same address. */
  url: string;
  /** Shellguard's client certificate (leaf then issuing CA) and key; caPems verify the broker's certificate. */
  tls: { certPem: string; keyPem: string; caPems: string[] };
  /** The username the broker derives from that certificate (its CN): a member of the server group. */
  username: string;
  /** Who may use the broker, from the fleet. */
  standing: DeviceStanding;
  /** The broker's CRL and trust-anchor files. */
  trustFiles: BrokerTrustFiles;
  /**
   * MQTT v5 shared-subscription group, so several replicas share the device traffic (default
   * shellguard-ingest); null: this replica receives every device's traffic (replicas that split
   * it by device themselves, to keep each device's order: replicas/device-affinity.ts).
   */
  shareGroup?: string | null;
  now?: () => number;
  /** How often device access is checked against the plugin's state (default 5 min). */
  reconcileIntervalMs?: number;
  /** Default 10 s. */
  connectTimeoutMs?: number;
  /** Default 5 s (DeviceAccessOptions.evictionCooldownMs). */
  evictionCooldownMs?: number;
}

/** The Broker port, plus the hook through which the fleet's changes reach the broker's authorisation. */
export interface ManagedBroker extends Broker {
  /** A device's claim or certificates changed (FleetService onChanged). */
  deviceStandingChanged(deviceId: string): void;
  /** Resolves once the broker's authorisation reflects every change reported so far (tests, health). */
  accessSettled(): Promise<void>;
}

/** Topics the server may publish to: one device's control `down` subtree or its Sparkplug commands. */
function isDeviceBoundTopic(topic: string): boolean {
  const control = parseControlTopic(topic);
  if (control) return control.direction === 'down';
  const sparkplug = parseSparkplugTopic(topic);
  return sparkplug !== undefined && (sparkplug.type === 'NCMD' || sparkplug.type === 'DCMD');
}

/** The device a device-published topic belongs to (Sparkplug edge node, or the control subtree's id). */
function publisherOf(topic: string): string | undefined {
  return parseSparkplugTopic(topic)?.edge ?? parseControlTopic(topic)?.deviceId;
}

function grantedAll(granted: readonly { qos: number }[]): boolean {
  return granted.every((g) => g.qos < 0x80);
}

function connectOnce(client: MqttClient, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onConnect = () => {
      client.off('error', onError);
      resolve();
    };
    const onError = (err: Error) => {
      client.off('connect', onConnect);
      reject(new ExternalBrokerError('external_broker_unreachable', `cannot connect to the external MQTT broker at ${url}: ${err.message}`, { url }));
    };
    client.once('connect', onConnect);
    client.once('error', onError);
  });
}

export async function startMosquittoBroker(options: MosquittoBrokerOptions): Promise<ManagedBroker> {
  const log = options.logger.child({ component: 'broker', broker: 'mosquitto' });
  const now = options.now ?? Date.now;
  const url = new URL(options.url);
  const port = Number(url.port || 8883);
  const shareGroup = options.shareGroup === undefined ? DEFAULT_SHARE_GROUP : options.shareGroup;
  const stats: BrokerStats = {
    refusedConnections: 0, refusedPublishes: 0, refusedSubscriptions: 0, oversizedPackets: 0, refusedRetained: 0, throttled: 0,
  };
  const connected = new Set<string>();
  let closing = false;

  function callSafely(what: string, callback: () => void): void {
    try {
      callback();
    } catch (err) {
      log.error({ err: errorMessage(err), what }, 'broker callback failed');
    }
  }

  const client = mqtt.connect(options.url, {
    protocolVersion: 5,
    // The broker replaces it with the certificate's name (use_username_as_clientid).
    clientId: options.username,
    clean: true,
    reconnectPeriod: 1_000,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    // A dynamic-security command must not be replayed late from a queue: reconciliation repairs instead.
    queueQoSZero: false,
    ca: options.tls.caPems,
    cert: options.tls.certPem,
    key: options.tls.keyPem,
    // The broker's listener allows TLS 1.3 only (mosquitto-config.ts).
    rejectUnauthorized: true,
  });
  const dynsec = new DynamicSecurityClient({
    publish(topic, payload) {
      if (!client.connected) throw new Error('not connected to the external broker');
      client.publish(topic, payload, { qos: 0 });
    },
  });
  const access = new DeviceAccess({
    dynsec, standing: options.standing, logger: options.logger, now,
    onEvicted: () => void stats.refusedConnections++,
    ...(options.evictionCooldownMs !== undefined ? { evictionCooldownMs: options.evictionCooldownMs } : {}),
  });

  function onLogEvent(event: BrokerLogEvent): void {
    switch (event.kind) {
      case 'connected': {
        const username = event.username ?? event.clientId;
        if (username === options.username) return;
        if (access.isServerUsername(username) || !isDeviceUsername(username)) {
          // Shellguard's own sessions, an operator's, or a name that is no device (closed by DeviceAccess when unknown).
          access.sessionOpened(username);
          return;
        }
        if (!access.sessionOpened(username)) {
          log.warn({ username }, 'session without rights: not an authorised device (identity certificate, unclaimed, quarantined or revoked); closing it');
          return;
        }
        connected.add(event.clientId);
        log.info({ deviceId: event.clientId }, 'device connected');
        if (options.onClientConnected) callSafely('onClientConnected', () => options.onClientConnected!(event.clientId));
        return;
      }
      case 'disconnected':
        if (!connected.delete(event.clientId)) return;
        log.info({ deviceId: event.clientId, reason: event.reason }, 'device disconnected');
        if (options.onClientDisconnected) callSafely('onClientDisconnected', () => options.onClientDisconnected!(event.clientId));
        return;
      case 'subscribed':
        if (!connected.has(event.clientId) || !options.onClientSubscribed) return;
        callSafely('onClientSubscribed', () => options.onClientSubscribed!(event.clientId, [event.filter]));
        return;
      case 'tls_refused':
        stats.refusedConnections++;
        log.warn({ reason: event.reason }, 'TLS handshake refused by the external broker');
        return;
      case 'oversized':
        stats.oversizedPackets++;
        log.warn({ clientId: event.clientId }, 'packet too large; the external broker closed the connection');
        return;
    }
  }

  client.on('message', (topic, payload) => {
    if (dynsec.handleMessage(topic, payload)) return;
    if (topic.startsWith('$SYS/broker/log/')) {
      const event = parseBrokerLogLine(topic, payload.toString('utf8'));
      if (event) onLogEvent(event);
      return;
    }
    const deviceId = publisherOf(topic);
    if (deviceId === undefined || !deviceMayPublish(deviceId, topic) || !access.isAuthorised(deviceId)) {
      stats.refusedPublishes++;
      log.warn({ deviceId: deviceId ?? null, topic }, 'message dropped: not a device\'s own topic, or the device has no access');
      return;
    }
    if (options.onPublish) {
      try {
        options.onPublish(deviceId, topic, payload);
      } catch (err) {
        log.error({ deviceId, topic, err: errorMessage(err) }, 'onPublish callback failed');
      }
    }
  });
  client.on('close', () => dynsec.failPending('connection to the external broker closed'));
  client.on('error', (err) => log.warn({ err: err.message }, 'external broker connection error'));

  const firstConnect = connectOnce(client, options.url);
  try {
    await firstConnect;
    const control = await client.subscribeAsync([DYNSEC_RESPONSE_TOPIC, ...BROKER_LOG_TOPICS], { qos: 0 });
    if (!grantedAll(control)) throw new Error('control subscriptions refused');
    await options.trustFiles.writeCrl();
    await access.reconcile();
    // Device traffic only once access is known: until then every message would be dropped.
    const traffic = await client.subscribeAsync(DEVICE_PUBLISHED_FILTERS.map((f) => (shareGroup === null ? f : `$share/${shareGroup}/${f}`)), { qos: 1 });
    if (!grantedAll(traffic)) throw new Error('device traffic subscriptions refused');
  } catch (err) {
    await client.endAsync(true).catch(() => undefined);
    if (err instanceof ExternalBrokerError) throw err;
    throw new ExternalBrokerError('external_broker_not_authorised',
      `the external MQTT broker did not let "${options.username}" act as Shellguard (${errorMessage(err)}); its dynamic-security file must put that username in the ${SERVER_GROUP} group (generateMosquittoConfig)`,
      { url: options.url, username: options.username });
  }
  options.trustFiles.start();
  // After a reconnect the plugin may have changed without us (or our commands were lost): repair.
  client.on('connect', () => {
    if (closing) return;
    access.reconcile().catch((err: unknown) => log.error({ err: errorMessage(err) }, 'device access reconciliation failed; will retry'));
  });
  const reconcileTimer = setInterval(() => {
    if (!client.connected) return;
    access.reconcile().catch((err: unknown) => log.error({ err: errorMessage(err) }, 'device access reconciliation failed; will retry'));
  }, options.reconcileIntervalMs ?? 300_000);
  reconcileTimer.unref();
  log.info({ url: options.url, username: options.username, shareGroup }, 'connected to the external MQTT broker');

  return {
    port,

    publishToDevice(topic, payload, qos) {
      if (!isDeviceBoundTopic(topic)) {
        return Promise.reject(new BrokerError('topic_not_device_bound', `"${topic}" is not a device down or command topic`, { topic }));
      }
      if (!client.connected) return Promise.reject(new BrokerError('publish_failed', 'not connected to the external MQTT broker', { topic }));
      return client.publishAsync(topic, payload, { qos }).then(() => undefined, (err: unknown) => {
        throw new BrokerError('publish_failed', errorMessage(err), { topic });
      });
    },

    connectedDevices() {
      return [...connected].filter(isDeviceUsername);
    },

    disconnectDevice(deviceId) {
      log.info({ deviceId }, 'disconnecting device');
      void access.disconnect(deviceId);
      // A revocation: the certificate is refused at the handshake from the next CRL on.
      options.trustFiles.writeCrl().catch((err: unknown) => log.error({ err: errorMessage(err) }, 'could not write the broker CRL; will retry'));
    },

    deviceStandingChanged(deviceId) {
      void access.deviceChanged(deviceId);
    },

    accessSettled() {
      return access.settled();
    },

    setTrustAnchors(caPems) {
      try {
        options.trustFiles.writeTrustAnchors(caPems);
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'could not replace the broker trust anchors');
      }
    },

    stats() {
      return { ...stats };
    },

    async close() {
      closing = true;
      clearInterval(reconcileTimer);
      access.close();
      await options.trustFiles.close();
      await client.endAsync();
    },
  };
}
