/**
 * A site's side of the fleet (site-exporter.ts), on fake time and a fake bus: each run sends what
 * changed since the last one, a removal for what is gone, retries what the bus refused, and reads
 * only the kinds configured to flow.
 */
import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '@shellguard/protocol/testing';
import type { PublishOptions, PublishReceipt } from '../../src/bus/bus.ts';
import { decodeFleetRecord, fleetRecordId, type FleetKind, type FleetRecord } from '../../src/federation/fleet-record.ts';
import { SiteExporter, type FleetSource, type SiteExporterOptions } from '../../src/federation/site-exporter.ts';

const T0 = 1_750_000_000_000;
const SITE = 'site-a';

interface Published { subject: string; id: string; record: FleetRecord }

/** The bus as the exporter sees it: only `publish`; what it stored, and a switch to refuse. */
class FakeBus {
  readonly published: Published[] = [];
  /** Refuses the publishes for which this returns true. */
  refuse: (subject: string, record: FleetRecord) => boolean = () => false;
  attempts = 0;

  readonly publish = async (subject: string, payload: Uint8Array, options: PublishOptions): Promise<PublishReceipt> => {
    this.attempts++;
    const record = decodeFleetRecord(payload);
    if (this.refuse(subject, record)) throw new Error('nats: timeout');
    this.published.push({ subject, id: options.id, record });
    return { duplicate: false };
  };

  /** What was stored since the last call. */
  take(): Published[] {
    return this.published.splice(0);
  }
}

type Rows = { key: string; body: Record<string, unknown> }[];

/** A source whose rows the test sets. */
function table(rows: Rows = []): { rows: Rows; source: FleetSource & ReturnType<typeof vi.fn> } {
  const t = { rows, source: undefined as unknown as FleetSource & ReturnType<typeof vi.fn> };
  t.source = vi.fn(async () => t.rows.map((r) => ({ key: r.key, body: structuredClone(r.body) })));
  return t;
}

function exporter(bus: FakeBus, clock: ManualClock, sources: Partial<Record<FleetKind, FleetSource>>, extra: Partial<SiteExporterOptions> = {}): SiteExporter {
  return new SiteExporter({ bus, site: SITE, sources, clock, ...extra });
}

/** Lets the promises a started run made settle (no real time is waited for). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

const keys = (ps: Published[]): string[] => ps.map((p) => `${p.record.kind}/${p.record.key}${p.record.removed ? ' removed' : ''}`).sort();

describe('SiteExporter.exportOnce', () => {
  it('sends every record on its first run, on fleet.<site>.<kind>, versioned by the clock and with its content id', async () => {
    const clock = new ManualClock(T0);
    const bus = new FakeBus();
    const assets = table([{ key: 'dc1/AHU-1', body: { profile: 'ahu' } }, { key: 'dc1/AHU-2', body: { profile: 'ahu' } }]);
    const alarms = table([{ key: 'dc1/AHU-1/sat/h', body: { state: 'unack-active' } }]);
    const e = exporter(bus, clock, { assets: assets.source, alarms: alarms.source });

    await e.exportOnce();

    const sent = bus.take();
    expect(keys(sent)).toEqual(['alarms/dc1/AHU-1/sat/h', 'assets/dc1/AHU-1', 'assets/dc1/AHU-2']);
    for (const p of sent) {
      expect(p.subject).toBe(`fleet.${SITE}.${p.record.kind}`);
      expect(p.record.site).toBe(SITE);
      expect(p.record.version).toBe(T0);
      expect(p.id).toBe(fleetRecordId(p.record));
    }
    expect(sent.find((p) => p.record.key === 'dc1/AHU-1/sat/h')?.record.body).toEqual({ state: 'unack-active' });
    expect(e.stats()).toEqual({ published: 3, removed: 0, failures: 0, lastRunAt: T0 });
  });

  it('sends nothing when nothing changed', async () => {
    const clock = new ManualClock(T0);
    const bus = new FakeBus();
    const assets = table([{ key: 'a', body: { n: 1, nested: { x: [1, 2] } } }, { key: 'b', body: { n: 2 } }]);
    const e = exporter(bus, clock, { assets: assets.source });
    await e.exportOnce();
    bus.take();

    clock.advance(5_000);
    await e.exportOnce();
    clock.advance(5_000);
    await e.exportOnce();

    expect(bus.take()).toEqual([]);
    expect(e.stats()).toMatchObject({ published: 2, removed: 0, failures: 0, lastRunAt: T0 + 10_000 });
  });

  it('sends a changed body once, with the version of the run that saw it', async () => {
    const clock = new ManualClock(T0);
    const bus = new FakeBus();
    const alarms = table([{ key: 'x', body: { state: 'normal' } }, { key: 'y', body: { state: 'normal' } }]);
    const e = exporter(bus, clock, { alarms: alarms.source });
    await e.exportOnce();
    bus.take();

    alarms.rows[0] = { key: 'x', body: { state: 'unack-active' } };
    clock.advance(5_000);
    await e.exportOnce();
    clock.advance(5_000);
    await e.exportOnce();

    const sent = bus.take();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.record).toEqual({ site: SITE, kind: 'alarms', key: 'x', version: T0 + 5_000, body: { state: 'unack-active' } });
    expect(e.stats().published).toBe(3);
  });

  it('sends one removal for a key that is gone, and never again', async () => {
    const clock = new ManualClock(T0);
    const bus = new FakeBus();
    const devices = table([{ key: 'dev-1', body: { state: 'online' } }, { key: 'dev-2', body: { state: 'online' } }]);
    const e = exporter(bus, clock, { devices: devices.source });
    await e.exportOnce();
    bus.take();

    devices.rows.splice(0, 1);
    clock.advance(5_000);
    await e.exportOnce();
    clock.advance(5_000);
    await e.exportOnce();

    const sent = bus.take();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.subject).toBe(`fleet.${SITE}.devices`);
    expect(sent[0]!.record).toEqual({ site: SITE, kind: 'devices', key: 'dev-1', version: T0 + 5_000, removed: true });
    expect(sent[0]!.id).toBe(fleetRecordId(sent[0]!.record));
    expect(e.stats()).toMatchObject({ published: 2, removed: 1 });
  });

  it('sends a key that comes back after its removal as a record again', async () => {
    const clock = new ManualClock(T0);
    const bus = new FakeBus();
    const assets = table([{ key: 'a', body: { n: 1 } }]);
    const e = exporter(bus, clock, { assets: assets.source });
    await e.exportOnce();
    assets.rows = [];
    clock.advance(5_000);
    await e.exportOnce();
    assets.rows = [{ key: 'a', body: { n: 1 } }];
    clock.advance(5_000);
    await e.exportOnce();

    expect(bus.take().map((p) => [p.record.version, p.record.removed ?? false])).toEqual([[T0, false], [T0 + 5_000, true], [T0 + 10_000, false]]);
  });

  it('retries a publish the bus refused on the next run, counting the failure and losing nothing else', async () => {
    const clock = new ManualClock(T0);
    const bus = new FakeBus();
    const onError = vi.fn();
    const assets = table([{ key: 'a', body: { n: 1 } }, { key: 'b', body: { n: 2 } }, { key: 'c', body: { n: 3 } }]);
    const alarms = table([{ key: 'x', body: { state: 'normal' } }]);
    const e = exporter(bus, clock, { assets: assets.source, alarms: alarms.source }, { onError });

    // The bus is down for b's publish on the first run only.
    bus.refuse = (_subject, r) => r.key === 'b';
    await e.exportOnce();
    expect(e.stats().failures).toBe(1);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]![1]).toBe('assets');
    expect((onError.mock.calls[0]![0] as Error).message).toMatch(/could not export assets b to the site's bus: nats: timeout/);
    // Another kind is exported all the same.
    expect(keys(bus.published)).toContain('alarms/x');

    bus.refuse = () => false;
    clock.advance(5_000);
    await e.exportOnce();
    clock.advance(5_000);
    await e.exportOnce();

    // Every record stored once, b (and what came after it in its kind) on the retry.
    const sent = bus.take();
    expect(keys(sent)).toEqual(['alarms/x', 'assets/a', 'assets/b', 'assets/c']);
    expect(sent.find((p) => p.record.key === 'b')!.record.version).toBe(T0 + 5_000);
    expect(e.stats()).toMatchObject({ published: 4, removed: 0, failures: 1 });
  });

  it('retries a removal the bus refused', async () => {
    const clock = new ManualClock(T0);
    const bus = new FakeBus();
    const assets = table([{ key: 'a', body: { n: 1 } }]);
    const e = exporter(bus, clock, { assets: assets.source });
    await e.exportOnce();
    bus.take();

    assets.rows = [];
    bus.refuse = () => true;
    clock.advance(5_000);
    await e.exportOnce();
    expect(e.stats()).toMatchObject({ removed: 0, failures: 1 });

    bus.refuse = () => false;
    clock.advance(5_000);
    await e.exportOnce();
    clock.advance(5_000);
    await e.exportOnce();

    const sent = bus.take();
    expect(sent.map((p) => p.record)).toEqual([{ site: SITE, kind: 'assets', key: 'a', version: T0 + 10_000, removed: true }]);
    expect(e.stats()).toMatchObject({ removed: 1, failures: 1 });
  });

  it('counts a source that fails, and still exports the other kinds', async () => {
    const clock = new ManualClock(T0);
    const bus = new FakeBus();
    const onError = vi.fn();
    const alarms = table([{ key: 'x', body: { state: 'normal' } }]);
    const e = exporter(bus, clock, { assets: async () => { throw new Error('registry unavailable'); }, alarms: alarms.source }, { onError });

    await e.exportOnce();

    expect(keys(bus.take())).toEqual(['alarms/x']);
    expect(e.stats()).toMatchObject({ published: 1, failures: 1, lastRunAt: T0 });
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: 'registry unavailable' }), 'assets');
  });

  it('reads only the kinds given in sources', async () => {
    const clock = new ManualClock(T0);
    const bus = new FakeBus();
    const all = {
      assets: table([{ key: 'a', body: {} }]), alarms: table([{ key: 'x', body: {} }]), devices: table([{ key: 'd', body: {} }]),
      incidents: table([{ key: '1', body: {} }]), points: table([{ key: 'p', body: {} }]),
    };
    const flow: FleetKind[] = ['assets', 'alarms'];
    const e = exporter(bus, clock, Object.fromEntries(flow.map((k) => [k, all[k].source])));

    await e.exportOnce();

    expect(all.assets.source).toHaveBeenCalledTimes(1);
    expect(all.alarms.source).toHaveBeenCalledTimes(1);
    for (const k of ['devices', 'incidents', 'points'] as const) expect(all[k].source).not.toHaveBeenCalled();
    expect(new Set(bus.take().map((p) => p.subject))).toEqual(new Set([`fleet.${SITE}.assets`, `fleet.${SITE}.alarms`]));
  });
});

describe('SiteExporter.start / stop', () => {
  it('exports at once, then every intervalMs on the clock', async () => {
    const clock = new ManualClock(T0);
    const bus = new FakeBus();
    const assets = table([{ key: 'a', body: { n: 0 } }]);
    const e = exporter(bus, clock, { assets: assets.source }, { intervalMs: 2_000 });

    e.start();
    await settle();
    expect(e.stats().lastRunAt).toBe(T0);
    expect(assets.source).toHaveBeenCalledTimes(1);

    assets.rows[0] = { key: 'a', body: { n: 1 } };
    await clock.advanceAsync(1_999);
    expect(assets.source).toHaveBeenCalledTimes(1);
    await clock.advanceAsync(1);
    expect(assets.source).toHaveBeenCalledTimes(2);
    await clock.advanceAsync(2_000);
    expect(assets.source).toHaveBeenCalledTimes(3);
    expect(e.stats().lastRunAt).toBe(T0 + 4_000);
    expect(bus.take().map((p) => [p.record.version, p.record.body])).toEqual([[T0, { n: 0 }], [T0 + 2_000, { n: 1 }]]);

    await e.stop();
    expect(clock.dueTimes()).toEqual([]);
    await clock.advanceAsync(10_000);
    expect(assets.source).toHaveBeenCalledTimes(3);
  });

  it('waits 5 s between runs by default, and its timer does not hold the process open', async () => {
    const clock = new ManualClock(T0);
    const bus = new FakeBus();
    const assets = table([]);
    const e = exporter(bus, clock, { assets: assets.source });
    e.start();
    await settle();
    expect(clock.dueTimes()).toEqual([T0 + 5_000]);
    expect(clock.refedTimers()).toBe(0);
    await clock.advanceAsync(5_000);
    expect(assets.source).toHaveBeenCalledTimes(2);
    await e.stop();
  });

  it('starts once, however often start() is called', async () => {
    const clock = new ManualClock(T0);
    const bus = new FakeBus();
    const assets = table([]);
    const e = exporter(bus, clock, { assets: assets.source });
    e.start();
    e.start();
    await settle();
    expect(clock.dueTimes()).toHaveLength(1);
    expect(assets.source).toHaveBeenCalledTimes(1);
    await e.stop();
  });

  it('stop() waits for a run in progress, and nothing runs after it', async () => {
    const clock = new ManualClock(T0);
    const bus = new FakeBus();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const source = vi.fn(async () => {
      await gate;
      return [{ key: 'a', body: { n: 1 } }];
    });
    const e = exporter(bus, clock, { assets: source });

    e.start();
    await settle();
    expect(source).toHaveBeenCalledTimes(1);
    let stopped = false;
    const stopping = e.stop().then(() => { stopped = true; });
    await settle();
    expect(stopped).toBe(false);

    release();
    await stopping;
    // The run in progress finished its work before stop() resolved.
    expect(bus.take().map((p) => p.record.key)).toEqual(['a']);
    expect(e.stats().lastRunAt).toBe(T0);
    expect(clock.dueTimes()).toEqual([]);
    await clock.advanceAsync(60_000);
    expect(source).toHaveBeenCalledTimes(1);
  });

  it('can be started again after stop()', async () => {
    const clock = new ManualClock(T0);
    const bus = new FakeBus();
    const assets = table([{ key: 'a', body: { n: 1 } }]);
    const e = exporter(bus, clock, { assets: assets.source });
    e.start();
    await settle();
    expect(e.stats().lastRunAt).toBe(T0);
    await e.stop();
    expect(bus.take().map((p) => p.record.key)).toEqual(['a']);

    clock.advance(30_000);
    assets.rows.push({ key: 'b', body: { n: 2 } });
    e.start();
    await settle();
    expect(e.stats().lastRunAt).toBe(T0 + 30_000);
    // It remembers what it sent: only the new record goes.
    expect(bus.take().map((p) => p.record.key)).toEqual(['b']);
    expect(clock.dueTimes()).toEqual([T0 + 35_000]);
    await e.stop();
  });
});
