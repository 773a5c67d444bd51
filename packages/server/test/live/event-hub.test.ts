/**
 * The event hub on fake time, with sinks that take or refuse writes on command: what each stream
 * receives, how often, and what a stream that stops reading costs.
 */
import { describe, expect, it } from 'vitest';
import type { Alarm } from '../../src/alarms/alarm.ts';
import { EventHub, LiveError, type EventHubOptions, type EventSink, type LiveTopic } from '../../src/live/event-hub.ts';
import { liveHealth, watchStoredSamples } from '../../src/live/live-sources.ts';
import type { IncomingBatch } from '../../src/telemetry/telemetry-store.ts';
import { FakeTime } from '../alarms/engine-fixture.ts';

class FakeSink implements EventSink {
  readonly chunks: string[] = [];
  /** What write() answers: false as if the socket's buffer were full. */
  takes = true;
  closed = false;
  write(chunk: Buffer): boolean {
    this.chunks.push(chunk.toString('utf8'));
    return this.takes;
  }
  close(): void {
    this.closed = true;
  }
  /** Events as [name, parsed data]; comments as ['comment', text]. */
  events(): [string, unknown][] {
    return this.chunks.join('').split('\n\n').filter((b) => b.length > 0).map((block) => {
      if (block.startsWith(':')) return ['comment', block.slice(1).trim()];
      const [ev, data] = block.split('\n') as [string, string];
      return [ev.replace(/^event: /, ''), JSON.parse(data.replace(/^data: /, ''))];
    });
  }
  named(name: string): unknown[] {
    return this.events().filter(([n]) => n === name).map(([, d]) => d);
  }
}

function alarm(id: number, extra: Partial<Alarm> = {}): Alarm {
  return {
    id, key: `dc1/AHU-1/sat/r${id}`, ruleId: `r${id}`, kind: 'limit', level: 'h', site: 'dc1', asset: 'AHU-1', point: 'sat',
    priority: 'medium', description: 'Supply air temperature', state: 'unack-active', active: true, acknowledged: false,
    shelved: null, suppressed: false, outOfService: null, annunciated: true, activeSince: 1, changedAt: 1, value: 31,
    pending: null, retired: false, ...extra,
  };
}

function hubOn(time: FakeTime, options: Partial<EventHubOptions> = {}) {
  const reads = { fleet: 0, recommendations: 0, health: 0 };
  const latest = new Map<number, { ts: number; value: number; quality: number }>();
  const hub = new EventHub({
    clock: time.clock,
    snapshots: {
      latest: (id) => latest.get(id),
      fleet: () => {
        reads.fleet++;
        return [{ deviceId: 'd1', state: 'claimed', n: reads.fleet }];
      },
      recommendations: () => {
        reads.recommendations++;
        return [{ id: 1, status: 'open' }];
      },
      health: () => {
        reads.health++;
        return { time: time.now, ingest: { samplesStored: 0 }, pointsPerSecond: 0, connectedDevices: 0, activeAlarms: 0, unackAlarms: 0 };
      },
    },
    ...options,
  });
  const open = (topics: LiveTopic[], points: number[] = [], principal = 'token:a') => {
    const sink = new FakeSink();
    const stream = hub.open({ principal, topics, points, sink });
    return { sink, stream };
  };
  return { hub, reads, latest, open };
}

describe('EventHub', () => {
  it('starts every stream with hello naming its topics and points', () => {
    const { open } = hubOn(new FakeTime());
    const { sink } = open(['alarms', 'fleet'], [7, 3, 7]);
    expect(sink.events()[0]).toEqual(['hello', { topics: ['alarms', 'fleet'], points: [7, 3] }]);
  });

  it('sends alarm changes on the next turn, the newest state of each alarm, only to streams of the alarms topic', () => {
    const time = new FakeTime();
    const { hub, open } = hubOn(time);
    const a = open(['alarms']);
    const f = open(['fleet']);
    hub.alarmChanged(alarm(1, { state: 'unack-active' }));
    hub.alarmChanged(alarm(2));
    hub.alarmChanged(alarm(1, { state: 'ack-active', acknowledged: true }));
    expect(a.sink.named('alarm')).toEqual([]);
    time.advance(0);
    expect(a.sink.named('alarm')).toEqual([alarm(2), alarm(1, { state: 'ack-active', acknowledged: true })]);
    expect(f.sink.named('alarm')).toEqual([]);
  });

  it('coalesces latest values to one event per 500 ms with only the stream\'s own points', () => {
    const time = new FakeTime();
    const { hub, latest, open } = hubOn(time);
    const s = open([], [1, 2]);
    const other = open([], [3]);
    for (let i = 0; i < 10; i++) {
      latest.set(1, { ts: i, value: i, quality: 192 });
      hub.pointChanged(1);
    }
    latest.set(4, { ts: 1, value: 1, quality: 192 });
    hub.pointChanged(4); // nobody watches it
    time.advance(499);
    expect(s.sink.named('latest')).toEqual([]);
    time.advance(1);
    expect(s.sink.named('latest')).toEqual([{ points: [{ id: 1, ts: 9, value: 9, quality: 192 }] }]);
    expect(other.sink.named('latest')).toEqual([]);
    latest.set(2, { ts: 5, value: 20, quality: 64 });
    hub.pointChanged(2);
    latest.set(3, { ts: 5, value: 30, quality: 192 });
    hub.pointChanged(3);
    time.advance(500);
    expect(s.sink.named('latest')).toHaveLength(2);
    expect(s.sink.named('latest')[1]).toEqual({ points: [{ id: 2, ts: 5, value: 20, quality: 64 }] });
    expect(other.sink.named('latest')).toEqual([{ points: [{ id: 3, ts: 5, value: 30, quality: 192 }] }]);
  });

  it('reads the fleet and the recommendations at most once per 2 s, and not at all when nobody listens', () => {
    const time = new FakeTime();
    const { hub, reads, open } = hubOn(time);
    hub.fleetChanged();
    time.advance(5_000);
    expect(reads.fleet).toBe(0);
    const s = open(['fleet', 'recommendations']);
    for (let i = 0; i < 5; i++) {
      hub.fleetChanged();
      hub.recommendationsChanged();
    }
    time.advance(1_999);
    expect(reads.fleet).toBe(0);
    time.advance(1);
    expect(reads).toMatchObject({ fleet: 1, recommendations: 1 });
    expect(s.sink.named('fleet')).toEqual([{ devices: [{ deviceId: 'd1', state: 'claimed', n: 1 }] }]);
    expect(s.sink.named('recommendations')).toEqual([{ recommendations: [{ id: 1, status: 'open' }] }]);
  });

  it('sends health every 5 s to health streams and a ping comment every 15 s to all', () => {
    const time = new FakeTime();
    const { open } = hubOn(time);
    const h = open(['health']);
    const a = open(['alarms']);
    time.advance(15_000);
    expect(h.sink.named('health')).toHaveLength(3);
    expect(a.sink.named('health')).toHaveLength(0);
    expect(h.sink.named('comment')).toEqual(['ping']);
    expect(a.sink.named('comment')).toEqual(['ping']);
  });

  it('holds at most maxQueuedBytes of alarm events for a stream that stopped reading, then owes it a resync', () => {
    const time = new FakeTime();
    const { hub, latest, open } = hubOn(time, { maxQueuedBytes: 4_000 });
    const slow = open(['alarms', 'fleet'], [1]);
    const fast = open(['alarms']);
    slow.sink.takes = false;
    hub.alarmChanged(alarm(1));
    time.advance(0); // written, and the sink says "no more"
    for (let i = 2; i <= 200; i++) hub.alarmChanged(alarm(i, { description: 'x'.repeat(200) }));
    time.advance(0);
    const stats = hub.stats().streams.find((s) => s.owesResync)!;
    expect(stats.queuedBytes).toBeLessThanOrEqual(4_000);
    expect(stats.droppedAlarmEvents).toBeGreaterThan(150);
    expect(fast.sink.named('alarm')).toHaveLength(200);
    // Snapshots and latest values wait in one slot each.
    for (let i = 0; i < 3; i++) {
      hub.fleetChanged();
      time.advance(2_000);
      latest.set(1, { ts: i, value: i, quality: 192 });
      hub.pointChanged(1);
      time.advance(500);
    }
    expect(slow.sink.named('alarm')).toHaveLength(1);
    expect(slow.sink.named('fleet')).toHaveLength(0);

    slow.sink.takes = true;
    hub.alarmChanged(alarm(500));
    time.advance(0);
    expect(hub.stats().streams[0]!.queuedBytes).toBe(0); // dropped while the resync is owed
    slow.stream.drained();
    const names = slow.sink.events().map(([n]) => n);
    expect(names).toEqual(['hello', 'alarm', 'resync', 'fleet', 'latest']);
    expect(slow.sink.named('resync')[0]).toMatchObject({ refetch: ['alarms'] });
    expect(slow.sink.named('fleet')).toEqual([{ devices: [{ deviceId: 'd1', state: 'claimed', n: 3 }] }]);
    expect(slow.sink.named('latest')).toEqual([{ points: [{ id: 1, ts: 2, value: 2, quality: 192 }] }]);
    hub.alarmChanged(alarm(501));
    time.advance(0);
    expect(slow.sink.named('alarm').at(-1)).toEqual(alarm(501));
  });

  it('delivers the queued alarm events in order when a stream catches up before overflowing', () => {
    const time = new FakeTime();
    const { hub, open } = hubOn(time);
    const s = open(['alarms']);
    s.sink.takes = false;
    for (let i = 1; i <= 5; i++) {
      hub.alarmChanged(alarm(i));
      time.advance(0);
    }
    s.sink.takes = true;
    s.stream.drained();
    expect(s.sink.named('alarm').map((a) => (a as Alarm).id)).toEqual([1, 2, 3, 4, 5]);
    expect(s.sink.named('resync')).toEqual([]);
  });

  it('closes a stream that took nothing for stallTimeoutMs', () => {
    const time = new FakeTime();
    const { hub, open } = hubOn(time, { stallTimeoutMs: 30_000 });
    const s = open(['alarms']);
    s.sink.takes = false;
    hub.alarmChanged(alarm(1));
    time.advance(0);
    time.advance(29_000);
    expect(s.sink.closed).toBe(false);
    time.advance(16_000);
    expect(s.sink.closed).toBe(true);
    expect(hub.stats().streams).toHaveLength(0);
  });

  it('refuses a principal\'s 9th stream, and takes it again once one closes', () => {
    const { hub, open } = hubOn(new FakeTime());
    const streams = Array.from({ length: 8 }, () => open(['alarms']));
    expect(hub.hasRoom('token:a')).toBe(false);
    expect(() => open(['alarms'])).toThrow(LiveError);
    try {
      open(['alarms']);
    } catch (err) {
      expect((err as LiveError).code).toBe('too_many_streams');
    }
    expect(() => open(['alarms'], [], 'token:b')).not.toThrow();
    streams[0]!.stream.close();
    expect(hub.hasRoom('token:a')).toBe(true);
  });

  it('refuses more than 500 points', () => {
    const { open } = hubOn(new FakeTime());
    expect(() => open([], Array.from({ length: 501 }, (_, i) => i + 1))).toThrow(/at most 500 points/);
  });

  it('leaves no timer behind once the last stream closes, and close() ends every stream', () => {
    const time = new FakeTime();
    const { hub, open } = hubOn(time);
    const a = open(['alarms', 'fleet', 'health', 'recommendations'], [1]);
    const b = open(['health']);
    hub.alarmChanged(alarm(1));
    hub.pointChanged(1);
    hub.fleetChanged();
    hub.recommendationsChanged();
    expect(hub.stats().timers).toBeGreaterThan(0);
    a.stream.close();
    b.stream.close();
    a.stream.close(); // twice is harmless
    expect(hub.stats()).toEqual({ streams: [], timers: 0 });
    expect(time.pendingTimers()).toBe(0);
    const c = open(['health']);
    hub.close();
    expect(c.sink.closed).toBe(true);
    expect(hub.stats()).toEqual({ streams: [], timers: 0 });
    expect(() => open(['alarms'])).toThrow(/stopping/);
  });
});

describe('watchStoredSamples', () => {
  it('marks only watched points, looking each up by site, asset and point', () => {
    const time = new FakeTime();
    const { hub, open } = hubOn(time);
    const ids: Record<string, number> = { 'dc1/AHU-1/sat': 1, 'dc1/AHU-1/rat': 2 };
    const lookups: string[] = [];
    const feed = watchStoredSamples(hub, (site, asset, point) => {
      lookups.push(point);
      return ids[`${site}/${asset}/${point}`];
    });
    const batch = (points: string[]): IncomingBatch => ({
      deviceId: 'd', site: 'dc1', asset: 'AHU-1', epoch: '', seq: 1,
      samples: points.map((point, i) => ({ point, ts: i, value: i, quality: 192 })),
    });
    feed([batch(['sat', 'rat'])]);
    expect(lookups).toEqual([]); // nobody watches anything: not even looked up
    open([], [2]);
    const marked: number[] = [];
    const spy = { watchesAnyPoint: true, watches: (id: number) => hub.watches(id), pointChanged: (id: number) => marked.push(id) };
    watchStoredSamples(spy, (s, a, p) => ids[`${s}/${a}/${p}`])([batch(['sat', 'sat', 'rat', 'rat', 'x'])]);
    expect(marked).toEqual([2]);
  });
});

describe('liveHealth', () => {
  it('reports the stored-sample rate between snapshots and counts active and unacknowledged alarms', () => {
    let now = 1_000_000;
    let stored = 100;
    const health = liveHealth({
      ingest: () => ({ samplesStored: stored, messages: 3 }), connectedDevices: () => 2, now: () => now,
      alarms: () => [{ active: true, acknowledged: false }, { active: true, acknowledged: true }, { active: false, acknowledged: false }],
    });
    expect(health()).toEqual({
      time: 1_000_000, ingest: { samplesStored: 100, messages: 3 }, pointsPerSecond: 0, connectedDevices: 2, activeAlarms: 2, unackAlarms: 2,
    });
    now += 5_000;
    stored += 2_500;
    expect(health()).toMatchObject({ pointsPerSecond: 500 });
  });
});
