/**
 * Leadership by a PostgreSQL session advisory lock (see leadership.ts). The lock lives on one
 * dedicated connection:
 * - a replica that dies (kill -9) closes it, and the database frees the lock at once;
 * - a replica cut off from the database stops leading when its heartbeat fails (within
 *   `heartbeatMs` + `heartbeatTimeoutMs`), while the database frees the lock only once its TCP
 *   keepalives give up on the connection (`tcp_keepalives_*`, set per session, about
 *   `keepaliveIdleS` + `keepaliveIntervalS` × `keepaliveCount` s, longer than the heartbeat), so
 *   the old leader has stepped down before a new one is elected;
 * - a lock freed at once (the old leader's backend was terminated, or the database restarted)
 *   reaches a new leader before the old one's next heartbeat: so a replica that gets the lock
 *   waits `takeoverDelayMs` (longer than a heartbeat and its timeout) before it leads, checking
 *   that it still holds the lock, while the old one finds out and stands down.
 * The lead is timing-based like any lease: a replica whose event loop stalls for longer than the
 * takeover delay could overlap. Its effects are fenced where it matters (alarm changes commit with
 * their bus message's id and are refused when another replica stored that id first).
 * pg's types stay in db/.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { errorMessage } from '@shellguard/protocol';
import type { DeposedReason, Leadership, LeadershipHandlers } from './leadership.ts';

export interface PostgresLeadershipOptions {
  /** postgres://… (never logged). */
  url: string;
  /** What is led: replicas with the same name compete for one lock (default 'shellguard-server'). */
  name?: string;
  replicaId: string;
  /** How often a follower tries for the lock (default 1 s). */
  retryMs?: number;
  /** How often the leader checks its lock connection (default 1 s), and how long it waits (default 2 s). */
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  /** How long a replica that got the lock waits before leading (default heartbeat + timeout + 0.5 s). */
  takeoverDelayMs?: number;
  /** The database's side of the connection (seconds; defaults 4, 1, 3: about 7 s). */
  keepaliveIdleS?: number;
  keepaliveIntervalS?: number;
  keepaliveCount?: number;
}

/** The lock key: the first 8 bytes of SHA-256 of the name, as a signed 64-bit integer. */
export function leadershipLockKey(name: string): string {
  return createHash('sha256').update(`shellguard-leadership:${name}`).digest().readBigInt64BE(0).toString();
}

function sleep(ms: number, signal: { stop: boolean; wake?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.wake = () => {
      clearTimeout(t);
      resolve();
    };
  });
}

export class PostgresLeadership implements Leadership {
  readonly replicaId: string;
  private readonly options: Required<Omit<PostgresLeadershipOptions, 'url' | 'replicaId'>> & { url: string };
  private readonly key: string;
  private handlers: LeadershipHandlers | undefined;
  private client: pg.Client | undefined;
  private leading = false;
  private readonly signal: { stop: boolean; wake?: () => void } = { stop: false };
  private loop: Promise<void> | undefined;

  constructor(options: PostgresLeadershipOptions) {
    this.replicaId = options.replicaId;
    this.options = {
      url: options.url, name: options.name ?? 'shellguard-server',
      retryMs: options.retryMs ?? 1_000, heartbeatMs: options.heartbeatMs ?? 1_000, heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 2_000,
      takeoverDelayMs: options.takeoverDelayMs ?? (options.heartbeatMs ?? 1_000) + (options.heartbeatTimeoutMs ?? 2_000) + 500,
      keepaliveIdleS: options.keepaliveIdleS ?? 4, keepaliveIntervalS: options.keepaliveIntervalS ?? 1, keepaliveCount: options.keepaliveCount ?? 3,
    };
    this.key = leadershipLockKey(this.options.name);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  campaign(handlers: LeadershipHandlers): void {
    if (this.handlers) throw new Error('campaign() was called already');
    this.handlers = handlers;
    this.loop = this.run();
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.options.url, application_name: `shellguard-leadership ${this.replicaId}`,
      query_timeout: this.options.heartbeatTimeoutMs, connectionTimeoutMillis: 5_000,
      keepAlive: true, keepAliveInitialDelayMillis: 1_000,
    });
    // A lost connection also fails the next heartbeat; without a listener pg would end the process.
    client.on('error', () => {});
    await client.connect();
    const o = this.options;
    await client.query(`SET tcp_keepalives_idle = ${o.keepaliveIdleS}; SET tcp_keepalives_interval = ${o.keepaliveIntervalS}; SET tcp_keepalives_count = ${o.keepaliveCount}`);
    return client;
  }

  private async dropClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    // A connection cut off mid-way may never answer end(): give it a second, then drop the socket.
    const ended = client.end().catch(() => undefined);
    const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 1_000).unref());
    if (await Promise.race([ended, timer]) === 'late') {
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    }
  }

  private async run(): Promise<void> {
    const handlers = this.handlers!;
    while (!this.signal.stop) {
      try {
        this.client ??= await this.connect();
        const r = await this.client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [this.key]);
        if (r.rows[0]?.locked === true) {
          // Let a leader whose lock was freed under it notice and stand down first.
          await sleep(this.options.takeoverDelayMs, this.signal);
          if (this.signal.stop) break;
          await this.client.query('SELECT 1');
          try {
            await handlers.onElected();
          } catch (err) {
            handlers.onError?.(err);
            await this.client.query('SELECT pg_advisory_unlock($1::bigint)', [this.key]).catch(() => undefined);
            await sleep(this.options.retryMs, this.signal);
            continue;
          }
          this.leading = true;
          const reason = await this.lead();
          this.leading = false;
          await handlers.onDeposed(reason);
          await this.dropClient(); // frees the lock if the connection still works
          // Give the others the first chance to take over.
          await sleep(this.options.retryMs + this.options.takeoverDelayMs, this.signal);
          continue;
        }
      } catch (err) {
        if (!this.signal.stop) handlers.onError?.(new Error(`leadership: ${errorMessage(err)}`));
        await this.dropClient();
      }
      await sleep(this.options.retryMs, this.signal);
    }
  }

  /** Heartbeats on the lock connection until it fails or `close()`; says why the lead ended. */
  private async lead(): Promise<DeposedReason> {
    while (!this.signal.stop) {
      await sleep(this.options.heartbeatMs, this.signal);
      if (this.signal.stop) break;
      try {
        await this.client!.query('SELECT 1');
      } catch {
        return 'connection_lost';
      }
    }
    return 'closed';
  }

  async close(): Promise<void> {
    this.signal.stop = true;
    this.signal.wake?.();
    await this.loop;
    await this.dropClient();
  }
}
