/**
 * Trust hole 1 (issue 7): one guardian could write to and take over another guardian's assets.
 * Found from outside with mosquitto_pub and a real guardian's operational certificate: DDATA for
 * CRAH-02 (bound to guardian 2) was stored and created a point; a DBIRTH renamed the asset, moved
 * its area and re-bound it; a second honest guardian configured with an existing asset id took it
 * over and doubled its samples.
 *
 * Here the same attacks run against a real server over real sockets: the honest guardians use
 * the guardian's own outbox and uplink, the attacker Debian's mosquitto_pub with its real
 * operational certificate. Moving the asset is then done by an operator with the real CLI.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Quality, encodeDeviceBirth, encodeDeviceData, sparkplugTopic, type AssetBirth, type Sample,
} from '@shellguard/protocol';
import { SITE, startTestSite, type TestSite } from '../support/enrolled-device.ts';
import {
  enrolGuardian, firstGuardian, mosquittoPublish, startGuardianUplink, type GuardianUplink, type SiteGuardian,
} from '../support/site-guardians.ts';
import { runCli } from '../system/support/cli-process.ts';
import { TEST_BROKERS } from '../external-broker/mosquitto-site.ts';
import { waitFor } from '../system/support/wait-for.ts';

const CRAH: AssetBirth = {
  asset: 'CRAH-02', name: 'CRAH 2', type: 'crah', area: 'hall-2', profile: 'crah-generic',
  points: [{ name: 'return_air_temp', unit: 'degC', kind: 'analog', description: 'Return air temperature' }],
};

interface AssetView {
  id: string; name: string; area: string; deviceId: string;
  points: { id: number; name: string }[];
}

// The same attacks against the embedded broker and an external Mosquitto (issue 12).
describe.each(TEST_BROKERS)('an asset belongs to one guardian (hole 1) — %s broker', (broker) => {
  let site: TestSite;
  let attacker: SiteGuardian;
  let owner: SiteGuardian;
  let ownerLink: GuardianUplink;
  let t = Date.now() - 60_000;
  const readings = (n: number): Sample[] => Array.from({ length: n }, () => ({
    point: 'return_air_temp', ts: (t += 1000), value: 24.5, quality: Quality.good,
  }));

  const asset = async (): Promise<AssetView> => {
    const r = await site.get(`/api/v1/assets/CRAH-02?site=${SITE}`);
    expect(r.status).toBe(200);
    return JSON.parse(r.text) as AssetView;
  };
  const storedCount = async (): Promise<number> => {
    const a = await asset();
    const p = a.points.find((x) => x.name === 'return_air_temp')!;
    const r = await site.get(`/api/v1/points/${p.id}/samples?from=0&to=${Date.now() + 3_600_000}&limit=100000`);
    return (JSON.parse(r.text) as { samples: unknown[] }).samples.length;
  };
  const health = async () => JSON.parse((await site.get('/api/v1/health')).text) as { ingest: { rejected: Record<string, number> } };

  beforeAll(async () => {
    site = await startTestSite('sg-takeover-', { broker });
    attacker = firstGuardian(site);
    owner = await enrolGuardian(site, 'guardian-2');
    ownerLink = startGuardianUplink(site, owner, [CRAH]);
    ownerLink.send('CRAH-02', readings(5));
    await waitFor('the owner\'s first batch is stored', () => ownerLink.outbox.stats().pendingBatches === 0, { timeoutMs: 20_000 });
  });
  afterAll(async () => {
    await ownerLink?.stop();
    await site?.close();
  });

  it('binds CRAH-02 to the guardian that reported it first', async () => {
    const a = await asset();
    expect(a).toMatchObject({ name: 'CRAH 2', area: 'hall-2', deviceId: owner.deviceId });
    expect(await storedCount()).toBe(5);
  });

  it('refuses DDATA for CRAH-02 from another guardian\'s real certificate: nothing stored, no point created, an incident raised', async () => {
    const forged = encodeDeviceData({ epoch: 'attacker', seq: 1 }, [
      { point: 'return_air_temp', ts: Date.now(), value: 99, quality: Quality.good },
      { point: 'injected_point', ts: Date.now(), value: 1, quality: Quality.good },
    ], { sparkplugSeq: 0, now: Date.now() });
    const topic = sparkplugTopic({ group: SITE, type: 'DDATA', edge: attacker.deviceId, device: 'CRAH-02' });
    const pub = await mosquittoPublish(site, attacker, topic, forged);
    expect(pub.code).toBe(0);
    await waitFor('the refusal is counted', async () => ((await health()).ingest.rejected.asset_bound_elsewhere ?? 0) >= 1, { timeoutMs: 10_000 });
    const a = await asset();
    expect(a.points.map((p) => p.name)).toEqual(['return_air_temp']);
    expect(await storedCount()).toBe(5);
    const incidents = JSON.parse((await site.get(`/api/v1/incidents?deviceId=${attacker.deviceId}`)).text) as { incidents: { kind: string; reason: string }[] };
    expect(incidents.incidents).toContainEqual(expect.objectContaining({ kind: 'telemetry_refused', reason: 'asset_bound_elsewhere' }));
  });

  it('refuses a DBIRTH for CRAH-02 from the other guardian: no rename, no new area, no re-binding', async () => {
    const birth = encodeDeviceBirth({ ...CRAH, name: 'PWNED', area: 'attacker-area' }, { sparkplugSeq: 0, now: Date.now() });
    const before = (await health()).ingest.rejected.asset_bound_elsewhere ?? 0;
    const pub = await mosquittoPublish(site, attacker, sparkplugTopic({ group: SITE, type: 'DBIRTH', edge: attacker.deviceId, device: 'CRAH-02' }), birth);
    expect(pub.code).toBe(0);
    await waitFor('the refusal is counted', async () => ((await health()).ingest.rejected.asset_bound_elsewhere ?? 0) > before, { timeoutMs: 10_000 });
    expect(await asset()).toMatchObject({ name: 'CRAH 2', area: 'hall-2', deviceId: owner.deviceId });
    const areas = JSON.parse((await site.get(`/api/v1/sites/${SITE}/areas`)).text) as { areas: { id: string }[] };
    expect(areas.areas.map((x) => x.id)).not.toContain('attacker-area');
  });

  it('refuses an honest second guardian configured with the same asset id: its batches are kept aside on it, never doubled on the server', async () => {
    const second = await enrolGuardian(site, 'guardian-3');
    const link = startGuardianUplink(site, second, [CRAH]);
    try {
      for (let i = 0; i < 3; i++) link.send('CRAH-02', readings(2));
      await waitFor('the server refused all three batches', () => link.outbox.stats().rejectedBatches === 3, { timeoutMs: 20_000 });
    } finally {
      await link.stop();
    }
    const queue = new Database(`${second.dir}/queue.sqlite`, { readonly: true });
    const reasons = queue.prepare('SELECT reason FROM rejected').pluck().all();
    queue.close();
    expect(reasons).toEqual(['asset_bound_elsewhere', 'asset_bound_elsewhere', 'asset_bound_elsewhere']);
    expect(await asset()).toMatchObject({ deviceId: owner.deviceId, name: 'CRAH 2' });
    expect(await storedCount()).toBe(5);
  });

  it('moves CRAH-02 to another guardian only by an audited operator action; then the old owner is refused', async () => {
    const out = await runCli(['asset', 'move', SITE, 'CRAH-02', '--to', attacker.deviceId, '--reason', 'gateway replaced in hall 2'], {
      env: { SHELLGUARD_SERVER: site.apiUrl, SHELLGUARD_TOKEN: site.server.adminToken!, SHELLGUARD_CA: `${attacker.caFile}` },
    });
    expect(out).toMatch(new RegExp(`CRAH-02 now belongs to guardian ${attacker.deviceId} \\(was ${owner.deviceId}\\)`));
    const audit = JSON.parse((await site.get('/api/v1/audit?limit=1000')).text) as { events: { action: string; target: string; detail: Record<string, unknown> }[] };
    expect(audit.events).toContainEqual(expect.objectContaining({
      action: 'asset.move', target: `asset:${SITE}/CRAH-02`,
      detail: { from: owner.deviceId, to: attacker.deviceId, reason: 'gateway replaced in hall 2' },
    }));
    expect((await asset()).deviceId).toBe(attacker.deviceId);

    ownerLink.send('CRAH-02', readings(2));
    await waitFor('the old owner\'s batch is refused', () => ownerLink.outbox.stats().rejectedBatches === 1, { timeoutMs: 20_000 });
    const data = encodeDeviceData({ epoch: 'attacker', seq: 2 }, readings(3), { sparkplugSeq: 1, now: Date.now() });
    await mosquittoPublish(site, attacker, sparkplugTopic({ group: SITE, type: 'DDATA', edge: attacker.deviceId, device: 'CRAH-02' }), data);
    await waitFor('the new owner\'s batch is stored', async () => (await storedCount()) === 8, { timeoutMs: 10_000 });
  });

  it('refuses to move an asset to a guardian that is not claimed into its site', async () => {
    const r = await site.post(`/api/v1/sites/${SITE}/assets/CRAH-02/move`, { deviceId: 'f'.repeat(64), reason: 'typo' });
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/not claimed/);
  });
});
