/**
 * One Server-Sent Events connection for the whole app (`GET /api/v1/events`; EventSource sends
 * the session cookie). Views subscribe to event names and ask for points; the client keeps the
 * union and reconnects when the set of points changes — the new stream is opened before the old
 * one is closed, so nothing is missed in between. On an error it reconnects with capped,
 * jittered exponential backoff and, once back, tells subscribers to `resync` (they refetch,
 * because events may have been missed). A stream that goes silent (no `health` for 20 s, the
 * server sends one every 5 s) is treated as broken.
 */

export type LiveEventName = 'hello' | 'alarm' | 'latest' | 'fleet' | 'recommendations' | 'panels' | 'work-orders' | 'health' | 'resync';
export type LiveStatus = 'connecting' | 'live' | 'reconnecting';
export interface LiveStatusSnapshot {
  status: LiveStatus;
  /** When the next attempt starts (epoch ms), while reconnecting. */
  retryAt: number | null;
}

// `panels` carries the panel board (`panels` events) and work-order changes (`work-orders` {id}).
const TOPICS = 'alarms,fleet,health,recommendations,panels';
const EVENT_NAMES: readonly LiveEventName[] = ['hello', 'alarm', 'latest', 'fleet', 'recommendations', 'panels', 'work-orders', 'health', 'resync'];
const SILENCE_MS = 20_000;
const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;
const REPOINT_DEBOUNCE_MS = 150;

type Handler = (data: unknown) => void;

export interface LiveEventsOptions {
  url?: string;
  /** Called after an error, before reconnecting (the app checks the session, so a 401 shows sign-in). */
  onConnectionLost?: () => void;
  createEventSource?: (url: string) => EventSource;
}

export class LiveEvents {
  private readonly handlers = new Map<LiveEventName, Set<Handler>>();
  private readonly pointRefs = new Map<number, number>();
  private readonly statusListeners = new Set<() => void>();
  private source: EventSource | null = null;
  private draining: EventSource | null = null;
  private connectedPoints = '';
  private snapshot: LiveStatusSnapshot = { status: 'connecting', retryAt: null };
  private lastEventAt: number | null = null;
  private attempts = 0;
  private lostSinceLive = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private repointTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private started = false;
  private readonly url: string;
  private readonly options: LiveEventsOptions;

  constructor(options: LiveEventsOptions = {}) {
    this.options = options;
    this.url = options.url ?? '/api/v1/events';
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.connect();
    this.watchdog = setInterval(() => this.checkSilence(), 5_000);
  }

  stop(): void {
    this.started = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.repointTimer) clearTimeout(this.repointTimer);
    if (this.watchdog) clearInterval(this.watchdog);
    this.retryTimer = this.repointTimer = this.watchdog = null;
    this.source?.close();
    this.draining?.close();
    this.source = this.draining = null;
    this.lastEventAt = null;
    this.setStatus({ status: 'connecting', retryAt: null });
  }

  on(name: LiveEventName, handler: Handler): () => void {
    let set = this.handlers.get(name);
    if (!set) this.handlers.set(name, (set = new Set()));
    set.add(handler);
    return () => { set.delete(handler); };
  }

  /** Asks for `latest` events of these points until the returned function is called. */
  watchPoints(ids: readonly number[]): () => void {
    for (const id of ids) this.pointRefs.set(id, (this.pointRefs.get(id) ?? 0) + 1);
    this.schedulePointChange();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const id of ids) {
        const n = (this.pointRefs.get(id) ?? 1) - 1;
        if (n <= 0) this.pointRefs.delete(id);
        else this.pointRefs.set(id, n);
      }
      this.schedulePointChange();
    };
  }

  status(): LiveStatusSnapshot {
    return this.snapshot;
  }

  /** When anything was last heard on the stream (epoch ms), or null. */
  lastHeard(): number | null {
    return this.lastEventAt;
  }

  onStatus(listener: () => void): () => void {
    this.statusListeners.add(listener);
    return () => { this.statusListeners.delete(listener); };
  }

  private pointList(): string {
    return [...this.pointRefs.keys()].sort((a, b) => a - b).join(',');
  }

  private schedulePointChange(): void {
    if (!this.started) return;
    if (this.repointTimer) clearTimeout(this.repointTimer);
    this.repointTimer = setTimeout(() => {
      this.repointTimer = null;
      if (this.pointList() !== this.connectedPoints && this.snapshot.status === 'live') this.connect();
    }, REPOINT_DEBOUNCE_MS);
  }

  private setStatus(next: LiveStatusSnapshot): void {
    const s = this.snapshot;
    if (s.status === next.status && s.retryAt === next.retryAt) return;
    this.snapshot = next;
    for (const l of this.statusListeners) l();
  }

  private dispatch(name: LiveEventName, data: unknown): void {
    for (const h of this.handlers.get(name) ?? []) {
      try {
        h(data);
      } catch (err) {
        console.error(`live event ${name} handler failed`, err);
      }
    }
  }

  private connect(): void {
    const points = this.pointList();
    const url = `${this.url}?topics=${TOPICS}${points ? `&points=${points}` : ''}`;
    const next = this.options.createEventSource ? this.options.createEventSource(url) : new EventSource(url);
    // The old stream keeps delivering until the new one is open, so no event falls in a gap
    // (a few may arrive twice; every handler replaces by id, so that is harmless).
    this.draining?.close();
    this.draining = this.source;
    this.source = next;
    this.connectedPoints = points;
    const accepts = (es: EventSource) => es === this.source || es === this.draining;
    const opened = () => {
      if (this.source !== next) return;
      this.draining?.close();
      this.draining = null;
      this.attempts = 0;
      this.lastEventAt = Date.now();
      this.setStatus({ status: 'live', retryAt: null });
      if (this.lostSinceLive) {
        this.lostSinceLive = false;
        this.dispatch('resync', null);
      }
    };
    for (const name of EVENT_NAMES) {
      next.addEventListener(name, (event) => {
        if (!accepts(next)) return;
        let data: unknown = null;
        try {
          data = JSON.parse((event as MessageEvent<string>).data);
        } catch {
          data = null;
        }
        if (this.source === next) {
          if (this.snapshot.status !== 'live') opened();
          this.lastEventAt = Date.now();
        }
        this.dispatch(name, data);
      });
    }
    next.onopen = opened;
    next.onerror = () => {
      if (this.source !== next) {
        next.close();
        if (this.draining === next) this.draining = null;
        return;
      }
      this.reconnectLater();
    };
  }

  private reconnectLater(): void {
    this.source?.close();
    this.source = null;
    this.draining?.close();
    this.draining = null;
    this.lostSinceLive = true;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempts) * (0.75 + Math.random() * 0.5);
    this.attempts = Math.min(this.attempts + 1, 10);
    this.setStatus({ status: 'reconnecting', retryAt: Date.now() + delay });
    this.options.onConnectionLost?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.started) this.connect();
    }, delay);
  }

  private checkSilence(): void {
    if (this.snapshot.status !== 'live' || this.lastEventAt === null) return;
    if (Date.now() - this.lastEventAt > SILENCE_MS) this.reconnectLater();
  }
}
