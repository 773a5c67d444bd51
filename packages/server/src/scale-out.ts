/**
 * One server replica in scale-out mode (issue 12, `bus.engine: jetstream`): every replica stores
 * the telemetry its share of the devices sends (Mosquitto's shared subscription splits them) and
 * hands each stored batch to JetStream before acknowledging it; one replica at a time leads
 * (PostgreSQL advisory lock) and evaluates what the bus holds — alarms exactly once per batch,
 * live analytics, panels — and runs the other once-per-site duties (rollout ticks, TUF re-signing,
 * incident evidence). Every replica's live views follow the bus by fanout.
 *
 * A leader that dies is replaced once the database frees its lock; the new one reloads what was
 * stored and continues from the bus where the last acknowledged message left off, skipping
 * messages whose alarm effects were already stored (their ids commit with them).
 */
import type { Logger } from 'pino';
import { errorMessage, type Clock, type TimerHandle } from '@shellguard/protocol';
import type { BusConfig } from './config/config.ts';
import { JetStreamBus, type BusSubscription } from './bus/index.ts';
import {
  batchMessageId, birthMessageId, decodeStoredTelemetry, encodeStoredTelemetry, evaluateSubjects, storedTelemetryLayout, subjectOf,
  type StoredTelemetryLayout, type StoredTelemetryMessage,
} from './bus/stored-telemetry.ts';
import { PostgresLeadership, type Leadership } from './db/index.ts';
import type { StoredBatchHandOff } from './ingest/ingest.ts';
import type { AssetBirthListener } from './ingest/ingest-listeners.ts';
import type { IncomingBatch } from './telemetry/telemetry-store.ts';

export type ReplicaRole = 'active' | 'standby';

/** What the leader does, given by the composition root. */
export interface LeaderDuties {
  /** Becomes the one that evaluates: reload what was stored, start the once-per-site engines. */
  takeOver(): Promise<void>;
  /** Stops them (the lead was lost or the server stops); must not throw. */
  standDown(): Promise<void>;
  /**
   * Evaluates one message (throw to have it redelivered). `id` is its bus id; `maybeSeen` is false
   * only for a first delivery of a message stored after this replica took over.
   */
  evaluate(message: StoredTelemetryMessage, id: string, maybeSeen: boolean): Promise<void>;
  /** While standby: refresh what this replica shows from the database (every `standbyRefreshMs`). */
  refreshStandby(): Promise<void>;
}

export interface ScaleOutOptions {
  bus: Extract<BusConfig, { engine: 'jetstream' }>;
  databaseUrl: string;
  replicaId: string;
  logger: Logger;
  clock: Clock;
  standbyRefreshMs?: number;
}

export class ScaleOutReplica {
  private role: ReplicaRole = 'standby';
  private evaluation: BusSubscription | undefined;
  private liveViews: BusSubscription | undefined;
  private refreshTimer: TimerHandle | undefined;
  private closed = false;

  private constructor(
    readonly bus: JetStreamBus,
    readonly layout: StoredTelemetryLayout,
    private readonly leadership: Leadership,
    private readonly options: ScaleOutOptions,
  ) {}

  /** Connects to the bus (creating its streams). Nothing is consumed until `start()`. */
  static async connect(options: ScaleOutOptions): Promise<ScaleOutReplica> {
    const layout = storedTelemetryLayout(options.bus.stream, options.bus.partitions);
    const log = options.logger.child({ part: 'bus' });
    const bus = await JetStreamBus.connect({
      servers: options.bus.url, connectionName: `shellguard ${options.replicaId}`,
      streams: [layout.stream], deadLetters: layout.deadLetters, clock: options.clock,
      log: { warn: (d, m) => log.warn(d, m), error: (d, m) => log.error(d, m) },
      onDeadLetter: (letter) => log.error({ group: letter.group, id: letter.message.id, reason: letter.reason }, 'a stored-telemetry message could not be evaluated and was dead-lettered; see the dead-letter stream'),
    }).catch((err: unknown) => {
      // The URL is not echoed: it may hold credentials.
      throw new Error(`cannot reach the bus (bus.url in server.yaml): ${errorMessage(err)}; is nats-server running with JetStream?`);
    });
    const leadership = new PostgresLeadership({ url: options.databaseUrl, name: `shellguard-server:${options.bus.stream}`, replicaId: options.replicaId });
    return new ScaleOutReplica(bus, layout, leadership, options);
  }

  get replicaId(): string {
    return this.options.replicaId;
  }

  /** What the health route shows. */
  status(): { role: ReplicaRole; id: string } {
    return { role: this.role, id: this.options.replicaId };
  }

  /** Ingest's hand-off: every stored batch on its asset's partition, confirmed before it is acknowledged. */
  readonly handOff: StoredBatchHandOff = async (batches: readonly IncomingBatch[]) => {
    await Promise.all(batches.map((batch) => this.bus.publish(
      subjectOf(this.layout, batch.site, batch.asset), encodeStoredTelemetry({ kind: 'batch', batch }), { id: batchMessageId(batch) },
    )));
  };

  /** Ingest's birth listener: the leader learns of every asset birth, in order with its batches. */
  readonly birthListener: AssetBirthListener = ({ deviceId, site, birth, at }) => {
    const publish = (attempt: number): void => {
      this.bus.publish(subjectOf(this.layout, site, birth.asset), encodeStoredTelemetry({ kind: 'birth', deviceId, site, birth, at }), { id: birthMessageId(deviceId, site, birth.asset, at) })
        .catch((err: unknown) => {
          if (this.closed || attempt >= 5) {
            this.options.logger.warn({ deviceId, site, asset: birth.asset, err: errorMessage(err) }, 'could not hand an asset birth to the bus; the leader learns the profile from the registry on its next reload');
            return;
          }
          this.options.clock.setTimeout(() => publish(attempt + 1), 1_000 * attempt).unref();
        });
    };
    publish(1);
  };

  /** Live views on every replica, then the campaign for the lead. */
  async start(duties: LeaderDuties, onStored: (batch: IncomingBatch) => void): Promise<void> {
    const log = this.options.logger;
    this.liveViews = await this.bus.fanout([`${this.layout.base}.>`], (m) => {
      const message = decodeStoredTelemetry(m.payload);
      if (message.kind === 'batch') onStored(message.batch);
    });
    const refresh = () => {
      if (this.role === 'standby' && !this.closed) {
        duties.refreshStandby().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'standby: could not refresh from the database; will retry'));
      }
      this.refreshTimer = this.options.clock.setTimeout(refresh, this.options.standbyRefreshMs ?? 5_000).unref();
    };
    this.refreshTimer = this.options.clock.setTimeout(refresh, this.options.standbyRefreshMs ?? 5_000).unref();
    this.leadership.campaign({
      onElected: async () => {
        log.info({ replica: this.replicaId }, 'this replica leads: taking over evaluation');
        try {
          await duties.takeOver();
          const tookOverAt = this.options.clock.now();
          this.evaluation = await this.bus.work(this.layout.evaluateGroup, evaluateSubjects(this.layout), async (m) => {
            await duties.evaluate(decodeStoredTelemetry(m.payload), m.id, m.deliveryCount > 1 || m.storedAt <= tookOverAt);
          }, { ordered: true });
        } catch (err) {
          await duties.standDown();
          throw err;
        }
        this.role = 'active';
        log.info({ replica: this.replicaId }, 'this replica is the active one');
      },
      onDeposed: async (reason) => {
        this.role = 'standby';
        if (reason !== 'closed') log.error({ replica: this.replicaId, reason }, 'this replica lost the lead (its database connection failed): standing down; another replica takes over');
        await this.evaluation?.close().catch(() => undefined);
        this.evaluation = undefined;
        await duties.standDown();
      },
      onError: (err) => log.warn({ err: errorMessage(err) }, 'could not campaign for the lead; will retry'),
    });
  }

  /** Stands down (if leading), stops consuming. The bus stays open for ingest's last hand-offs: `closeBus()`. */
  async stop(): Promise<void> {
    this.closed = true;
    this.options.clock.clearTimeout(this.refreshTimer);
    await this.leadership.close();
    await this.liveViews?.close().catch(() => undefined);
  }

  async closeBus(): Promise<void> {
    await this.bus.close();
  }
}
