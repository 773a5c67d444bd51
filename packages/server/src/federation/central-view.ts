/**
 * The centre's view of every site (issue 12): its JetStream fleet stream sources each configured
 * site's export stream over the leaf node links (bus/federation.ts); this replica applies what
 * arrives to the central store (newest version wins), and answers the fleet questions from it —
 * every site's assets, alarms, devices and incidents, and fleet peers compared across all sites.
 */
import { errorMessage } from '@shellguard/protocol';
import type { Bus, BusSubscription } from '../bus/bus.ts';
import { rankPeers, type PeerOutlier } from '../analytics/peers/fleet-peers.ts';
import type { PointSnapshot } from '../analytics/live/live-analytics.ts';
import type { CentralRecord, CentralSiteSummary, CentralStore } from './central-store.ts';
import { decodeFleetRecord, fleetSubject, type FleetKind } from './fleet-record.ts';

export interface CentralViewOptions {
  bus: Pick<Bus, 'work'>;
  store: CentralStore;
  /** The sites the centre sources (shown even before they sent anything). */
  sites: readonly string[];
  now: () => number;
  onRefused?: (err: unknown, messageId: string) => void;
}

export interface CentralSite extends CentralSiteSummary {
  /** Alarms whose state is not normal (active or unacknowledged). */
  alarmsNotNormal: number;
}

export class CentralView {
  private subscription: BusSubscription | undefined;
  private applied = 0;
  private stale = 0;

  constructor(private readonly o: CentralViewOptions) {}

  /** Starts applying what the sites send. */
  async start(): Promise<void> {
    this.subscription = await this.o.bus.work('central-view', ['fleet.>'], async (m) => {
      let record;
      try {
        record = decodeFleetRecord(m.payload);
      } catch (err) {
        // Malformed: never applied; recorded by the bus as a dead letter after its tries.
        this.o.onRefused?.(err, m.id);
        throw err;
      }
      if (m.subject !== fleetSubject(record.site, record.kind)) {
        const err = new Error(`a fleet record of ${record.kind} for site ${record.site} arrived on ${m.subject}: refused (a site speaks only for itself, each kind on its subject)`);
        this.o.onRefused?.(err, m.id);
        throw err;
      }
      if (await this.o.store.apply(record, this.o.now())) this.applied++;
      else this.stale++;
    });
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
    this.subscription = undefined;
  }

  stats(): { applied: number; stale: number } {
    return { applied: this.applied, stale: this.stale };
  }

  /** Every configured site (and any other that sent records), with what the centre holds of it. */
  async sites(): Promise<CentralSite[]> {
    const summaries = new Map((await this.o.store.sites()).map((s) => [s.site, s]));
    for (const site of this.o.sites) if (!summaries.has(site)) summaries.set(site, { site, lastReceivedAt: null, counts: {} });
    const alarms = await this.o.store.records('alarms');
    return [...summaries.values()].sort((a, b) => a.site.localeCompare(b.site)).map((s) => ({
      ...s,
      alarmsNotNormal: alarms.filter((a) => a.site === s.site && a.body.state !== 'normal').length,
    }));
  }

  records(kind: FleetKind, site?: string): Promise<CentralRecord[]> {
    return this.o.store.records(kind, site);
  }

  /**
   * Assets of `profile` across every site ranked by how far they are from their peers, from the
   * points' recent levels the sites export (their hour mean of minute means).
   */
  async peers(profile: string): Promise<PeerOutlier[]> {
    const points = await this.o.store.records('points');
    const levels = new Map<string, number>();
    const profiles = new Map<string, string>();
    const snapshot: PointSnapshot[] = [];
    for (const p of points) {
      // A fleet site's own sites (Sparkplug groups) may share names with another's: keep them apart.
      const site = `${p.site}/${String(p.body.site)}`;
      const asset = String(p.body.asset);
      const point = String(p.body.point);
      if (typeof p.body.recentMean !== 'number') continue;
      levels.set(`${site}\0${asset}\0${point}`, p.body.recentMean);
      if (typeof p.body.profile === 'string') profiles.set(`${site}\0${asset}`, p.body.profile);
      snapshot.push({ site, asset, point, score: 0, scoring: false, baselineLearned: false, lastMinuteTs: null, baselineMean: null, baselineStd: null });
    }
    try {
      return rankPeers({
        points: () => snapshot,
        recentMean: (s, a, pt) => levels.get(`${s}\0${a}\0${pt}`),
        profileOf: (s, a) => profiles.get(`${s}\0${a}`),
      }, profile);
    } catch (err) {
      throw new Error(`could not compare peers across sites: ${errorMessage(err)}`);
    }
  }
}
