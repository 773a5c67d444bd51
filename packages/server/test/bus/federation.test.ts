/**
 * Issue 12, "many sites, one fleet": two site nats-servers as leaf nodes of a central one. The
 * centre's fleet stream sources what each site lets flow; a site works on through a cut link or a
 * crashed centre and the centre catches up, every message once and in site order; nothing that
 * stays at a site ever reaches the centre.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BusMessage } from '../../src/bus/bus.ts';
import { CENTRAL_DOMAIN, centralFleetStream, siteBusOptions, siteDomain, siteLeafRemote, type SiteBusLayout } from '../../src/bus/federation.ts';
import { JetStreamBus } from '../../src/bus/jetstream-bus.ts';
import { NatsServerProcess } from '../../src/bus/nats-server-process.ts';
import { TcpLink } from '../../src/bus/testing/tcp-link.ts';
import { bytes, eventually, text } from './support/eventually.ts';
import { readStream, storedMessages, streamSources } from './support/stream-state.ts';

const SITES = ['a', 'b'] as const;
type SiteId = (typeof SITES)[number];

function layoutOf(site: SiteId): SiteBusLayout {
  return { site, localSubjects: ['local.>'], flowSubjects: [`fleet.${site}.alarm.>`, `fleet.${site}.health.>`] };
}

interface Site {
  readonly id: SiteId;
  readonly server: NatsServerProcess;
  readonly link: TcpLink;
  readonly bus: JetStreamBus;
  /** Flow messages published (n per site, in order). */
  flowed: number;
  local: number;
  readonly handledLocally: string[];
}

describe('site-to-centre federation over leaf nodes', () => {
  let hub: NatsServerProcess;
  let centre: JetStreamBus;
  const sites = new Map<SiteId, Site>();
  const atCentre: BusMessage[] = [];
  let spy: NatsConnection;
  const seenOnHubWire: string[] = [];

  beforeAll(async () => {
    hub = await NatsServerProcess.start({ name: 'centre', domain: CENTRAL_DOMAIN, acceptLeafNodes: true });
    for (const id of SITES) {
      const layout = layoutOf(id);
      const link = await TcpLink.open(hub.leafPort as number);
      const server = await NatsServerProcess.start({ name: `site-${id}`, domain: siteDomain(id), leafRemotes: [{ ...siteLeafRemote(layout, link.leafUrl) }] });
      const bus = await JetStreamBus.connect({ servers: server.url, connectionName: `site-${id}`, ...siteBusOptions(layout) });
      const site: Site = { id, server, link, bus, flowed: 0, local: 0, handledLocally: [] };
      // The site's own consumers run on both its streams, link or no link.
      await bus.work('site-alarms', ['local.>', `fleet.${id}.alarm.>`], async (m) => { site.handledLocally.push(m.id); });
      sites.set(id, site);
    }
    await hub.waitForLeafConnections(2);
    centre = await JetStreamBus.connect({
      servers: hub.url, connectionName: 'centre',
      streams: [centralFleetStream({ sites: SITES.map((id) => ({ site: id, flowSubjects: layoutOf(id).flowSubjects ?? [] })) })],
    });
    await centre.work('fleet-view', ['fleet.>'], async (m) => { atCentre.push(m); }, { ordered: true });
    // Everything that crosses to the hub as plain NATS traffic, seen by a client of the hub.
    spy = await connect({ servers: hub.url });
    spy.subscribe('>', { callback: (_err, m) => { seenOnHubWire.push(`${m.subject} ${text(m.data)}`); } });
  });
  afterAll(async () => {
    await spy?.close();
    await centre?.close();
    for (const site of sites.values()) {
      await site.bus.close();
      await site.server.destroy();
      await site.link.close();
    }
    await hub?.destroy();
  });

  async function publishAtSite(site: Site, flow: number, local: number): Promise<void> {
    for (let i = 0; i < Math.max(flow, local); i++) {
      if (i < flow) {
        const n = site.flowed++;
        const kind = n % 2 === 0 ? 'alarm' : 'health';
        // Ids are per site: both sites use the same ones, and both arrive (scoped by site).
        await site.bus.publish(`fleet.${site.id}.${kind}.ahu-${n % 3}`, bytes(`${site.id}:${n}`), { id: `flow-${n}` });
      }
      if (i < local) {
        const n = site.local++;
        await site.bus.publish(`local.telemetry.pdu-${n % 4}`, bytes(`secret ${site.id}:${n}`), { id: `local-${n}` });
      }
    }
  }

  /**
   * The fleet stream holds every flowed message once, each site's in its order; and the centre's
   * consumer, idempotent by id (it may see a message again after the hub crashes), has them all.
   */
  async function expectCentreHasEverythingOnceInSiteOrder(): Promise<void> {
    const stored = await readStream(hub.url, 'SG_FLEET');
    const firstSeen = new Map(atCentre.map((m) => [m.id, m]));
    for (const site of sites.values()) {
      const expectedIds = Array.from({ length: site.flowed }, (_, n) => `${site.id}:flow-${n}`);
      const fromSite = stored.filter((m) => m.subject.startsWith(`fleet.${site.id}.`));
      expect(fromSite.map((m) => m.id)).toEqual(expectedIds);
      expect(fromSite.map((m) => m.payload)).toEqual(expectedIds.map((_, n) => `${site.id}:${n}`));
      expect([...firstSeen.keys()].filter((id) => id.startsWith(`${site.id}:`))).toEqual(expectedIds);
    }
    expect(stored).toHaveLength([...sites.values()].reduce((sum, s) => sum + s.flowed, 0));
  }

  it('brings what a site lets flow to the centre while the link is up', async () => {
    await Promise.all([...sites.values()].map((s) => publishAtSite(s, 20, 20)));
    await eventually(expectCentreHasEverythingOnceInSiteOrder, 60_000, 100);
  });

  it('keeps a site working while its link is cut, and catches the centre up once when it is back', async () => {
    for (const site of sites.values()) site.link.cut();
    await hub.waitForLeafConnections(0);
    await Promise.all([...sites.values()].map((s) => publishAtSite(s, 30, 30)));
    // Locally, nothing waits for the centre.
    for (const site of sites.values()) {
      const localAlarms = Math.ceil(site.flowed / 2);
      await eventually(() => expect(new Set(site.handledLocally).size).toBe(site.local + localAlarms));
    }
    expect(new Set(atCentre.map((m) => m.id)).size).toBe(40);
    for (const site of sites.values()) site.link.restore();
    await hub.waitForLeafConnections(2);
    await eventually(expectCentreHasEverythingOnceInSiteOrder, 90_000, 200);
  }, 120_000);

  it('catches up after the centre itself crashes (kill -9) and restarts, without a duplicate', async () => {
    await hub.kill();
    await Promise.all([...sites.values()].map((s) => publishAtSite(s, 15, 5)));
    await hub.restart();
    await hub.waitForLeafConnections(2);
    await eventually(expectCentreHasEverythingOnceInSiteOrder, 90_000, 200);
    const sources = await streamSources(hub.url, 'SG_FLEET');
    expect(sources.map((s) => s.lag)).toEqual([0, 0]);
  }, 120_000);

  it('never lets a local subject reach the centre, nor the centre read or write a site stream', { timeout: 60_000 }, async () => {
    // The fleet stream holds flowing subjects only, and the hub never saw a local message go by.
    expect(atCentre.every((m) => m.subject.startsWith('fleet.'))).toBe(true);
    expect(seenOnHubWire.filter((line) => line.startsWith('local.') || line.includes('secret'))).toEqual([]);
    // (The spy was listening all along: it saw the sourced flow of the last round go by.)
    expect(seenOnHubWire.some((line) => line.startsWith('fleet.a.') && line.endsWith(`a:${(sites.get('a') as Site).flowed - 1}`))).toBe(true);
    // The centre cannot use a site's JetStream: not read its local stream, not create a stream
    // that copies it, not even look at the export stream — it reaches a site only through the
    // fleet stream's sources (whose lag it sees in the fleet stream's info).
    const nc = await connect({ servers: hub.url });
    const siteApi = await jetstreamManager(nc, { domain: siteDomain('a'), checkAPI: false, timeout: 2_000 });
    await expect(siteApi.streams.info('SG_BUS')).rejects.toThrow();
    await expect(siteApi.streams.getMessage('SG_BUS', { seq: 1 })).rejects.toThrow();
    await expect(siteApi.streams.add({ name: 'COPY', sources: [{ name: 'SG_BUS' }] })).rejects.toThrow();
    await expect(siteApi.streams.info('SG_EXPORT')).rejects.toThrow();
    // Nor can it inject: a message the centre publishes on a site subject lands in no site stream.
    nc.publish('local.telemetry.pdu-0', bytes('from the centre'));
    nc.publish('fleet.a.alarm.ahu-0', bytes('from the centre'));
    await nc.flush();
    await nc.close();
    const a = sites.get('a') as Site;
    const probe = await JetStreamBus.connect({ servers: a.server.url, ...siteBusOptions(layoutOf('a')) });
    await probe.publish('local.marker', bytes('marker'), { id: 'marker' });
    await probe.close();
    expect(await storedMessages(a.server.url, 'SG_BUS')).toBe(a.local + 1);
    expect(await storedMessages(a.server.url, 'SG_EXPORT')).toBe(a.flowed);
  });
});
