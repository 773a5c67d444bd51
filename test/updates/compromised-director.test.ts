/**
 * A compromised director (Uptane's threat): the server's online key signs whatever it likes, but
 * a device installs only genuine targets of the offline-signed image repository, with the length
 * and hash the repository signs, and never an older release. Each refusal is reported with its
 * reason and the device stays on the release it runs.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstructedImage } from '@shellguard/protocol';
import { SimulatedGuardian } from '../support/simulated-guardian.ts';
import { PRODUCT, SITE, makeBundle, startUpdateSite, until, type UpdateSite } from '../support/update-site.ts';

describe('a device told by a compromised director', () => {
  let site: UpdateSite;
  let guardian: SimulatedGuardian;
  let genuine: InstructedImage;

  beforeAll(async () => {
    site = await startUpdateSite('sg-director-');
    const initial = await makeBundle(site.dir, '1.0.0');
    site.bundles.set('1.0.0', initial);
    guardian = new SimulatedGuardian({
      site: site.sim, dir: path.join(site.dir, 'g0'), profiles: ['ups-generic'], initialBundle: initial.bytes, initialVersion: '1.0.0', trustedRoots: site.trustedRoots,
    });
    await guardian.install();
    await site.server.fleet.defineGroup({ id: 'g', site: SITE, minSecureVersion: '0.1.0' }, 'test');
    await site.server.fleet.registerRelease({ group: 'g', swname: PRODUCT, swversion: '1.0.0', components: await guardian.measure() }, 'test');
    await site.server.fleet.claim({ deviceId: guardian.deviceId, site: SITE, group: 'g' }, 'test');
    await guardian.boot();
    await site.publish('0.9.0');
    const b = await site.publish('1.1.0');
    const t = (await site.server.imageRepository.listTargets(PRODUCT, 'application')).find((x) => x.custom.version === '1.1.0')!;
    genuine = { stream: 'application', product: PRODUCT, targetName: t.name, version: '1.1.0', length: t.length, sha256: t.sha256 };
    expect(t.length).toBe(b.bytes.length);
  }, 120_000);

  afterAll(async () => {
    await guardian?.stop();
    await site?.close();
  });

  async function told(deploymentId: string, image: InstructedImage): Promise<string> {
    await site.server.updates.director.instruct(guardian.deviceId, { deploymentId, images: [image], healthWindowSeconds: 60, installNow: true });
    const status = await until(`the device to answer ${deploymentId}`, () => guardian.statuses.find((s) => s.deploymentId === deploymentId && s.state === 'refused'), 30_000);
    expect(guardian.runningVersion()).toBe('1.0.0');
    expect(guardian.slots.read().streams.application).toMatchObject({ active: 'a', committed: 'a', trial: null });
    return status.reason ?? '';
  }

  it('refuses software the image repository never signed (arbitrary software)', async () => {
    expect(await told('evil-1', { ...genuine, targetName: 'shellguard-guardian-app-6.6.6.tar.gz', version: '6.6.6' })).toMatch(/target_not_found/);
  });

  it('refuses a genuine target name with another length or hash (a swapped image)', async () => {
    expect(await told('evil-2', { ...genuine, sha256: 'e'.repeat(64) })).toMatch(/director_image_mismatch/);
    expect(await told('evil-3', { ...genuine, length: genuine.length + 1 })).toMatch(/director_image_mismatch/);
  });

  it('refuses a genuine but older release (a downgrade to a vulnerable version)', async () => {
    const t = (await site.server.imageRepository.listTargets(PRODUCT, 'application')).find((x) => x.custom.version === '0.9.0')!;
    expect(await told('evil-4', { ...genuine, targetName: t.name, version: '0.9.0', length: t.length, sha256: t.sha256 })).toMatch(/older/);
  });

  it('refuses a genuine target presented as another version (mix-and-match of name and version)', async () => {
    expect(await told('evil-5', { ...genuine, version: '1.2.0' })).toMatch(/manifest_mismatch|signs|version/);
  });

  it('still installs the genuine release when told to properly', async () => {
    // As a deployment would: the release's reference values, so the new software passes attestation.
    await site.server.fleet.registerRelease({ group: 'g', swname: PRODUCT, swversion: '1.1.0', components: site.bundles.get('1.1.0')!.manifest.components }, 'test');
    await site.server.updates.director.instruct(guardian.deviceId, { deploymentId: 'good-1', images: [genuine], healthWindowSeconds: 60, installNow: true });
    await until('the device to commit 1.1.0', () => (guardian.statuses.some((s) => s.deploymentId === 'good-1' && s.state === 'healthy') ? true : undefined), 60_000);
    expect(guardian.runningVersion()).toBe('1.1.0');
  }, 90_000);
});
