/**
 * `shellguard deploy`: a release rolled out to a group through the CLI against a real server
 * (TUF repository, director, rollout engine) and a real simulated guardian, then the per-stream
 * version report; and how maintenance windows are written on the command line.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, type ApiClient } from '../src/api-client.ts';
import { actOnDeployment, createDeployment, parseWindow, printStreamVersionReport, showDeployment } from '../src/commands/deploy.ts';
import { SimulatedGuardian } from '../../../test/support/simulated-guardian.ts';
import { PRODUCT, SITE, makeBundle, startUpdateSite, until, type UpdateSite } from '../../../test/support/update-site.ts';

class Buffered {
  text = '';
  write(s: string) { this.text += s; }
}

describe('parseWindow', () => {
  it('reads days, hours and zone', () => {
    expect(parseWindow('mon-fri 02:00-04:00 Europe/Amsterdam')).toEqual({ days: [1, 2, 3, 4, 5], start: '02:00', end: '04:00', timeZone: 'Europe/Amsterdam' });
    expect(parseWindow('sat,sun 22:00-02:00')).toEqual({ days: [0, 6], start: '22:00', end: '02:00', timeZone: 'UTC' });
    expect(parseWindow('fri-mon 01:00-03:00')).toEqual({ days: [0, 1, 5, 6], start: '01:00', end: '03:00', timeZone: 'UTC' });
    expect(parseWindow('03:00-05:00')).toEqual({ start: '03:00', end: '05:00', timeZone: 'UTC' });
  });
  it('says how to write one it cannot read', () => {
    expect(() => parseWindow('weekdays at night')).toThrow(/must look like "mon-fri 02:00-04:00/);
    expect(() => parseWindow('mon-fry 02:00-04:00')).toThrow(/"mon-fry" .* is not a day/);
  });
});

describe('shellguard deploy against a real server', () => {
  let site: UpdateSite;
  let guardian: SimulatedGuardian;
  let client: ApiClient;
  const out = new Buffered();

  beforeAll(async () => {
    site = await startUpdateSite('sg-cli-deploy-');
    const initial = await makeBundle(site.dir, '1.0.0');
    guardian = new SimulatedGuardian({
      site: site.sim, dir: path.join(site.dir, 'g0'), profiles: ['ups-generic'], initialBundle: initial.bytes, initialVersion: '1.0.0', trustedRoots: site.trustedRoots,
    });
    await guardian.install();
    await site.server.fleet.defineGroup({ id: 'ups-room', site: SITE, minSecureVersion: '0.1.0' }, 'test');
    await site.server.fleet.registerRelease({ group: 'ups-room', swname: PRODUCT, swversion: '1.0.0', components: await guardian.measure() }, 'test');
    await site.server.fleet.claim({ deviceId: guardian.deviceId, site: SITE, group: 'ups-room' }, 'test');
    await guardian.boot();
    await site.publish('1.1.0');
    writeFileSync(path.join(site.dir, 'site-root.pem'), site.server.rootPem);
    client = createApiClient({ server: site.sim.apiUrl, token: site.server.adminToken!, ca: path.join(site.dir, 'site-root.pem') });
  }, 120_000);

  afterAll(async () => {
    await guardian?.stop();
    await site?.close();
  });

  it('creates a deployment, shows its progress, and the version report ends with zero mismatches', async () => {
    await createDeployment(client, out, { product: PRODUCT, stream: 'application', version: '1.1.0', group: 'ups-room', waves: '100', healthWindow: 120 });
    const id = /^(dep-\S+)/m.exec(out.text)?.[1];
    expect(id, out.text).toBeDefined();
    await until('the deployment to complete', async () => {
      out.text = '';
      await showDeployment(client, out, id!, { all: true });
      return out.text.includes(' completed ') ? true : undefined;
    }, 60_000);
    expect(out.text).toMatch(/1\/1 healthy \(100 %\)/);
    expect(out.text).toContain(guardian.deviceId);
    out.text = '';
    expect(await printStreamVersionReport(client, out, 'ups-room', { stream: 'application' })).toBe(0);
    expect(out.text).toContain('target 1.1.0');
    expect(out.text).toContain('0 mismatches');
  }, 90_000);

  it('refuses to pause a completed deployment and says why', async () => {
    const { deployments } = await client.get<{ deployments: { id: string }[] }>('/deployments');
    await expect(actOnDeployment(client, out, deployments[0]!.id, 'pause', { reason: 'too late' })).rejects.toThrow(/complete|state/i);
  });
});
