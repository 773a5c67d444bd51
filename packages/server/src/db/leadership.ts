/**
 * Which server replica leads (issue 12): the one that evaluates alarms, live analytics and panels
 * and ticks rollouts, while every replica stores the telemetry it receives. One port, two
 * implementations: `SoleLeadership` (one server: it always leads) and `PostgresLeadership` (a
 * session advisory lock: the database grants it to one connection at a time and frees it when that
 * connection ends, so a replica killed -9 hands over as soon as its connection is gone).
 */

/** Why a leader stopped leading. */
export type DeposedReason = 'closed' | 'connection_lost';

export interface LeadershipHandlers {
  /**
   * This replica now leads. Resolve once it has taken over (reloaded state, subscribed). A
   * rejection is reported and the lead given up, to be tried again.
   */
  onElected(): Promise<void>;
  /**
   * This replica no longer leads (its lock connection failed, or `close()`): stop leading at once.
   * Called only after `onElected` resolved.
   */
  onDeposed(reason: DeposedReason): Promise<void>;
  /** A campaign step failed (database unreachable); it is retried. */
  onError?(err: unknown): void;
}

export interface Leadership {
  /** A name for this replica (logs and the health route). */
  readonly replicaId: string;
  /** True between `onElected` resolving and `onDeposed`. */
  readonly isLeader: boolean;
  /** Starts trying to lead; once only. */
  campaign(handlers: LeadershipHandlers): void;
  /** Gives up the lead (calling `onDeposed('closed')` when leading) and stops trying. */
  close(): Promise<void>;
}
