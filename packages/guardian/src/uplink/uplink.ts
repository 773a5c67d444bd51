/**
 * The guardian's uplink: one MQTT 3.1.1 session over mutual TLS to the server's broker.
 *
 * Sparkplug B (spec §7) asks for QoS 0 data and births; delivery is guaranteed one level up,
 * end to end: a batch stays in the outbox until the server's ack says it is durably stored, and is
 * published again after a reconnect or when no ack came in time. The server stores a batch once
 * however often it arrives, so redelivery is always safe.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import {
  BatchRefusals, ControlKinds, controlTopic, decodeBatchAck, encodeDeviceBirth, encodeDeviceData, encodeNodeBirth, encodeNodeDeath,
  errorMessage, sparkplugTopic, systemClock, type AssetBirth, type Clock, type TimerHandle,
} from '@shellguard/protocol';
import type { Outbox, QueuedBatch } from '../queue/outbox.ts';

export interface UplinkTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export interface UplinkOptions {
  /** e.g. mqtts://127.0.0.1:8883 */
  url: string;
  deviceId: string;
  site: string;
  version: string;
  tls: UplinkTls;
  outbox: Outbox;
  assets: AssetBirth[];
  logger: Logger;
  /** Time stamps and the resend check (default systemClock); mqtt.js keeps its own timers. */
  clock?: Clock;
  /** Batches published but not yet acknowledged, at most. */
  window?: number;
  /** Publish a batch again when its ack has not come after this long. */
  resendAfterMs?: number;
  reconnectPeriodMs?: number;
  /** Called each time a session is set up (births sent): a good moment to flush reports. */
  onReady?: () => void;
  /** Andon instructions for this guardian's panels (subscribed only when given). */
  onAndon?: (payload: Buffer) => void;
  /** The director's signed update instructions (subscribed only when given). */
  onUpdateInstruction?: (payload: Buffer) => void;
}

export interface UplinkStats {
  connected: boolean;
  inFlight: number;
  publishedBatches: number;
  acknowledgedBatches: number;
  resentBatches: number;
  rejectedBatches: number;
  connects: number;
  /** Times the client certificate was replaced (renewals). */
  credentialUpdates: number;
}

export class Uplink {
  private readonly opts: Required<Pick<UplinkOptions, 'window' | 'resendAfterMs' | 'reconnectPeriodMs'>> & UplinkOptions;
  private readonly clock: Clock;
  private readonly now: () => number;
  private client: MqttClient | undefined;
  /** seq -> when it was last published */
  private readonly inFlight = new Map<number, number>();
  /** Highest seq published in this session; the next pump continues after it. */
  private cursor = 0;
  private sparkplugSeq = 0;
  private bdSeq = 0;
  private ready = false;
  private pumping = false;
  private resendTimer: TimerHandle | undefined;
  private stopping = false;
  private readonly counters = {
    publishedBatches: 0, acknowledgedBatches: 0, resentBatches: 0, rejectedBatches: 0, connects: 0, credentialUpdates: 0,
  };

  constructor(options: UplinkOptions) {
    this.opts = { window: 64, resendAfterMs: 15_000, reconnectPeriodMs: 1_000, ...options, tls: { ...options.tls } };
    this.clock = options.clock ?? systemClock;
    this.now = () => this.clock.now();
  }

  private get ackTopic(): string {
    return controlTopic(this.opts.deviceId, 'down', ControlKinds.ack);
  }

  start(): void {
    const { deviceId, site, tls } = this.opts;
    this.bdSeq = this.opts.outbox.nextBdSeq();
    this.client = mqtt.connect(this.opts.url, {
      protocolVersion: 4,
      clientId: deviceId,
      clean: true,
      keepalive: 15,
      reconnectPeriod: this.opts.reconnectPeriodMs,
      connectTimeout: 10_000,
      queueQoSZero: false,
      ca: tls.caPem,
      cert: tls.certPem,
      key: tls.keyPem,
      rejectUnauthorized: true,
      // Sparkplug §7.1: the broker announces our death with the bdSeq of this session.
      will: {
        topic: sparkplugTopic({ group: site, type: 'NDEATH', edge: deviceId }),
        payload: Buffer.from(encodeNodeDeath(this.bdSeq, this.now())),
        qos: 1,
        retain: false,
      },
    });
    this.client.on('connect', () => { void this.onConnect(); });
    this.client.on('close', () => this.onDisconnect());
    this.client.on('error', (err) => this.opts.logger.warn({ err: errorMessage(err) }, 'uplink connection error'));
    this.client.on('message', (topic, payload) => this.onMessage(topic, payload));
    this.resendTimer = this.clock.setInterval(() => this.resendOverdue(), Math.min(1_000, this.opts.resendAfterMs)).unref();
  }

  private async onConnect(): Promise<void> {
    const client = this.client!;
    this.counters.connects += 1;
    this.opts.logger.info({ url: this.opts.url }, 'uplink connected');
    this.inFlight.clear();
    this.cursor = 0;
    this.sparkplugSeq = 0;
    try {
      await client.subscribeAsync(this.ackTopic, { qos: 0 });
      if (this.opts.onAndon) await client.subscribeAsync(this.andonTopic, { qos: 0 });
      if (this.opts.onUpdateInstruction) await client.subscribeAsync(this.updateTopic, { qos: 1 });
      const { deviceId, site, version } = this.opts;
      const now = this.now();
      await client.publishAsync(sparkplugTopic({ group: site, type: 'NBIRTH', edge: deviceId }),
        Buffer.from(encodeNodeBirth(this.bdSeq, version, { sparkplugSeq: this.nextSparkplugSeq(), now, queueEpoch: this.opts.outbox.epoch })), { qos: 0 });
      for (const { asset, ...birth } of this.opts.assets) {
        await client.publishAsync(sparkplugTopic({ group: site, type: 'DBIRTH', edge: deviceId, device: asset }),
          Buffer.from(encodeDeviceBirth(birth, { sparkplugSeq: this.nextSparkplugSeq(), now })), { qos: 0 });
      }
      this.ready = true;
      this.pump();
      this.flushUpdateStatuses();
      try {
        this.opts.onReady?.();
      } catch (err) {
        this.opts.logger.warn({ err: errorMessage(err) }, 'uplink onReady hook failed');
      }
    } catch (err) {
      this.opts.logger.warn({ err: errorMessage(err) }, 'uplink session setup failed; will retry on reconnect');
    }
  }

  private onDisconnect(): void {
    if (this.ready) {
      this.opts.logger.warn({ pending: this.opts.outbox.stats().pendingBatches }, 'uplink disconnected; telemetry is queued on disk');
      // Sparkplug §7.1: every new session has its own bdSeq, carried by its NBIRTH and its will.
      this.bdSeq = this.opts.outbox.nextBdSeq();
      const will = this.client?.options.will;
      if (will) will.payload = Buffer.from(encodeNodeDeath(this.bdSeq, this.now()));
    }
    this.ready = false;
    this.inFlight.clear();
  }

  private nextSparkplugSeq(): number {
    const s = this.sparkplugSeq;
    this.sparkplugSeq = (s + 1) & 0xff;
    return s;
  }

  private get andonTopic(): string {
    return controlTopic(this.opts.deviceId, 'down', ControlKinds.andon);
  }

  private get updateTopic(): string {
    return controlTopic(this.opts.deviceId, 'down', ControlKinds.update);
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (topic === this.updateTopic && this.opts.onUpdateInstruction) {
      try {
        this.opts.onUpdateInstruction(payload);
      } catch (err) {
        this.opts.logger.warn({ err: errorMessage(err) }, 'update instruction handler failed');
      }
      return;
    }
    if (topic === this.andonTopic && this.opts.onAndon) {
      try {
        this.opts.onAndon(payload);
      } catch (err) {
        this.opts.logger.warn({ err: errorMessage(err) }, 'andon instruction handler failed');
      }
      return;
    }
    if (topic !== this.ackTopic) return;
    let ack;
    try {
      ack = decodeBatchAck(payload);
    } catch (err) {
      this.opts.logger.warn({ err: errorMessage(err) }, 'ignored a malformed batch ack');
      return;
    }
    const { outbox } = this.opts;
    // An ack names the queue epoch its sequence numbers belong to: one for another queue (the
    // one this guardian had before a reinstall) must not remove this queue's batches.
    if ((ack.epoch ?? '') !== outbox.epoch) {
      this.opts.logger.warn({ ackEpoch: ack.epoch ?? '', queueEpoch: outbox.epoch }, 'ignored a batch ack for another queue epoch');
      return;
    }
    if (ack.stored.length > 0) this.counters.acknowledgedBatches += outbox.acknowledge(ack.stored);
    if (ack.rejected.length > 0) {
      const moved = outbox.setAside(ack.rejected, this.now());
      this.counters.rejectedBatches += moved;
      for (const r of ack.rejected) {
        const what = (BatchRefusals as Record<string, string>)[r.reason];
        this.opts.logger.error({ seq: r.seq, reason: r.reason, ...(what ? { action: what } : {}) },
          'server refused a batch for good; it is kept in the rejected table');
      }
    }
    for (const seq of ack.stored) this.inFlight.delete(seq);
    for (const r of ack.rejected) this.inFlight.delete(r.seq);
    this.pump();
  }

  /** Publishes queued batches until the in-flight window is full. Call after new data is queued. */
  pump(): void {
    if (!this.ready || this.pumping || !this.client) return;
    this.pumping = true;
    try {
      while (this.ready && this.inFlight.size < this.opts.window) {
        const batches = this.opts.outbox.peek(this.cursor, this.opts.window - this.inFlight.size);
        if (batches.length === 0) break;
        for (const b of batches) {
          this.publishBatch(b);
          this.cursor = b.seq;
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private publishBatch(b: QueuedBatch): void {
    const { deviceId, site } = this.opts;
    const payload = encodeDeviceData({ epoch: this.opts.outbox.epoch, seq: b.seq }, b.samples, { sparkplugSeq: this.nextSparkplugSeq(), now: this.now() });
    this.inFlight.set(b.seq, this.now());
    this.counters.publishedBatches += 1;
    this.client!.publish(sparkplugTopic({ group: site, type: 'DDATA', edge: deviceId, device: b.asset }), Buffer.from(payload), { qos: 0 });
  }

  private resendOverdue(): void {
    if (!this.ready) return;
    const cutoff = this.now() - this.opts.resendAfterMs;
    for (const [seq, sentAt] of this.inFlight) {
      if (sentAt > cutoff) continue;
      const batch = this.opts.outbox.find(seq);
      if (!batch) { this.inFlight.delete(seq); continue; }
      this.counters.resentBatches += 1;
      this.publishBatch(batch);
    }
  }

  /**
   * Presents a new client certificate (a renewed operational certificate: leaf + issuing CA PEM,
   * for the same identity key) from now on. A connected session is ended cleanly (NDEATH, then
   * DISCONNECT) and opened again at once, so the broker sees the new certificate; a connection
   * attempt in progress is dropped and retried with it. Nothing is lost: batches stay in the
   * outbox until acknowledged and the new session publishes everything not yet acknowledged.
   */
  updateCredentials(certChainPem: string): void {
    this.opts.tls.certPem = certChainPem;
    this.counters.credentialUpdates += 1;
    const client = this.client;
    if (!client || this.stopping) return;
    // mqtt.js builds every new TLS stream from client.options (connect/tls.js), so this is what
    // the next connection presents.
    client.options.cert = certChainPem;
    if (client.connected) {
      this.opts.logger.info('uplink reconnecting to present the renewed certificate');
      void this.reconnectGracefully(client);
    } else {
      // Connecting or waiting to retry: drop a handshake that may still use the old certificate;
      // the reconnect timer retries with the new one.
      client.stream?.destroy();
    }
  }

  private async reconnectGracefully(client: MqttClient): Promise<void> {
    if (this.ready) {
      try {
        // Sparkplug §7.1: a clean DISCONNECT suppresses the will, so announce the death ourselves.
        await client.publishAsync(sparkplugTopic({ group: this.opts.site, type: 'NDEATH', edge: this.opts.deviceId }),
          Buffer.from(encodeNodeDeath(this.bdSeq, this.now())), { qos: 0 });
      } catch { /* reconnecting anyway */ }
    }
    if (this.stopping || this.client !== client) return;
    // mqtt.js: reconnect() on a connected client ends the session and connects again at once.
    client.reconnect();
  }

  /**
   * Publishes an encoded DeviceReport on up/report (QoS 0). Returns false when not connected;
   * the caller keeps the report and tries again later.
   */
  publishReport(payload: Buffer): boolean {
    if (!this.ready || !this.client) return false;
    this.client.publish(controlTopic(this.opts.deviceId, 'up', ControlKinds.report), payload, { qos: 0 });
    return true;
  }

  /**
   * Publishes an encoded UpdateStatus on up/update (QoS 1). Not connected: the newest status per
   * deployment waits in memory and goes out on the next connect (a status replaces the one before,
   * so only the newest matters).
   */
  publishUpdateStatus(deploymentId: string, payload: Buffer): void {
    this.pendingUpdateStatuses.set(deploymentId, payload);
    this.flushUpdateStatuses();
  }

  private readonly pendingUpdateStatuses = new Map<string, Buffer>();

  private flushUpdateStatuses(): void {
    if (!this.ready || !this.client) return;
    const topic = controlTopic(this.opts.deviceId, 'up', ControlKinds.update);
    for (const [deploymentId, payload] of this.pendingUpdateStatuses) {
      this.pendingUpdateStatuses.delete(deploymentId);
      this.client.publish(topic, payload, { qos: 1 }, (err) => {
        if (err && !this.pendingUpdateStatuses.has(deploymentId)) this.pendingUpdateStatuses.set(deploymentId, payload);
      });
    }
  }

  stats(): UplinkStats {
    return { connected: this.ready, inFlight: this.inFlight.size, ...this.counters };
  }

  /** Ends the session cleanly (the broker then does not publish our will; we send NDEATH ourselves). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.clock.clearInterval(this.resendTimer);
    const client = this.client;
    if (!client) return;
    if (this.ready) {
      try {
        await client.publishAsync(sparkplugTopic({ group: this.opts.site, type: 'NDEATH', edge: this.opts.deviceId }),
          Buffer.from(encodeNodeDeath(this.bdSeq, this.now())), { qos: 0 });
      } catch { /* closing anyway */ }
    }
    this.ready = false;
    await client.endAsync();
  }
}
