import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiClient, type ApiClient } from '../../src/api-client.ts';
import { claimDevicesFromCsv, listDevices, parseClaimsCsv } from '../../src/commands/device.ts';
import { printVersionReport } from '../../src/commands/fleet.ts';
import { verifyAudit } from '../../src/commands/audit.ts';
import { parseReleaseManifest } from '../../src/commands/group.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-api-server.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

class Buffered {
  text = '';
  write(s: string) { this.text += s; }
}

describe('parseClaimsCsv', () => {
  it('reads claims in the header\'s column order, skipping blank and # lines, with their line numbers', () => {
    const csv = `\uFEFFsite,device_id,group\r\n# hall 1\r\nsite-a,${A},ahu-gw\r\n\r\n"site-a", ${B.toUpperCase()} ,"ups-gw"\r\n`;
    expect(parseClaimsCsv(csv)).toEqual({
      claims: [
        { deviceId: A, site: 'site-a', group: 'ahu-gw', line: 3 },
        { deviceId: B, site: 'site-a', group: 'ups-gw', line: 5 },
      ],
      problems: [],
    });
  });

  it('reports every bad line with its number and why', () => {
    const csv = [
      'device_id,site,group',
      `${A},site-a,ahu-gw`,
      'not-a-device,site-a,ahu-gw',
      `${B},site a,ahu-gw`,
      `${C},site-a`,
      `${A},site-a,ahu-gw`,
      `"${C},site-a,ahu-gw`,
    ].join('\n');
    const { claims, problems } = parseClaimsCsv(csv);
    expect(claims.map((c) => c.line)).toEqual([2]);
    expect(problems).toEqual([
      { line: 3, message: expect.stringContaining('device_id "not-a-device" is not 64 hex characters') },
      { line: 4, message: expect.stringContaining('site "site a"') },
      { line: 5, message: 'expected 3 columns, found 2' },
      { line: 6, message: `device ${A} is already on line 2` },
      { line: 7, message: 'unbalanced quotes' },
    ]);
  });

  it('requires a header naming exactly device_id, site and group', () => {
    expect(parseClaimsCsv(`${A},site-a,ahu-gw\n`).problems).toEqual([
      { line: 1, message: expect.stringMatching(/^the header must name the columns device_id,site,group \(missing device_id, site, group; unknown /) },
    ]);
    expect(parseClaimsCsv('device_id,site\n').problems[0]!.message).toContain('missing group');
    expect(parseClaimsCsv('').problems).toEqual([{ line: 1, message: expect.stringContaining('empty') }]);
    expect(parseClaimsCsv('device_id,site,group\n').problems).toEqual([{ line: 1, message: 'no claims after the header' }]);
  });
});

describe('parseReleaseManifest', () => {
  it('reads {swname, swversion, components} and refuses anything else', () => {
    const manifest = { swname: 'shellguard-guardian', swversion: '1.3.0', components: [{ component: 'runtime', digest: A }] };
    expect(parseReleaseManifest(JSON.stringify(manifest))).toEqual(manifest);
    expect(() => parseReleaseManifest('{', 'm.json')).toThrow(/m.json is not JSON/);
    expect(() => parseReleaseManifest('{"swname":"x"}', 'm.json')).toThrow(/must hold/);
  });
});

describe('admin commands over the API', () => {
  let api: FakeApiServer;
  let client: ApiClient;
  let out: Buffered;

  beforeAll(async () => {
    api = await startFakeApiServer();
    client = createApiClient({ server: api.url, token: `sgt_0123456789abcdef_${'A'.repeat(43)}`, ca: api.caFile });
  });
  afterAll(async () => api.close());
  beforeEach(() => {
    api.requests.length = 0;
    out = new Buffered();
  });

  it('claims nothing from a CSV with bad lines, and says which lines', async () => {
    const failed = await claimDevicesFromCsv(client, out, `device_id,site,group\n${A},site-a,g\nbad,site-a,g\n`, 'claims.csv');
    expect(failed).toBe(1);
    expect(api.requests).toEqual([]);
    expect(out.text).toContain('claims.csv:3: device_id "bad"');
    expect(out.text).toContain('nothing claimed: 1 bad line(s) in claims.csv');
  });

  it('sends a good CSV as one bulk claim with line numbers, and reports refusals by line', async () => {
    api.respond = () => ({
      status: 200,
      body: { claimed: [{ deviceId: A }], errors: [{ line: 3, deviceId: B, code: 'device_already_claimed', reason: 'already claimed' }] },
    });
    const failed = await claimDevicesFromCsv(client, out, `device_id,site,group\n${A},site-a,g\n${B},site-a,g\n`, 'claims.csv');
    expect(failed).toBe(1);
    expect(api.requests[0]).toMatchObject({
      method: 'POST', url: '/api/v1/claims/bulk',
      body: { claims: [{ deviceId: A, site: 'site-a', group: 'g', line: 2 }, { deviceId: B, site: 'site-a', group: 'g', line: 3 }] },
    });
    expect(out.text).toBe('claims.csv:3: device_already_claimed: already claimed\nclaimed 1 of 2 device(s)\n');
  });

  it('lists the fleet as a table', async () => {
    api.respond = () => ({
      status: 200,
      body: { devices: [{
        deviceId: A, site: 'site-a', group: 'ahu-gw', state: 'quarantined', stateReason: 'measurements_mismatch',
        lastAttestation: { at: Date.UTC(2026, 0, 2, 3, 4, 5), result: 'fail', reason: 'measurements_mismatch' },
        swversion: '1.2.0', reportCount: 2, stateChangedAt: 0, reportsDropped: 0,
      }] },
    });
    await listDevices(client, out);
    const [header, row] = out.text.trimEnd().split('\n');
    expect(header).toMatch(/^DEVICE\s+SITE\s+GROUP\s+STATE\s+VERSION\s+LAST ATTESTATION\s+CERT EXPIRES\s+REPORTS$/);
    expect(row).toContain(A);
    expect(row).toContain('quarantined (measurements_mismatch)');
    expect(row).toContain('fail measurements_mismatch 2026-01-02T03:04:05Z');
    expect(row).toMatch(/\s-\s+2$/);
  });

  it('prints the version report and counts devices off their release', async () => {
    api.respond = () => ({ status: 200, body: { devices: [] } });
    expect(await printVersionReport(client, out)).toBe(0);
    expect(out.text).toContain('every attested device runs its group\'s release');
    api.respond = () => ({ status: 200, body: { devices: [{
      deviceId: A, site: 's', group: 'g', swversion: '1.2.0', measuredAt: 0, target: { swname: 'sg', swversion: '1.3.0' },
      differences: [{ component: 'runtime' }, { component: 'guardian-bundle' }],
    }] } });
    out = new Buffered();
    expect(await printVersionReport(client, out)).toBe(1);
    expect(out.text).toContain('sg 1.3.0');
    expect(out.text).toContain('runtime,guardian-bundle');
  });

  it('says where the audit chain is broken', async () => {
    api.respond = () => ({ status: 200, body: { ok: false, events: 9, brokenAt: 4 } });
    expect(await verifyAudit(client, out)).toBe(false);
    expect(out.text).toContain('BROKEN at event 4 of 9');
  });
});
