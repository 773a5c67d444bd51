/**
 * Many sites, one fleet (issue 12), with the whole product: two site servers, each with its own
 * nats-server linked to the centre's as a leaf node (through a cuttable TCP link), and a central
 * server whose fleet stream sources both sites' exports. Each site has a real, attested device
 * sending its UPS's on-battery state.
 *
 * Proved here, read through the central server's HTTPS API:
 * - the centre shows both sites' assets, alarms, devices and incidents;
 * - a site exports only what its `federation.flow` lists (site b keeps its devices and incidents);
 * - with its link cut, a site keeps working (its alarm clears, a new asset is born) while the
 *   centre still shows what it knew; once the link is back the centre catches up;
 * - a record a site sends about another site is refused at the centre.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Quality, encodeDeviceBirth, encodeDeviceData, sparkplugTopic } from '@shellguard/protocol';
import {
  CENTRAL_DOMAIN, JetStreamBus, encodeFleetRecord, fleetRecordId, fleetSubject, siteBusOptions, siteDomain, siteFederationLayout, siteLeafRemote,
  type FleetKind,
} from '@shellguard/server';
import { NatsServerProcess, TcpLink } from '@shellguard/server/testing';
import { SITE, startTestSite, type TestSite } from '../support/enrolled-device.ts';
import { firstGuardian, mosquittoPublish, type SiteGuardian } from '../support/site-guardians.ts';
import { waitFor } from '../system/support/wait-for.ts';

const FLEET_SITES = ['a', 'b'] as const;
type FleetSiteId = (typeof FLEET_SITES)[number];
const FLOW: Record<FleetSiteId, FleetKind[]> = { a: ['assets', 'alarms', 'devices', 'incidents', 'points'], b: ['assets', 'alarms'] };

interface FleetSite { id: FleetSiteId; nats: NatsServerProcess; link: TcpLink; site: TestSite; guardian: SiteGuardian }
interface CentralRecord { site: string; key: string; version: number; body: Record<string, unknown> }
interface CentralSite { site: string; lastReceivedAt: number | null; counts: Partial<Record<FleetKind, number>>; alarmsNotNormal: number }

describe('two sites feeding one centre', () => {
  let hub: NatsServerProcess;
  let centre: TestSite;
  const sites = new Map<FleetSiteId, FleetSite>();
  let seq = 0;

  const centralGet = async <T>(pathname: string): Promise<T> => {
    const r = await centre.get(`/api/v1${pathname}`);
    if (r.status !== 200) throw new Error(`GET ${pathname}: ${r.status} ${r.text}`);
    return JSON.parse(r.text) as T;
  };
  const centralRecords = async (kind: FleetKind, site?: string) =>
    (await centralGet<{ records: CentralRecord[] }>(`/central/records/${kind}${site ? `?site=${site}` : ''}`)).records;
  const upsAlarm = async (site: FleetSiteId) => (await centralRecords('alarms', site)).find((r) => r.body.ruleId === 'ups-on-battery');
  const birth = (s: FleetSite, asset: string, type: string, profile: string, point: string) => mosquittoPublish(s.site, s.guardian,
    sparkplugTopic({ group: SITE, type: 'DBIRTH', edge: s.guardian.deviceId, device: asset }),
    encodeDeviceBirth({ name: asset, type, area: 'hall-1', profile, points: [{ name: point, unit: '', kind: 'binary', description: point }] }, { sparkplugSeq: 0, now: Date.now() }));
  const onBattery = (s: FleetSite, value: boolean) => {
    seq += 1;
    return mosquittoPublish(s.site, s.guardian, sparkplugTopic({ group: SITE, type: 'DDATA', edge: s.guardian.deviceId, device: 'UPS-01' }),
      encodeDeviceData({ epoch: `fed-${s.id}`, seq }, [{ point: 'on_battery', ts: Date.now(), value, quality: Quality.good }], { sparkplugSeq: seq % 256, now: Date.now() }));
  };
  const siteAlarmState = async (s: FleetSite) => {
    const list = JSON.parse((await s.site.get(`/api/v1/alarms?site=${SITE}`)).text) as { alarms: { ruleId: string; state: string }[] };
    return list.alarms.find((a) => a.ruleId === 'ups-on-battery')?.state;
  };

  beforeAll(async () => {
    hub = await NatsServerProcess.start({ name: 'fleet-centre', domain: CENTRAL_DOMAIN, acceptLeafNodes: true });
    for (const id of FLEET_SITES) {
      const link = await TcpLink.open(hub.leafPort as number);
      const nats = await NatsServerProcess.start({ name: `fleet-site-${id}`, domain: siteDomain(id), leafRemotes: [{ ...siteLeafRemote(siteFederationLayout(id), link.leafUrl) }] });
      const site = await startTestSite(`sg-fleet-${id}-`, { config: { federation: { role: 'site', site: id, url: nats.url, flow: FLOW[id], intervalMs: 300 } } });
      sites.set(id, { id, nats, link, site, guardian: firstGuardian(site) });
    }
    await hub.waitForLeafConnections(2);
    centre = await startTestSite('sg-fleet-centre-', { config: { federation: { role: 'central', url: hub.url, sites: [...FLEET_SITES] } } });
    for (const s of sites.values()) {
      expect((await birth(s, 'UPS-01', 'ups', 'ups-generic', 'on_battery')).code).toBe(0);
      expect((await onBattery(s, true)).code).toBe(0);
    }
  }, 120_000);

  afterAll(async () => {
    await centre?.close();
    for (const s of sites.values()) {
      await s.site.close();
      await s.nats.destroy();
      await s.link.close();
    }
    await hub?.destroy();
  });

  it('shows every site\'s assets, alarms and devices at the centre', async () => {
    await waitFor('both sites\' on-battery alarms reach the centre', async () => (await upsAlarm('a'))?.body.state === 'unack-active'
      && (await upsAlarm('b'))?.body.state === 'unack-active', { timeoutMs: 60_000 });
    const assets = await centralRecords('assets');
    expect(assets.map((r) => `${r.site}:${r.key}`)).toEqual(expect.arrayContaining([`a:${SITE}/UPS-01`, `b:${SITE}/UPS-01`]));
    expect(assets.find((r) => r.site === 'a')!.body).toMatchObject({ site: SITE, id: 'UPS-01', type: 'ups', profile: 'ups-generic' });
    await waitFor('site a\'s device reaches the centre', async () => (await centralRecords('devices', 'a')).length === 1, { timeoutMs: 30_000 });
    expect((await centralRecords('devices', 'a'))[0]!.body).toMatchObject({ deviceId: sites.get('a')!.guardian.deviceId, state: 'claimed', attestation: 'pass' });
    const summary = await centralGet<{ sites: CentralSite[] }>('/central/sites');
    expect(summary.sites.map((s) => s.site)).toEqual(['a', 'b']);
    for (const s of summary.sites) {
      expect(s.lastReceivedAt).not.toBeNull();
      expect(s.alarmsNotNormal).toBeGreaterThanOrEqual(1);
      expect(s.counts.assets).toBe(1);
    }
  }, 90_000);

  it('keeps at its site what the site does not let flow', async () => {
    // Site b exports assets and alarms only: its device stays at the site.
    await waitFor('site a\'s device is there', async () => (await centralRecords('devices', 'a')).length === 1, { timeoutMs: 30_000 });
    expect(await centralRecords('devices', 'b')).toEqual([]);
    expect(await centralRecords('incidents', 'b')).toEqual([]);
    const summary = await centralGet<{ sites: CentralSite[] }>('/central/sites');
    expect(summary.sites.find((s) => s.site === 'b')!.counts).not.toHaveProperty('devices');
  }, 60_000);

  it('lets a cut-off site work on, and catches the centre up when the link is back', async () => {
    const a = sites.get('a')!;
    a.link.cut();
    await hub.waitForLeafConnections(1);
    // The site works on: its alarm returns to normal (unacknowledged) and a panel is born.
    expect((await onBattery(a, false)).code).toBe(0);
    expect((await birth(a, 'PNL-01', 'panel', 'panel-generic', 'door_open')).code).toBe(0);
    await waitFor('the alarm clears at the site', async () => (await siteAlarmState(a)) === 'unack-rtn', { timeoutMs: 30_000 });
    // Give the exporter several rounds: nothing of it can cross the cut link.
    const exported = async () => (JSON.parse((await a.site.get('/api/v1/health')).text) as { ingest: { federation: { published: number } } }).ingest.federation.published;
    const before = await exported();
    await waitFor('the site exports its changes into its own stream', async () => (await exported()) >= before + 1, { timeoutMs: 30_000 });
    expect((await upsAlarm('a'))!.body.state).toBe('unack-active');
    expect((await centralRecords('assets', 'a')).map((r) => r.key)).toEqual([`${SITE}/UPS-01`]);

    a.link.restore();
    await hub.waitForLeafConnections(2);
    await waitFor('the centre catches up', async () => (await upsAlarm('a'))?.body.state === 'unack-rtn'
      && (await centralRecords('assets', 'a')).length === 2, { timeoutMs: 90_000 });
    expect((await centralRecords('assets', 'a')).map((r) => r.key)).toEqual([`${SITE}/PNL-01`, `${SITE}/UPS-01`]);
    // Site b was not cut: its alarm is as it was.
    expect((await upsAlarm('b'))!.body.state).toBe('unack-active');
  }, 150_000);

  it('refuses a record that a site sends about another site', async () => {
    const b = sites.get('b')!;
    // Site b's own export stream, written as a compromised site b would: a record naming site a.
    const bus = await JetStreamBus.connect({ servers: b.nats.url, connectionName: 'forger', ...siteBusOptions(siteFederationLayout('b')) });
    try {
      const forged = { site: 'a', kind: 'alarms' as const, key: `${SITE}/UPS-01/on_battery/ups-on-battery`, version: Date.now() + 60_000, body: { ruleId: 'ups-on-battery', state: 'normal' } };
      await bus.publish(fleetSubject('b', 'alarms'), encodeFleetRecord(forged), { id: fleetRecordId(forged) });
      // A genuine record of site b after it: once it is in, the forged one was handled before it.
      const marker = { site: 'b', kind: 'assets' as const, key: `${SITE}/MARKER`, version: Date.now(), body: { site: SITE, id: 'MARKER' } };
      await bus.publish(fleetSubject('b', 'assets'), encodeFleetRecord(marker), { id: fleetRecordId(marker) });
      await waitFor('the marker arrives', async () => (await centralRecords('assets', 'b')).some((r) => r.key === `${SITE}/MARKER`), { timeoutMs: 60_000 });
    } finally {
      await bus.close();
    }
    expect((await upsAlarm('a'))!.body.state).toBe('unack-rtn');
  }, 90_000);
});
