/**
 * The live event hub behind `GET /api/v1/events` (Server-Sent Events, WHATWG HTML §9.2).
 *
 * Domains tell the hub synchronously that something changed (an alarm, the fleet, the
 * recommendations, a point's latest value); that costs a Map write at most, so ingest and the
 * alarm engine are never held up by a client. The hub reads, encodes and sends on its own
 * schedule, on the injected clock: alarm changes on the next turn, latest values at most every
 * 500 ms, fleet and recommendations at most every 2 s, health every 5 s, a ping every 15 s. Each
 * event is encoded once and the same bytes go to every stream that asked for it.
 *
 * Slow or hostile clients never cost unbounded memory. A stream writes until its socket says
 * stop, then holds at most `maxQueuedBytes` of alarm events; past that it drops them and owes the
 * client a `resync` (refetch the alarms). Snapshots waiting for a stalled stream replace the older
 * one of their kind, and latest values merge per point (at most 500). A stream stalled longer than
 * `stallTimeoutMs` is closed. Timers run only while some stream needs them.
 */
import { ShellguardError, systemClock, type Clock, type TimerHandle } from '@shellguard/protocol';
import type { Alarm } from '../alarms/alarm.ts';

export const LIVE_TOPICS = ['alarms', 'fleet', 'health', 'recommendations', 'panels'] as const;
export type LiveTopic = (typeof LIVE_TOPICS)[number];

/** At most this many points per stream (the contract of GET /api/v1/events). */
export const MAX_LIVE_POINTS = 500;

export type LiveErrorCode = 'too_many_streams' | 'too_many_points' | 'hub_closed';

export class LiveError extends ShellguardError<LiveErrorCode> {}

/** A point's latest value, as GET /api/v1/points/:id/latest gives it. */
export interface LatestSample {
  ts: number;
  value: number | boolean | null;
  quality: number;
}

/** The `health` event. */
export interface LiveHealth {
  time: number;
  ingest: Record<string, unknown>;
  pointsPerSecond: number;
  connectedDevices: number;
  activeAlarms: number;
  unackAlarms: number;
}

/** What the hub reads when one of its timers fires (never on the path of the domain that changed). */
export interface LiveSnapshots {
  latest?(pointId: number): LatestSample | undefined;
  /** The devices exactly as GET /api/v1/fleet lists them. */
  fleet?(): readonly unknown[] | Promise<readonly unknown[]>;
  /** The recommendations exactly as GET /api/v1/recommendations lists them. */
  recommendations?(): readonly unknown[] | Promise<readonly unknown[]>;
  /** The panel board exactly as GET /api/v1/panels gives it ({panels, stops}). */
  panels?(): unknown;
  health?(): LiveHealth;
}

/** Where a stream's bytes go (the HTTP response, in the route). */
export interface EventSink {
  /** Writes a chunk; false when the peer is not keeping up: nothing more is written until `drained()`. */
  write(chunk: Buffer): boolean;
  /** Bytes the transport holds that the peer has not taken yet. */
  buffered?(): number;
  /** Ends the connection now (the server stops, or the client stalled). */
  close(): void;
}

export interface StreamRequest {
  /** Who opened it (the audit actor, e.g. `token:<id>`): at most `maxStreamsPerPrincipal` each. */
  principal: string;
  topics: readonly LiveTopic[];
  points: readonly number[];
  sink: EventSink;
}

/** A stream as its transport drives it. */
export interface LiveStream {
  /** The sink takes writes again (the socket's `drain`). */
  drained(): void;
  /** The connection is gone: forget the stream. Idempotent. */
  close(): void;
}

export interface StreamStats {
  principal: string;
  blocked: boolean;
  /** Alarm events held while blocked. */
  queuedBytes: number;
  /** Bytes in the transport's own buffer. */
  bufferedBytes: number;
  owesResync: boolean;
  droppedAlarmEvents: number;
}

export interface EventHubStats {
  streams: StreamStats[];
  /** Timers the hub has pending (0 once no stream is open). */
  timers: number;
}

export interface EventHubOptions {
  snapshots?: LiveSnapshots;
  /** Time, and the hub's timers (default systemClock; its timers are unref'd). */
  clock?: Clock;
  latestIntervalMs?: number;
  fleetIntervalMs?: number;
  recommendationsIntervalMs?: number;
  /** Panel board snapshots at most this often (default 200 ms: a tower turning red must show at once). */
  panelsIntervalMs?: number;
  healthIntervalMs?: number;
  pingIntervalMs?: number;
  /** Alarm events one blocked stream may hold before they are dropped for a `resync` (default 1 MiB). */
  maxQueuedBytes?: number;
  maxStreamsPerPrincipal?: number;
  /** A stream that takes nothing for this long is closed (default 60 s; checked with the ping). */
  stallTimeoutMs?: number;
  /** A snapshot that could not be read (the event is skipped; the next change tries again). */
  onError?: (err: unknown, what: string) => void;
}

type SnapshotKind = 'fleet' | 'recommendations' | 'panels' | 'health';
type TimerName = 'alarms' | 'latest' | SnapshotKind | 'ping';

const PING = Buffer.from(': ping\n\n');

function frame(event: string, data: unknown): Buffer {
  return Buffer.from(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

class Stream implements LiveStream {
  blocked = false;
  blockedSince = 0;
  owesResync = false;
  dropped = 0;
  closed = false;
  private queue: Buffer[] = [];
  private head = 0;
  queuedBytes = 0;
  private readonly waitingSnapshots = new Map<SnapshotKind, Buffer>();
  private readonly waitingLatest = new Map<number, string>();

  constructor(
    private readonly hub: EventHub,
    readonly principal: string,
    readonly topics: ReadonlySet<LiveTopic>,
    readonly points: ReadonlySet<number>,
    readonly sink: EventSink,
    private readonly maxQueuedBytes: number,
    private readonly now: () => number,
  ) {}

  sendAlarm(f: Buffer): void {
    if (this.closed) return;
    // The client refetches every alarm after the resync: what changes before it is sent is redundant.
    if (this.owesResync) {
      this.dropped++;
      return;
    }
    if (!this.blocked) {
      this.write(f);
      return;
    }
    if (this.queuedBytes + f.length > this.maxQueuedBytes) {
      this.dropped += this.queue.length - this.head + 1;
      this.queue = [];
      this.head = 0;
      this.queuedBytes = 0;
      this.owesResync = true;
      return;
    }
    this.queue.push(f);
    this.queuedBytes += f.length;
  }

  sendSnapshot(kind: SnapshotKind, f: Buffer): void {
    if (this.closed) return;
    if (this.blocked) this.waitingSnapshots.set(kind, f);
    else this.write(f);
  }

  /** `fragments`: the encoded latest value of each changed point. */
  sendLatest(fragments: ReadonlyMap<number, string>): void {
    if (this.closed || this.points.size === 0) return;
    const mine: string[] = [];
    const [small, large] = fragments.size < this.points.size ? [fragments.keys(), this.points] : [this.points.values(), fragments];
    for (const id of small) {
      if (!large.has(id)) continue;
      if (this.blocked) this.waitingLatest.set(id, fragments.get(id)!);
      else mine.push(fragments.get(id)!);
    }
    if (mine.length > 0) this.write(latestFrame(mine));
  }

  /** The `hello`: the first write of a fresh stream. */
  sendFirst(f: Buffer): void {
    this.write(f);
  }

  sendPing(): void {
    if (!this.closed && !this.blocked) this.write(PING);
  }

  drained(): void {
    if (this.closed || !this.blocked) return;
    this.blocked = false;
    if (this.owesResync) {
      this.owesResync = false;
      const dropped = this.dropped;
      this.dropped = 0;
      this.write(frame('resync', { refetch: ['alarms'], dropped }));
    }
    while (!this.blocked && this.head < this.queue.length) {
      const f = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as Buffer;
      this.queuedBytes -= f.length;
      this.write(f);
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
    for (const [kind, f] of this.waitingSnapshots) {
      if (this.blocked) return;
      this.waitingSnapshots.delete(kind);
      this.write(f);
    }
    if (!this.blocked && this.waitingLatest.size > 0) {
      const f = latestFrame([...this.waitingLatest.values()]);
      this.waitingLatest.clear();
      this.write(f);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.waitingSnapshots.clear();
    this.waitingLatest.clear();
    this.hub.forget(this);
  }

  stats(): StreamStats {
    return {
      principal: this.principal, blocked: this.blocked, queuedBytes: this.queuedBytes, bufferedBytes: this.sink.buffered?.() ?? 0,
      owesResync: this.owesResync, droppedAlarmEvents: this.dropped,
    };
  }

  private write(f: Buffer): void {
    try {
      if (!this.sink.write(f)) {
        this.blocked = true;
        this.blockedSince = this.now();
      }
    } catch {
      // A transport that throws is gone.
      this.close();
      this.sink.close();
    }
  }
}

function latestFrame(fragments: readonly string[]): Buffer {
  return Buffer.from(`event: latest\ndata: {"points":[${fragments.join(',')}]}\n\n`);
}

export class EventHub {
  private readonly snapshots: LiveSnapshots;
  private readonly clock: Clock;
  private readonly now: () => number;
  private readonly intervals: Record<TimerName, number>;
  private readonly maxQueuedBytes: number;
  private readonly maxStreamsPerPrincipal: number;
  private readonly stallTimeoutMs: number;
  private readonly onError: (err: unknown, what: string) => void;

  private readonly streams = new Set<Stream>();
  private readonly perPrincipal = new Map<string, number>();
  private readonly topicCount: Record<LiveTopic, number> = { alarms: 0, fleet: 0, health: 0, recommendations: 0, panels: 0 };
  /** point id → streams watching it. */
  private readonly watched = new Map<number, number>();
  /** Alarm changes since the last flush, the newest state of each alarm (in order of change). */
  private readonly changedAlarms = new Map<number, Alarm>();
  private readonly changedPoints = new Set<number>();
  private readonly timers = new Map<TimerName, TimerHandle>();
  private closed = false;

  constructor(options: EventHubOptions = {}) {
    this.snapshots = options.snapshots ?? {};
    this.clock = options.clock ?? systemClock;
    this.now = () => this.clock.now();
    this.intervals = {
      alarms: 0,
      latest: options.latestIntervalMs ?? 500,
      fleet: options.fleetIntervalMs ?? 2_000,
      recommendations: options.recommendationsIntervalMs ?? 2_000,
      panels: options.panelsIntervalMs ?? 200,
      health: options.healthIntervalMs ?? 5_000,
      ping: options.pingIntervalMs ?? 15_000,
    };
    this.maxQueuedBytes = options.maxQueuedBytes ?? 1024 * 1024;
    this.maxStreamsPerPrincipal = options.maxStreamsPerPrincipal ?? 8;
    this.stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
    this.onError = options.onError ?? (() => {});
  }

  // ---------------------------------------------------------------- streams

  /** Whether `principal` may open one more stream. */
  hasRoom(principal: string): boolean {
    return !this.closed && (this.perPrincipal.get(principal) ?? 0) < this.maxStreamsPerPrincipal;
  }

  /** Registers a stream and writes its `hello`. Throws LiveError before writing anything. */
  open(request: StreamRequest): LiveStream {
    if (this.closed) throw new LiveError('hub_closed', 'the server is stopping');
    const open = this.perPrincipal.get(request.principal) ?? 0;
    if (open >= this.maxStreamsPerPrincipal) {
      throw new LiveError('too_many_streams', `at most ${this.maxStreamsPerPrincipal} event streams may be open at once per user or token; close one first`,
        { open, max: this.maxStreamsPerPrincipal });
    }
    const points = new Set(request.points);
    if (points.size > MAX_LIVE_POINTS) {
      throw new LiveError('too_many_points', `at most ${MAX_LIVE_POINTS} points per event stream (asked ${points.size})`, { max: MAX_LIVE_POINTS });
    }
    const topics = new Set(request.topics);
    const stream = new Stream(this, request.principal, topics, points, request.sink, this.maxQueuedBytes, this.now);
    this.streams.add(stream);
    this.perPrincipal.set(request.principal, open + 1);
    for (const t of topics) this.topicCount[t]++;
    for (const id of points) this.watched.set(id, (this.watched.get(id) ?? 0) + 1);
    stream.sendFirst(frame('hello', { topics: [...topics], points: [...points] }));
    if (topics.has('health')) this.repeat('health', () => this.sendHealth());
    this.repeat('ping', () => this.sendPings());
    return stream;
  }

  /** Closes every stream (the API is stopping); the hub stays usable. */
  closeStreams(): void {
    for (const s of [...this.streams]) {
      s.close();
      s.sink.close();
    }
  }

  /** Closes every stream and refuses new ones. */
  close(): void {
    this.closed = true;
    this.closeStreams();
    for (const name of [...this.timers.keys()]) this.cancel(name);
  }

  /** Called by a stream as it closes. */
  forget(stream: Stream): void {
    if (!this.streams.delete(stream)) return;
    const left = (this.perPrincipal.get(stream.principal) ?? 1) - 1;
    if (left > 0) this.perPrincipal.set(stream.principal, left);
    else this.perPrincipal.delete(stream.principal);
    for (const t of stream.topics) this.topicCount[t]--;
    for (const id of stream.points) {
      const n = (this.watched.get(id) ?? 1) - 1;
      if (n > 0) this.watched.set(id, n);
      else {
        this.watched.delete(id);
        this.changedPoints.delete(id);
      }
    }
    if (this.topicCount.alarms === 0) {
      this.changedAlarms.clear();
      this.cancel('alarms');
    }
    for (const kind of ['fleet', 'recommendations', 'panels', 'health'] as const) if (this.topicCount[kind] === 0) this.cancel(kind);
    if (this.watched.size === 0) this.cancel('latest');
    if (this.streams.size === 0) this.cancel('ping');
  }

  stats(): EventHubStats {
    return { streams: [...this.streams].map((s) => s.stats()), timers: this.timers.size };
  }

  // ---------------------------------------------------------------- changes (synchronous, cheap)

  /** An alarm changed (the alarm engine's `onAlarmChanged`). `alarm` must be a copy the caller no longer mutates. */
  alarmChanged(alarm: Alarm): void {
    if (this.topicCount.alarms === 0) return;
    this.changedAlarms.delete(alarm.id);
    this.changedAlarms.set(alarm.id, alarm);
    this.once('alarms', () => this.flushAlarms());
  }

  /** Whether any stream watches this point (ingest asks before it looks anything else up). */
  watches(pointId: number): boolean {
    return this.watched.has(pointId);
  }

  get watchesAnyPoint(): boolean {
    return this.watched.size > 0;
  }

  /** A point's latest value may have changed. */
  pointChanged(pointId: number): void {
    if (!this.watched.has(pointId)) return;
    this.changedPoints.add(pointId);
    this.once('latest', () => this.flushLatest());
  }

  /** A claim, a device state or an attestation changed. */
  fleetChanged(): void {
    if (this.topicCount.fleet > 0) this.once('fleet', () => this.sendSnapshot('fleet'));
  }

  /** A maintenance recommendation was created or changed. */
  recommendationsChanged(): void {
    if (this.topicCount.recommendations > 0) this.once('recommendations', () => this.sendSnapshot('recommendations'));
  }

  /** A panel's Andon state, a work order, an alert or a site stop changed. */
  panelsChanged(): void {
    if (this.topicCount.panels > 0) this.once('panels', () => this.sendPanels());
  }

  // ---------------------------------------------------------------- on the hub's schedule

  private sendPanels(): void {
    const board = this.read('panels', () => this.snapshots.panels?.());
    if (board === undefined) return;
    const f = frame('panels', board);
    for (const s of this.streams) if (s.topics.has('panels')) s.sendSnapshot('panels', f);
  }


  private flushAlarms(): void {
    const alarms = [...this.changedAlarms.values()];
    this.changedAlarms.clear();
    for (const alarm of alarms) {
      const f = frame('alarm', alarm);
      for (const s of this.streams) if (s.topics.has('alarms')) s.sendAlarm(f);
    }
  }

  private flushLatest(): void {
    const fragments = new Map<number, string>();
    for (const id of this.changedPoints) {
      const v = this.read('latest', () => this.snapshots.latest?.(id));
      if (v) fragments.set(id, JSON.stringify({ id, ts: v.ts, value: v.value, quality: v.quality }));
    }
    this.changedPoints.clear();
    if (fragments.size === 0) return;
    for (const s of this.streams) s.sendLatest(fragments);
  }

  private sendSnapshot(kind: 'fleet' | 'recommendations'): void {
    const read = this.read(kind, () => (kind === 'fleet' ? this.snapshots.fleet?.() : this.snapshots.recommendations?.()));
    const send = (list: readonly unknown[] | undefined): void => {
      if (list === undefined || this.closed) return;
      const f = frame(kind, kind === 'fleet' ? { devices: list } : { recommendations: list });
      for (const s of this.streams) if (s.topics.has(kind)) s.sendSnapshot(kind, f);
    };
    // The fleet and the recommendations are read from the database (a Promise); a read that fails skips the event, as a throw does.
    if (read instanceof Promise) read.then(send, (err: unknown) => this.onError(err, kind));
    else send(read);
  }

  private sendHealth(): void {
    const health = this.read('health', () => this.snapshots.health?.());
    if (health === undefined) return;
    const f = frame('health', health);
    for (const s of this.streams) if (s.topics.has('health')) s.sendSnapshot('health', f);
  }

  private sendPings(): void {
    const now = this.now();
    for (const s of [...this.streams]) {
      if (s.blocked && now - s.blockedSince >= this.stallTimeoutMs) {
        s.close();
        s.sink.close();
      } else {
        s.sendPing();
      }
    }
  }

  private read<T>(what: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      this.onError(err, what);
      return undefined;
    }
  }

  // ---------------------------------------------------------------- timers

  /** Runs `fn` once after the timer's interval, unless that timer is already pending. */
  private once(name: TimerName, fn: () => void): void {
    if (this.timers.has(name)) return;
    this.timers.set(name, this.clock.setTimeout(() => {
      this.timers.delete(name);
      fn();
    }, this.intervals[name]).unref());
  }

  /** Runs `fn` every interval until cancelled (started once; a second call is a no-op). */
  private repeat(name: TimerName, fn: () => void): void {
    if (this.timers.has(name)) return;
    const loop = (): void => {
      this.timers.delete(name);
      fn();
      if (!this.timers.has(name) && this.needs(name)) this.timers.set(name, this.clock.setTimeout(loop, this.intervals[name]).unref());
    };
    this.timers.set(name, this.clock.setTimeout(loop, this.intervals[name]).unref());
  }

  private needs(name: TimerName): boolean {
    return name === 'ping' ? this.streams.size > 0 : name === 'health' ? this.topicCount.health > 0 : false;
  }

  private cancel(name: TimerName): void {
    const t = this.timers.get(name);
    if (t === undefined) return;
    this.timers.delete(name);
    this.clock.clearTimeout(t);
  }
}
