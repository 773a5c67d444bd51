/**
 * A site's side of the fleet (issue 12): every few seconds it reads the current state of what is
 * configured to flow (assets, alarms, devices, incidents, points' recent levels), and publishes to
 * the site's export stream each record that changed since it last did, and a removal for each one
 * that is gone. The export stream is the site's own JetStream: with the link to the centre down the
 * site keeps exporting into it, and the centre catches up from it when the link is back.
 *
 * After a restart it sends everything once (the centre keeps the newest version of each; the bus
 * drops copies sent within its de-duplication window).
 */
import { errorMessage, type Clock, type TimerHandle } from '@shellguard/protocol';
import type { Bus } from '../bus/bus.ts';
import { encodeFleetRecord, fleetRecordId, fleetSubject, type FleetKind, type FleetRecord } from './fleet-record.ts';

/** One kind's current records, keyed within the kind (only their key and body). */
export type FleetSource = () => Promise<readonly { key: string; body: Record<string, unknown> }[]>;

export interface SiteExporterOptions {
  bus: Pick<Bus, 'publish'>;
  /** This site's id in the fleet. */
  site: string;
  /** What flows, and where each kind's state comes from; a kind not listed stays at the site. */
  sources: Partial<Record<FleetKind, FleetSource>>;
  clock: Clock;
  /** How often state is compared and changes sent (default 5 s). */
  intervalMs?: number;
  onError?: (err: unknown, kind: FleetKind) => void;
}

export interface SiteExporterStats {
  published: number;
  removed: number;
  failures: number;
  lastRunAt: number | null;
}

export class SiteExporter {
  private readonly sent = new Map<FleetKind, Map<string, string>>();
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private started = false;
  private readonly stats_: SiteExporterStats = { published: 0, removed: 0, failures: 0, lastRunAt: null };

  constructor(private readonly o: SiteExporterOptions) {}

  /** Exports now, then every `intervalMs` until `stop()`. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const loop = () => {
      this.running = this.exportOnce().finally(() => {
        this.running = undefined;
        if (this.started) this.timer = this.o.clock.setTimeout(loop, this.o.intervalMs ?? 5_000).unref();
      });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.started = false;
    this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  stats(): SiteExporterStats {
    return { ...this.stats_ };
  }

  /** One comparison and export of every kind; never rejects (failures are reported and retried). */
  async exportOnce(): Promise<void> {
    const version = this.o.clock.now();
    for (const [kind, source] of Object.entries(this.o.sources) as [FleetKind, FleetSource][]) {
      try {
        await this.exportKind(kind, source, version);
      } catch (err) {
        this.stats_.failures++;
        this.o.onError?.(err, kind);
      }
    }
    this.stats_.lastRunAt = version;
  }

  private async exportKind(kind: FleetKind, source: FleetSource, version: number): Promise<void> {
    const sent = this.sent.get(kind) ?? new Map<string, string>();
    this.sent.set(kind, sent);
    const current = new Map<string, { body: Record<string, unknown>; json: string }>();
    for (const r of await source()) current.set(r.key, { body: r.body, json: JSON.stringify(r.body) });
    for (const [key, { body, json }] of current) {
      if (sent.get(key) === json) continue;
      await this.publish({ site: this.o.site, kind, key, version, body });
      // Remembered only once stored: a failed publish is tried again on the next run.
      sent.set(key, json);
      this.stats_.published++;
    }
    for (const key of [...sent.keys()]) {
      if (current.has(key)) continue;
      await this.publish({ site: this.o.site, kind, key, version, removed: true });
      sent.delete(key);
      this.stats_.removed++;
    }
  }

  private async publish(record: FleetRecord): Promise<void> {
    try {
      await this.o.bus.publish(fleetSubject(record.site, record.kind), encodeFleetRecord(record), { id: fleetRecordId(record) });
    } catch (err) {
      throw new Error(`could not export ${record.kind} ${record.key} to the site's bus: ${errorMessage(err)}`);
    }
  }
}
