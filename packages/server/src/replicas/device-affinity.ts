/**
 * Which replica handles which device's traffic (issue 12), so one device's batches are stored and
 * handed to the bus by one replica, in the order the device sent them: with an MQTT shared
 * subscription the broker deals one device's messages to every replica in turn, and batches
 * stored side by side by two replicas could reach the evaluator out of order (a door's edges, an
 * alarm's raise and clear).
 *
 * Every replica receives all device traffic and keeps only its own devices': the owner of a device
 * is the live replica with the highest rendezvous hash of (device, replica), so when a replica
 * joins or leaves only its share of the devices moves. Membership is read from heartbeats in the
 * shared database. While two replicas disagree about the membership (a few seconds after a change)
 * a device may be handled by two replicas or by none: both are safe — storing a batch and handing
 * it to the bus are idempotent by the batch's identity, and a batch no replica acknowledged is
 * redelivered by its guardian.
 */
import { errorMessage, type Clock, type TimerHandle } from '@shellguard/protocol';
import type { ReplicaDirectory } from './replica-directory.ts';

export interface DeviceAffinityOptions {
  directory: ReplicaDirectory;
  replicaId: string;
  clock: Clock;
  /** Heartbeat and membership refresh interval (default 1 s). */
  intervalMs?: number;
  /** A replica not seen for this long is gone (default 5 s). */
  timeoutMs?: number;
  onError?: (err: unknown) => void;
}

/** FNV-1a over the UTF-16 code units, then a final avalanche: cheap and the same on every replica. */
export function rendezvousScore(deviceId: string, replicaId: string): number {
  let h = 0x811c9dc5;
  const s = `${deviceId}\0${replicaId}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/** The replica of `replicas` that owns `deviceId` (undefined when there is none). */
export function ownerOf(deviceId: string, replicas: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const r of replicas) {
    const score = rendezvousScore(deviceId, r);
    if (score > bestScore || (score === bestScore && best !== undefined && r < best)) {
      best = r;
      bestScore = score;
    }
  }
  return best;
}

export class DeviceAffinity {
  private readonly o: Required<Omit<DeviceAffinityOptions, 'onError'>> & Pick<DeviceAffinityOptions, 'onError'>;
  private members: string[];
  private timer: TimerHandle | undefined;
  private running = false;
  private dropped = 0;

  constructor(options: DeviceAffinityOptions) {
    this.o = { intervalMs: 1_000, timeoutMs: 5_000, ...options };
    this.members = [options.replicaId];
  }

  /** Writes the first heartbeat and reads the membership, then keeps both current. */
  async start(): Promise<void> {
    await this.refresh();
    this.running = true;
    const loop = () => {
      if (!this.running) return;
      this.refresh().catch((err: unknown) => this.o.onError?.(new Error(`replica heartbeat: ${errorMessage(err)}`))).finally(() => {
        if (this.running) this.timer = this.o.clock.setTimeout(loop, this.o.intervalMs).unref();
      });
    };
    this.timer = this.o.clock.setTimeout(loop, this.o.intervalMs).unref();
  }

  private async refresh(): Promise<void> {
    const now = this.o.clock.now();
    await this.o.directory.heartbeat(this.o.replicaId, now);
    const live = await this.o.directory.liveSince(now - this.o.timeoutMs);
    // Itself always counts: it just wrote its heartbeat (a slow read must not make it drop everything).
    this.members = live.includes(this.o.replicaId) ? live : [...live, this.o.replicaId].sort();
  }

  /** True when this replica handles `deviceId`'s traffic; counts what it leaves to others. */
  owns(deviceId: string): boolean {
    const mine = ownerOf(deviceId, this.members) === this.o.replicaId;
    if (!mine) this.dropped++;
    return mine;
  }

  /** The replicas this one believes alive, and how many messages it left to them. */
  status(): { replicas: string[]; leftToOthers: number } {
    return { replicas: [...this.members], leftToOthers: this.dropped };
  }

  /** Stops the heartbeat and leaves the membership, so the others take its devices at once. */
  async stop(): Promise<void> {
    this.running = false;
    this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.o.directory.leave(this.o.replicaId).catch((err: unknown) => this.o.onError?.(err));
  }
}
