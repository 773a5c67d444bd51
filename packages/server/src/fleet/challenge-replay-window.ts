/**
 * Replay detection for signed challenge requests (RFC 9449 §11.1: remember each proof's unique id
 * for as long as its time would still be accepted). A request id is kept until its `issuedAt` is
 * older than the time window, after which the stateless check refuses the request as stale anyway.
 *
 * Memory is bounded in a way that keeps the guarantee where it matters:
 * - Devices with a claim record (claimed, quarantined, revoked; a bounded set the operators made)
 *   each keep up to `perDevice` ids. When one device makes more proofs than that within the window,
 *   its oldest id is forgotten and the device's floor rises to that id's issuedAt: from then on a
 *   request of this device issued at or before the floor is refused as stale, so nothing forgotten
 *   can be replayed. Only the key holder can make proofs for a device, so only it can raise its floor.
 * - Every other key (unclaimed ids, which anyone can mint) shares one first-in-first-out set of
 *   `anonymous` ids. Overflow forgets the oldest without a floor, so no flood can refuse anyone;
 *   the price is that a captured request of an unclaimed key may be accepted again after the flood.
 *   That costs nothing: such a request only ever gets a nonce that is not stored.
 */

export type ReplayCheck = 'ok' | 'challenge_replayed' | 'challenge_stale';

export interface ChallengeReplayWindowOptions {
  /** How long after its issuedAt a request id is remembered (the stateless check's maximum skew). */
  windowMs: number;
  /** Request ids remembered per device with a claim record (default 16). */
  perDevice?: number;
  /** Request ids remembered for all other keys together (default 20 000). */
  anonymous?: number;
}

interface DeviceWindow {
  /** requestId -> issuedAt */
  ids: Map<string, number>;
  /** Requests issued at or before this were forgotten: refused as stale. */
  floor: number;
}

export class ChallengeReplayWindow {
  private readonly windowMs: number;
  private readonly perDevice: number;
  private readonly anonymousLimit: number;
  private readonly devices = new Map<string, DeviceWindow>();
  /** requestId -> issuedAt, in arrival order. */
  private readonly anonymous = new Map<string, number>();
  private nextSweep = 0;

  constructor(options: ChallengeReplayWindowOptions) {
    if (!(options.windowMs > 0)) throw new RangeError('windowMs must be positive');
    this.windowMs = options.windowMs;
    this.perDevice = Math.max(1, options.perDevice ?? 16);
    this.anonymousLimit = Math.max(1, options.anonymous ?? 20_000);
  }

  /**
   * Records a request whose signature has verified (never before: a forgery must not take up
   * room). `known` says whether the device has a claim record.
   */
  admit(deviceId: string, requestId: string, issuedAt: number, now: number, known: boolean): ReplayCheck {
    this.sweep(now);
    return known ? this.admitKnown(deviceId, requestId, issuedAt, now) : this.admitAnonymous(requestId, issuedAt, now);
  }

  /** Ids remembered in all (for tests and the health view). */
  get size(): number {
    let n = this.anonymous.size;
    for (const w of this.devices.values()) n += w.ids.size;
    return n;
  }

  private expired(issuedAt: number, now: number): boolean {
    return issuedAt + this.windowMs < now;
  }

  private admitKnown(deviceId: string, requestId: string, issuedAt: number, now: number): ReplayCheck {
    let window = this.devices.get(deviceId);
    if (!window) this.devices.set(deviceId, (window = { ids: new Map(), floor: -Infinity }));
    for (const [id, at] of window.ids) if (this.expired(at, now)) window.ids.delete(id);
    // Also the shared set: a request made before the device was claimed is still a replay after.
    if (window.ids.has(requestId) || this.anonymous.has(requestId)) return 'challenge_replayed';
    if (issuedAt <= window.floor) return 'challenge_stale';
    if (window.ids.size >= this.perDevice) {
      let oldestId = '';
      let oldestAt = Infinity;
      for (const [id, at] of window.ids) if (at < oldestAt) { oldestId = id; oldestAt = at; }
      // The new request would be the one forgotten first: refuse it rather than lose track of it.
      if (issuedAt <= oldestAt) return 'challenge_stale';
      window.ids.delete(oldestId);
      window.floor = Math.max(window.floor, oldestAt);
    }
    window.ids.set(requestId, issuedAt);
    return 'ok';
  }

  private admitAnonymous(requestId: string, issuedAt: number, now: number): ReplayCheck {
    for (const [id, at] of this.anonymous) {
      if (!this.expired(at, now)) break;
      this.anonymous.delete(id);
    }
    if (this.anonymous.has(requestId)) return 'challenge_replayed';
    if (this.anonymous.size >= this.anonymousLimit) this.anonymous.delete(this.anonymous.keys().next().value!);
    this.anonymous.set(requestId, issuedAt);
    return 'ok';
  }

  /** Once per window: forget devices whose ids and floor are all past the window. */
  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + this.windowMs;
    for (const [deviceId, window] of this.devices) {
      for (const [id, at] of window.ids) if (this.expired(at, now)) window.ids.delete(id);
      if (window.ids.size === 0 && this.expired(window.floor, now)) this.devices.delete(deviceId);
    }
    for (const [id, at] of this.anonymous) if (this.expired(at, now)) this.anonymous.delete(id);
  }
}
