/**
 * The embedded MQTT broker (aedes, MQTT 3.1.1) behind a TLS 1.3 listener that requires a client
 * certificate chaining to the site root CA (through an issuing CA the device presents). Only an
 * OPERATIONAL certificate (OPERATIONAL_POLICY_OID, issued after attestation) gets in. The
 * certificate's subject CN is the device id; the MQTT client id must equal it, and a device may
 * publish and subscribe only under its own topics (ARCHITECTURE.md §2, least privilege; ACL rules
 * live in @shellguard/protocol).
 */
import { createServer, type SecureContextOptions, type TLSSocket } from 'node:tls';
import type { EventEmitter } from 'node:events';
import type { Socket, AddressInfo } from 'node:net';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import {
  MAX_TIMER_DELAY_MS, deviceMayPublish, deviceMaySubscribe, errorMessage, listenErrorOf, parseControlTopic, parseSparkplugTopic,
  systemClock, type Clock, type TimerHandle,
} from '@shellguard/protocol';
import { DEFAULT_DEVICE_QUOTAS, type DeviceQuotas } from '../config/config.ts';
import { BrokerError } from './broker-error.ts';
import { limitPacketSize } from './packet-size-limit.ts';
import { peerIdentity } from './peer-identity.ts';
import { MessageRateLimiter } from './message-rate.ts';

export interface BrokerTlsOptions {
  /** The server certificate followed by its issuing CA (Pki.issueServerCertificate's chainPem). */
  certPem: string;
  keyPem: string;
  /**
   * Trust anchors for client certificates: the site ROOT (several during a root rotation).
   * Devices send their issuing CA with their certificate, so issuing CAs need not be listed.
   */
  caPems: string[];
}

export interface BrokerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port; the chosen one is in the returned handle. */
  port: number;
  tls: BrokerTlsOptions;
  logger: Logger;
  /** Every accepted device publish, Will messages included. Keep it fast and non-throwing. */
  onPublish?: (deviceId: string, topic: string, payload: Buffer) => void;
  onClientConnected?: (deviceId: string) => void;
  onClientDisconnected?: (deviceId: string) => void;
  /** A device's subscriptions were granted: messages to those topics now reach it. */
  onClientSubscribed?: (deviceId: string, topics: string[]) => void;
  /**
   * Consulted on every CONNECT after TLS has verified the certificate and its operational policy
   * (claim, revocation, quarantine). certSerial is lowercase hex, as Pki reports serials.
   */
  isDeviceAllowed?: (deviceId: string, certSerial: string) => boolean | Promise<boolean>;
  /** What one device may make the broker hold (default DEFAULT_DEVICE_QUOTAS). */
  quotas?: Pick<DeviceQuotas, 'maxPacketBytes' | 'messagesPerSecond' | 'messageBurst'>;
  /** Time for the message-rate buckets, throttle waits and certificate expiry (default systemClock). */
  clock?: Clock;
}

export interface BrokerStats {
  refusedConnections: number;
  refusedPublishes: number;
  refusedSubscriptions: number;
  /** Connections ended because a packet announced more than maxPacketBytes. */
  oversizedPackets: number;
  /** Retained publishes refused (devices never retain: nothing they send is kept by the broker). */
  refusedRetained: number;
  /** Publishes held back because their device sent faster than its message rate. */
  throttled: number;
}

export interface Broker {
  readonly port: number;
  /** Server-originated message to a device's `down` or Sparkplug command topics. */
  publishToDevice(topic: string, payload: Buffer, qos: 0 | 1): Promise<void>;
  connectedDevices(): string[];
  disconnectDevice(deviceId: string): void;
  /**
   * Replaces the client-certificate trust anchors for connections from now on (a root
   * rotation); sessions already open are not affected.
   */
  setTrustAnchors(caPems: string[]): void;
  stats(): BrokerStats;
  close(): Promise<void>;
}

/** MQTT 3.1.1 §3.2.2.3 CONNACK return code 5. */
const NOT_AUTHORIZED = 5;
/**
 * Distinct subscriptions one device may hold. A guardian needs two (its acks, its commands);
 * without a cap, `down/<any kind>` filters could be added without end.
 */
const MAX_SUBSCRIPTIONS_PER_CLIENT = 32;

function notAuthorized(message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: NOT_AUTHORIZED }) as AuthenticateError;
}

/** Topics the server may publish to: one device's control `down` subtree or its Sparkplug commands. */
function isDeviceBoundTopic(topic: string): boolean {
  const control = parseControlTopic(topic);
  if (control) return control.direction === 'down';
  const sparkplug = parseSparkplugTopic(topic);
  return sparkplug !== undefined && (sparkplug.type === 'NCMD' || sparkplug.type === 'DCMD');
}

export async function startBroker(options: BrokerOptions): Promise<Broker> {
  const log = options.logger.child({ component: 'broker' });
  const stats: BrokerStats = {
    refusedConnections: 0, refusedPublishes: 0, refusedSubscriptions: 0, oversizedPackets: 0, refusedRetained: 0, throttled: 0,
  };
  const quotas = { ...DEFAULT_DEVICE_QUOTAS, ...options.quotas };
  const clock = options.clock ?? systemClock;
  const rates = new MessageRateLimiter({ perSecond: quotas.messagesPerSecond, burst: quotas.messageBurst, now: () => clock.now() });
  const onPublish = options.onPublish;
  const clients = new Map<string, Client>();
  const expiryTimers = new Map<Client, TimerHandle>();

  /** Callbacks run inside aedes' pipeline: a throw there must not take the broker down. */
  function callSafely<T>(callback: () => T, fallback: T): T {
    try {
      return callback();
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'broker callback failed');
      return fallback;
    }
  }

  const aedes = await Aedes.createBroker({
    connectTimeout: 10_000,
    drainTimeout: 30_000,

    authenticate(client, _username, _password, done) {
      const peer = peerIdentity(client.conn);
      if (!peer) {
        stats.refusedConnections++;
        log.warn({ clientId: client.id }, 'connection refused: certificate does not name a device');
        return done(notAuthorized('certificate does not name a device'), false);
      }
      // RFC 5280 §4.2.1.4: the policy says what the certificate may be used for; an identity
      // certificate on the same chain (no attestation behind it) must not reach the plant data.
      if (!peer.operational) {
        stats.refusedConnections++;
        log.warn({ deviceId: peer.deviceId, certSerial: peer.certSerial }, 'connection refused: not an operational certificate');
        return done(notAuthorized('an operational certificate is required'), false);
      }
      if (client.id !== peer.deviceId) {
        stats.refusedConnections++;
        log.warn({ deviceId: peer.deviceId, clientId: client.id }, 'connection refused: client id is not the certificate device id');
        return done(notAuthorized('client id must be the device id'), false);
      }
      const isDeviceAllowed = options.isDeviceAllowed;
      if (!isDeviceAllowed) return done(null, true);
      // The fleet answers from its database (a Promise): an answer that fails refuses the device.
      Promise.resolve().then(() => isDeviceAllowed(peer.deviceId, peer.certSerial)).catch((err: unknown) => {
        log.error({ err: errorMessage(err) }, 'broker callback failed');
        return false;
      }).then((allowed) => {
        if (allowed) return done(null, true);
        stats.refusedConnections++;
        log.warn({ deviceId: peer.deviceId, certSerial: peer.certSerial }, 'connection refused: device not allowed');
        done(notAuthorized('device not allowed'), false);
      }, () => undefined);
    },

    authorizePublish(client, packet, done) {
      // Devices never retain: a retained message is kept by the broker for every future
      // subscriber, i.e. memory a device could fill without bound (and nothing we consume).
      if (packet.retain) {
        stats.refusedRetained++;
        stats.refusedPublishes++;
        log.warn({ deviceId: client?.id ?? null, topic: packet.topic, bytes: packet.payload?.length ?? 0 }, 'retained publish refused');
        return done(new BrokerError('publish_refused', 'devices may not publish retained messages', { topic: packet.topic }));
      }
      // client is null only for Will messages of sessions this broker no longer holds: no
      // verified identity to check them against, so they are dropped.
      if (client && deviceMayPublish(client.id, packet.topic)) {
        // Flow control instead of loss: a publish over the device's rate is authorised late.
        // Until it is, aedes reads nothing more from that socket (it reads the next chunk only
        // once every packet of the last one is handled), so TCP backpressure slows the device;
        // successive waits only grow, so the order of its messages is kept.
        const waitMs = rates.take(client.id);
        if (waitMs > 0) {
          stats.throttled++;
          clock.setTimeout(() => done(null), waitMs);
          return;
        }
        return done(null);
      }
      stats.refusedPublishes++;
      log.warn({ deviceId: client?.id ?? null, topic: packet.topic }, 'publish refused');
      // MQTT-3.3.5-2: a refused PUBLISH cannot be reported in 3.1.1; aedes closes the connection.
      done(new BrokerError('publish_refused', 'publish outside the device topics', { topic: packet.topic }));
    },

    authorizeSubscribe(client, subscription, done) {
      const held = (client as unknown as { subscriptions: Record<string, unknown> }).subscriptions;
      const within = Object.keys(held).length < MAX_SUBSCRIPTIONS_PER_CLIENT || subscription.topic in held;
      if (deviceMaySubscribe(client.id, subscription.topic) && within) {
        return done(null, subscription);
      }
      stats.refusedSubscriptions++;
      log.warn({ deviceId: client.id, topic: subscription.topic }, 'subscription refused');
      // MQTT 3.1.1 §3.9.3: SUBACK return code 0x80 (failure) for this filter.
      done(null, null);
    },

    published(packet, client, done) {
      if (client && onPublish) {
        try {
          onPublish(client.id, packet.topic, packet.payload as Buffer);
        } catch (err) {
          log.error({ deviceId: client.id, topic: packet.topic, err: errorMessage(err) }, 'onPublish callback failed');
        }
      }
      done(null);
    },
  });

  aedes.on('clientReady', (client) => {
    clients.set(client.id, client);
    // Operational certificates are short-lived (24 h): end the session when the certificate
    // ends, so the device has to come back with a renewed one. A certificate valid for longer than
    // a timer can wait (~24 days) gets its session ended then, and is checked again on reconnect.
    const peer = peerIdentity(client.conn);
    if (peer) {
      const delay = Math.min(Math.max(peer.notAfterMs - clock.now(), 0), MAX_TIMER_DELAY_MS);
      const timer = clock.setTimeout(() => {
        log.info({ deviceId: client.id }, 'certificate expired; disconnecting');
        client.close();
      }, delay).unref();
      expiryTimers.set(client, timer);
    }
    log.info({ deviceId: client.id }, 'device connected');
    if (options.onClientConnected) callSafely(() => options.onClientConnected!(client.id), undefined);
  });
  aedes.on('subscribe', (subscriptions, client) => {
    if (!client || !options.onClientSubscribed) return;
    const topics = subscriptions.map((x) => x.topic);
    callSafely(() => options.onClientSubscribed!(client.id, topics), undefined);
  });
  aedes.on('clientDisconnect', (client) => {
    clock.clearTimeout(expiryTimers.get(client));
    rates.forget(client.id);
    expiryTimers.delete(client);
    // A reconnect with the same id takes the session over; only the current one counts.
    if (clients.get(client.id) !== client) return;
    clients.delete(client.id);
    log.info({ deviceId: client.id }, 'device disconnected');
    if (options.onClientDisconnected) callSafely(() => options.onClientDisconnected!(client.id), undefined);
  });
  aedes.on('clientError', (client, err) => {
    log.info({ clientId: client.id, err: err.message }, 'client error; connection closed');
  });
  aedes.on('connectionError', (client, err) => {
    log.info({ clientId: client.id, err: err.message }, 'connection error before CONNECT completed');
  });
  // aedes emits 'error' from background work (e.g. clearing Wills); without a listener node would
  // throw it and end the process.
  (aedes as EventEmitter).on('error', (err: Error) => log.error({ err: err.message }, 'broker error'));

  const sockets = new Set<Socket>();
  const secureContext = (caPems: string[]): SecureContextOptions => ({
    cert: options.tls.certPem,
    key: options.tls.keyPem,
    ca: caPems,
    minVersion: 'TLSv1.3',
  });
  const server = createServer({
    ...secureContext(options.tls.caPems),
    requestCert: true,
    rejectUnauthorized: true,
    handshakeTimeout: 10_000,
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    const client = aedes.handle(socket);
    // MQTT 3.1.1 has no maximum packet size of its own: refuse a packet as soon as its fixed
    // header announces more than the quota, before its body is buffered.
    try {
      limitPacketSize(client, quotas.maxPacketBytes, (length) => {
        stats.oversizedPackets++;
        log.warn({ clientId: client.id, remoteAddress: socket.remoteAddress, length, limit: quotas.maxPacketBytes }, 'packet too large; connection closed');
      });
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'connection refused');
    }
  });
  server.on('tlsClientError', (err, socket) => {
    stats.refusedConnections++;
    // When the chain does not verify (unknown CA, expired, ...) node hangs up without telling
    // why in `err`; the verification result is on the socket.
    log.warn(
      { remoteAddress: socket.remoteAddress, reason: socket.authorizationError ?? null, err: err.message },
      'TLS handshake refused',
    );
    socket.destroy();
  });
  server.on('error', (err) => log.error({ err: err.message }, 'TLS listener error'));

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (err: unknown) => {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    throw listenErrorOf(err, { what: 'the MQTT broker', host, port: options.port, setting: 'mqtt.port in server.yaml, or --mqtt-port for shellguard demo' });
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ host, port }, 'MQTT broker listening (TLS 1.3, client certificates required)');

  return {
    port,

    publishToDevice(topic, payload, qos) {
      if (!isDeviceBoundTopic(topic)) {
        return Promise.reject(new BrokerError('topic_not_device_bound', `"${topic}" is not a device down or command topic`, { topic }));
      }
      const packet: PublishPacket = { cmd: 'publish', topic, payload, qos, retain: false, dup: false };
      return new Promise((resolve, reject) => {
        aedes.publish(packet, (err) => {
          if (err) reject(new BrokerError('publish_failed', err.message, { topic }));
          else resolve();
        });
      });
    },

    connectedDevices() {
      return [...clients.keys()];
    },

    disconnectDevice(deviceId) {
      const client = clients.get(deviceId);
      if (!client) return;
      log.info({ deviceId }, 'disconnecting device');
      client.close();
    },

    setTrustAnchors(caPems) {
      server.setSecureContext(secureContext([...caPems]));
      log.info({ trustAnchors: caPems.length }, 'client certificate trust anchors replaced');
    },

    stats() {
      return { ...stats };
    },

    async close() {
      const listenerClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      for (const timer of expiryTimers.values()) clock.clearTimeout(timer);
      expiryTimers.clear();
      await listenerClosed;
    },
  };
}
