/**
 * Trust hole 2 (issue 7): one future timestamp blinded alarms and froze "latest". A sample with
 * ts = 9e15, published with mosquitto_pub and a real guardian's certificate, pinned the point's
 * latest value, and the alarm engine skipped every real sample after it.
 *
 * The same attack against a real server: the future batch is refused for good and counted by
 * reason; real samples that follow update "latest" and raise the shipped UPS on-battery alarm.
 * A guardian whose clock runs ahead is flagged (the device list and /health say by how much).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Quality, encodeDeviceBirth, encodeDeviceData, encodeNodeBirth, sparkplugTopic,
} from '@shellguard/protocol';
import { SITE, startTestSite, type TestSite } from '../support/enrolled-device.ts';
import { firstGuardian, mosquittoPublish, type SiteGuardian } from '../support/site-guardians.ts';
import { waitFor } from '../system/support/wait-for.ts';
import { TEST_BROKERS } from '../external-broker/mosquitto-site.ts';

interface AssetView { points: { id: number; name: string; latest: { ts: number; value: number } | null }[] }
interface AlarmView { state: string; ruleId: string; asset: string }
interface Health { ingest: { rejected: Record<string, number>; samplesRefused: Record<string, number>; clockSuspects: Record<string, number> } }

// The same attacks against the embedded broker and an external Mosquitto (issue 12).
describe.each(TEST_BROKERS)('sample times the server does not believe (hole 2) — %s broker', (broker) => {
  let site: TestSite;
  let guardian: SiteGuardian;
  const topic = (type: 'DDATA' | 'DBIRTH') => sparkplugTopic({ group: SITE, type, edge: guardian.deviceId, device: 'UPS-01' });
  const health = async () => JSON.parse((await site.get('/api/v1/health')).text) as Health;
  const latest = async () => {
    const a = JSON.parse((await site.get(`/api/v1/assets/UPS-01?site=${SITE}`)).text) as AssetView;
    return a.points.find((p) => p.name === 'on_battery')?.latest ?? null;
  };

  beforeAll(async () => {
    site = await startTestSite('sg-time-', { broker });
    guardian = firstGuardian(site);
    await mosquittoPublish(site, guardian, topic('DBIRTH'), encodeDeviceBirth({
      name: 'UPS 1', type: 'ups', area: 'elec-room-1', profile: 'ups-generic',
      points: [{ name: 'on_battery', unit: '', kind: 'binary', description: 'Load on battery' }],
    }, { sparkplugSeq: 0, now: Date.now() }));
  });
  afterAll(async () => {
    await site?.close();
  });

  it('refuses a batch stamped at 9e15 for good and counts it by reason', async () => {
    const now = Date.now();
    const future = encodeDeviceData({ epoch: 'q', seq: 1 }, [{ point: 'on_battery', ts: 9e15, value: false, quality: Quality.good }], { sparkplugSeq: 1, now });
    expect((await mosquittoPublish(site, guardian, topic('DDATA'), future)).code).toBe(0);
    await waitFor('the refusal is counted', async () => ((await health()).ingest.rejected.sample_in_future ?? 0) === 1, { timeoutMs: 10_000 });
    expect((await health()).ingest.samplesRefused).toMatchObject({ sample_in_future: 1 });
    expect(await latest()).toBeNull();
  });

  it('lets the real samples after it update latest and raise the alarm', async () => {
    const now = Date.now();
    const real = encodeDeviceData({ epoch: 'q', seq: 2 }, [{ point: 'on_battery', ts: now, value: true, quality: Quality.good }], { sparkplugSeq: 2, now });
    await mosquittoPublish(site, guardian, topic('DDATA'), real);
    await waitFor('latest follows the real sample', async () => (await latest())?.ts === now, { timeoutMs: 10_000 });
    expect((await latest())!.value).toBe(1);
    const alarms = JSON.parse((await site.get(`/api/v1/alarms?site=${SITE}`)).text) as { alarms: AlarmView[] };
    expect(alarms.alarms.find((a) => a.ruleId === 'ups-on-battery')).toMatchObject({ asset: 'UPS-01', state: 'unack-active' });
  });

  it('refuses samples older than the window', async () => {
    const now = Date.now();
    const old = encodeDeviceData({ epoch: 'q', seq: 3 }, [{ point: 'on_battery', ts: now - 400 * 86_400_000, value: false, quality: Quality.good }], { sparkplugSeq: 3, now });
    await mosquittoPublish(site, guardian, topic('DDATA'), old);
    await waitFor('the refusal is counted', async () => ((await health()).ingest.rejected.sample_too_old ?? 0) === 1, { timeoutMs: 10_000 });
    expect((await latest())!.value).toBe(1);
  });

  it('flags a guardian whose clock runs ten minutes ahead', async () => {
    const ahead = Date.now() + 600_000;
    await mosquittoPublish(site, guardian, sparkplugTopic({ group: SITE, type: 'NBIRTH', edge: guardian.deviceId }),
      encodeNodeBirth(1, '0.1.0', { sparkplugSeq: 0, now: ahead }));
    await waitFor('the guardian is flagged', async () => guardian.deviceId in (await health()).ingest.clockSuspects, { timeoutMs: 10_000 });
    const offset = (await health()).ingest.clockSuspects[guardian.deviceId]!;
    expect(offset).toBeGreaterThan(590_000);
    const devices = JSON.parse((await site.get('/api/v1/devices')).text) as { devices: { id: string; clockOffsetMs: number | null }[] };
    expect(devices.devices.find((d) => d.id === guardian.deviceId)!.clockOffsetMs).toBeGreaterThan(590_000);
    const incidents = JSON.parse((await site.get(`/api/v1/incidents?deviceId=${guardian.deviceId}`)).text) as { incidents: { reason: string }[] };
    expect(incidents.incidents.map((i) => i.reason)).toContain('clock_skew');
  });
});
