/**
 * Signed updates in a real browser (Debian's Chromium through playwright-core) against a real
 * server — HTTPS API, TUF image repository, director, rollout engine, MQTT/mTLS broker — and four
 * simulated guardians (test/support/simulated-guardian.ts: the real updater, slots, TUF client,
 * attestation and uplink), so every device state on the page is one a device really reported.
 *
 * The engineer sees the signed release on the Releases page; opens a deployment paused after its
 * first wave, resumes it and watches it reach 100 % without the page reloading; reads each
 * device's state, reason and running version; finds zero mismatches in the version report; plans
 * a second deployment with the form (maintenance window not now: start-installs is refused, and
 * it is aborted). A viewer sees the running deployment but is offered no action, and the API
 * refuses the viewer's pause. Screenshots go to test-artifacts/browser.

 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { GUARDIAN_SWNAME } from '@shellguard/guardian';
import type { BundleManifest, Measurement } from '@shellguard/protocol';
import { initPki, spkiSha256Base64, startServer, type ServerHandle } from '@shellguard/server';
import { httpsRequest } from '../../packages/server/test/api/https-client.ts';
import { buildRoot, buildTargets, json, offlineKey, signed } from '../../packages/server/test/updates/tuf-fixture.ts';
import { SimulatedGuardian } from '../support/simulated-guardian.ts';
import { makeBundle } from '../support/update-site.ts';
import { launchBrowser, screenshot, signIn, type TrustingBrowser } from './support/browser.ts';

const SITE = 'site-1';
const GROUP = 'hall-gateways';
const PRODUCT = GUARDIAN_SWNAME;
const FLEET_SIZE = 4;
const PROFILES = ['ups-generic', 'crah-generic'];
const ENGINEER = { username: 'erin', password: 'engineer-password-0042' };
const VIEWER = { username: 'vera', password: 'viewer-password-0042' };

let dir: string;
let server: ServerHandle;
let fleet: SimulatedGuardian[] = [];
let origin: string;
let engineer: TrustingBrowser;
let viewer: TrustingBrowser;
let firstId: string;
let secondId: string;
const bundles = new Map<string, { bytes: Buffer; manifest: BundleManifest }>();

/** Signs in unless this browser's session is already this person's (each test can run alone). */
async function signedIn(b: TrustingBrowser, person: { username: string; password: string }): Promise<Page> {
  await b.page.goto(`${origin}/`);
  const who = b.page.getByTestId('signed-in-as');
  await who.or(b.page.getByLabel('Username')).first().waitFor();
  if (await who.count() === 0 || !((await who.textContent()) ?? '').includes(person.username)) await signIn(b.page, origin, person.username, person.password);
  return b.page;
}

/** The dialog that is open (a view keeps its closed dialogs in the page). */
const openDialog = (page: Page) => page.locator('[data-testid="action-dialog"][open]');
const percentOf = async (page: Page) => Number(await page.getByTestId('deployment-progress').getAttribute('data-percent'));

describe('signed updates in Chromium against a real server with simulated guardians', () => {
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-updates-browser-'));
    await initPki(path.join(dir, 'ca'), { commonName: 'Updates browser test site' });
    server = await startServer({
      dataDir: path.join(dir, 'server'), caDir: path.join(dir, 'ca'),
      mqtt: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 },
      tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
    }, { logger: pino({ level: process.env.SG_SERVER_LOG ?? 'silent' }), rolloutTickMs: 250 });
    origin = `https://127.0.0.1:${server.apiPort}`;
    await server.users.create(ENGINEER.username, 'engineer', ENGINEER.password);
    await server.users.create(VIEWER.username, 'viewer', VIEWER.password);

    // The offline root names the server's online snapshot and timestamp keys; targets signed offline.
    const rootKey = offlineKey();
    const targetsKey = offlineKey();
    const root = signed(buildRoot({ root: [rootKey], targets: [targetsKey], online: server.imageRepository.onlineKeys(), expires: Date.now() + 365 * 86_400_000 }), rootKey);
    await server.imageRepository.initialise(PRODUCT, 'application', json(root));
    const trustedRoots = { [`${PRODUCT}.application.root.json`]: JSON.stringify(json(root)) };

    const initial = await makeBundle(dir, '1.0.0');
    await server.fleet.defineGroup({ id: GROUP, site: SITE, minSecureVersion: '0.1.0' }, 'test');
    const site = { apiUrl: origin, mqttUrl: `mqtts://127.0.0.1:${server.mqttPort}`, rootPem: server.rootPem, site: SITE };
    fleet = Array.from({ length: FLEET_SIZE }, (_, i) => new SimulatedGuardian({
      site, dir: path.join(dir, `g${i}`), profiles: PROFILES, initialBundle: initial.bytes, initialVersion: '1.0.0', trustedRoots,
    }));
    for (const g of fleet) await g.install();
    // Configuration and profile digests are per-device reference values (the same for all four here).
    const perDevice: Measurement[] = (await fleet[0]!.measure()).filter((m) => m.component === 'config' || m.component === 'profiles');
    await server.fleet.registerRelease({ group: GROUP, swname: PRODUCT, swversion: '1.0.0', components: [...initial.manifest.components, ...perDevice] }, 'test');
    for (const g of fleet) await server.fleet.claim({ deviceId: g.deviceId, site: SITE, group: GROUP }, 'test');
    await Promise.all(fleet.map((g) => g.boot()));

    // Two signed releases: 1.1.0 (rolled out here) and 1.2.0 (planned in the form, then aborted).
    for (const v of ['1.1.0', '1.2.0']) bundles.set(v, await makeBundle(dir, v));
    const list = [...bundles].map(([v, b]) => ({ name: `${PRODUCT}-app-${v}.tar.gz`, bytes: b.bytes, custom: b.manifest }));
    await server.imageRepository.acceptTargets(PRODUCT, 'application', json(signed(buildTargets(1, list, Date.now() + 30 * 86_400_000), targetsKey)),
      list.map((t) => ({ name: t.name, bytes: t.bytes })));

    // Two waves of two; paused at once, so the second wave waits for the engineer to resume it.
    const { deployment } = await server.updates.deployments.create({
      product: PRODUCT, stream: 'application', version: '1.1.0', group: GROUP,
      policy: { waves: [50, 100], healthWindowSeconds: 120, failureThreshold: 0.25, waveSoakSeconds: 0 },
    }, 'user:erin');
    firstId = deployment.id;
    await server.updates.deployments.pause(firstId, 'user:erin', 'hold the second wave until the first is watched');

    const pin = spkiSha256Base64(server.apiCertificatePem);
    engineer = await launchBrowser(pin);
    viewer = await launchBrowser(pin);
    const probe = await httpsRequest(server.apiPort, server.rootPem, `/api/v1/deployments/${firstId}`, { headers: { authorization: `Bearer ${server.adminToken}` } });
    expect(probe.status, probe.body).toBe(200);
  }, 300_000);

  afterAll(async () => {
    await engineer?.close();
    await viewer?.close();
    await Promise.all(fleet.map((g) => g.stop()));
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('shows the signed releases with their size, SHA-256 and platform, and the repository roles with thresholds and expiry', async () => {
    const page = await signedIn(engineer, ENGINEER);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Updates' }).click();
    await page.getByRole('navigation', { name: 'Updates' }).getByRole('link', { name: 'Releases' }).click();
    await page.waitForURL(/\/updates\/releases$/);
    const repo = page.locator(`[data-testid="repository"][data-product="${PRODUCT}"][data-stream="application"]`);
    const row = repo.locator('[data-testid="release-row"][data-version="1.1.0"]');
    await row.waitFor({ timeout: 15_000 });
    const { repository } = await (async () => {
      const res = await httpsRequest(server.apiPort, server.rootPem, `/api/v1/updates/repositories/${PRODUCT}/application`, { headers: { authorization: `Bearer ${server.adminToken}` } });
      return JSON.parse(res.body) as { repository: { targets: { name: string; sha256: string; custom: { version: string; platform: string } }[] } };
    })();
    const target = repository.targets.find((t) => t.custom.version === '1.1.0')!;
    expect(await row.getByTestId('release-sha256').textContent()).toBe(`${target.sha256.slice(0, 12)}…`);
    expect(await row.textContent()).toContain(target.custom.platform);
    expect(await row.textContent()).toContain(target.name);
    expect(await repo.locator('[data-testid="release-row"]').count()).toBe(2);
    expect(await repo.locator('[data-testid="repository-role"][data-role="root"] [data-testid="role-threshold"]').textContent()).toBe('1 of 1');
    expect(await repo.locator('[data-testid="repository-role"][data-role="targets"]').textContent()).toMatch(/offline/);
    expect(await repo.locator('[data-testid="repository-role"]').count()).toBe(4);
    await screenshot(page, 'updates-releases');
  });

  it('shows the paused deployment, and after Resume its progress reaches 100 % live, without a reload', async () => {
    const page = await signedIn(engineer, ENGINEER);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Updates' }).click();
    const listed = page.locator(`[data-testid="deployment-row"][data-deployment-id="${firstId}"]`);
    await listed.waitFor({ timeout: 15_000 });
    expect(await listed.getAttribute('data-state')).toBe('paused');
    await listed.getByRole('link', { name: 'Open' }).click();
    const view = page.getByTestId('deployment-view');
    await view.waitFor();
    expect(await view.getAttribute('data-state')).toBe('paused');
    expect(await page.getByTestId('paused-notice').textContent()).toContain('hold the second wave');
    // Paused after the first wave: the second is not started, its devices wait.
    expect(await page.locator('[data-testid="wave-row"][data-wave="2"]').getAttribute('data-started')).toBe('false');
    expect(await percentOf(page)).toBeLessThan(100);
    const waiting = page.locator('[data-testid="device-row"][data-state="pending"]');
    await expect.poll(() => waiting.count(), { timeout: 15_000 }).toBe(2);
    // A device that has not been told to install may be held back by an engineer.
    expect(await waiting.first().getByTestId('device-defer').count()).toBe(1);
    await screenshot(page, 'updates-deployment-paused');

    // Marks this document: a reload or a navigation to a new document would drop it.
    await page.evaluate(() => { (globalThis as unknown as { sgNoReload: string }).sgNoReload = 'same-document'; });
    const seen = new Set<number>([await percentOf(page)]);
    await page.getByTestId('deployment-resume').click();
    const dialog = openDialog(page);
    await dialog.getByLabel(/Why/).fill('first wave healthy');
    await dialog.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(async () => {
      const percent = await percentOf(page);
      seen.add(percent);
      return percent;
    }, { timeout: 180_000, interval: 500 }).toBe(100);
    expect(await page.evaluate(() => (globalThis as unknown as { sgNoReload?: string }).sgNoReload)).toBe('same-document');
    expect(seen.size).toBeGreaterThan(1);
    await expect.poll(() => view.getAttribute('data-state'), { timeout: 30_000 }).toBe('completed');
    expect(await page.getByTestId('deployment-percent').textContent()).toBe('100 %');
    expect(await page.locator('[data-testid="wave-row"][data-complete="true"]').count()).toBe(2);
    const bar = page.getByTestId('deployment-progress').getByTestId('progress-bar').first();
    expect(await bar.getAttribute('data-healthy')).toBe(String(FLEET_SIZE));
    await screenshot(page, 'updates-deployment-complete');
  }, 240_000);

  it("shows each device's state, its reason, the version it runs and its history, filtered by state", async () => {
    const page = engineer.page;
    const devices = await server.updates.deployments.devices(firstId);
    expect(devices).toHaveLength(FLEET_SIZE);
    await expect.poll(() => page.locator('[data-testid="device-row"][data-state="healthy"]').count(), { timeout: 15_000 }).toBe(FLEET_SIZE);
    for (const d of devices) {
      const row = page.locator(`[data-testid="device-row"][data-device-id="${d.deviceId}"]`);
      expect(await row.getAttribute('data-state')).toBe(d.state);
      expect(await row.getByTestId('device-running').textContent()).toBe(d.running ?? 'unknown');
      expect(await row.getByTestId('device-reason').textContent()).toBe(d.reason ?? '—');
    }
    const first = page.locator('[data-testid="device-row"]').first();
    await first.getByTestId('device-history').locator('summary').click();
    const kinds = await first.getByTestId('device-history-event').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
    expect(kinds).toContain('healthy');
    await page.getByTestId('device-filter-state').selectOption('failed');
    await page.getByTestId('devices-none').waitFor();
    await page.getByTestId('device-filter-state').selectOption('healthy');
    expect(await page.getByTestId('device-count').getAttribute('data-shown')).toBe(String(FLEET_SIZE));
    expect(page.url()).toContain('state=healthy');
    await screenshot(page, 'updates-deployment-devices');
  });

  it('shows zero mismatches in the version report of the group, with the target release', async () => {
    const page = engineer.page;
    await page.getByTestId('deployment-version-report-link').click();
    await page.waitForURL(/\/updates\/versions\?/);
    const mismatches = page.getByTestId('version-mismatches');
    await mismatches.waitFor({ timeout: 15_000 });
    await expect.poll(() => mismatches.getAttribute('data-count'), { timeout: 30_000 }).toBe('0');
    expect(await page.getByTestId('version-target').getAttribute('data-version')).toBe('1.1.0');
    expect(await page.getByTestId('version-devices').getAttribute('data-count')).toBe(String(FLEET_SIZE));
    expect(await page.locator('[data-testid="version-report-row"][data-matches="true"]').count()).toBe(FLEET_SIZE);
    const report = await server.updates.deployments.versionReport(GROUP, 'application');
    expect(report.mismatches).toEqual([]);
    await screenshot(page, 'updates-version-report');
  });

  it('plans a deployment with the form: release, group, waves, health window, threshold and a maintenance window', async () => {
    const page = engineer.page;
    await page.getByRole('navigation', { name: 'Updates' }).getByRole('link', { name: 'Deployments' }).click();
    await page.getByTestId('new-deployment').click();
    const form = page.getByTestId('new-deployment-form');
    await form.waitFor({ timeout: 15_000 });
    await form.getByTestId('new-deployment-release').selectOption(`${PRODUCT}|application|1.2.0`);
    await form.getByTestId('new-deployment-group').selectOption(GROUP);
    await form.getByLabel(/^Waves/).fill('50, 100');
    await form.getByLabel(/^Health window/).fill('300');
    await form.getByLabel(/^Failure threshold/).fill('20');
    // One window, on a weekday three days from today (UTC): never now, so the installs cannot start.
    await page.getByTestId('add-maintenance-window').click();
    const win = form.getByTestId('maintenance-window');
    const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][(new Date().getUTCDay() + 3) % 7]!;
    for (const d of ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']) await win.getByLabel(d, { exact: true }).setChecked(d === day);
    await win.getByLabel('Starts').fill('00:00');
    await win.getByLabel(/^Ends/).fill('01:00');
    await win.getByLabel('Time zone').fill('UTC');
    await screenshot(page, 'updates-new-deployment');
    await page.getByTestId('new-deployment-submit').click();
    await page.waitForURL(/\/updates\/deployments\/(?!new)[^/?]+$/, { timeout: 15_000 });
    const view = page.getByTestId('deployment-view');
    await view.waitFor();
    secondId = (await view.getAttribute('data-deployment-id'))!;
    const stored = await server.updates.deployments.get(secondId);
    expect(stored.deployment).toMatchObject({
      version: '1.2.0', group: GROUP, createdBy: `user:${ENGINEER.username}`,
      policy: { waves: [50, 100], healthWindowSeconds: 300, failureThreshold: 0.2, maintenanceWindows: [{ start: '00:00', end: '01:00', timeZone: 'UTC' }] },
    });
    expect(stored.deployment.policy.maintenanceWindows[0]!.days).toEqual([['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(day)]);
    expect(await view.getAttribute('data-state')).toBe('running');
  });

  it('shows a viewer the running deployment but offers no action, and the API refuses the viewer a pause', async () => {
    const page = await signedIn(viewer, VIEWER);
    await page.goto(`${origin}/updates/deployments/${secondId}`);
    const view = page.getByTestId('deployment-view');
    await view.waitFor({ timeout: 15_000 });
    expect(await view.getAttribute('data-state')).toBe('running');
    await page.getByTestId('device-table').waitFor();
    expect(await page.getByTestId('deployment-pause').count()).toBe(0);
    expect(await page.getByTestId('deployment-actions').count()).toBe(0);
    expect(await page.getByTestId('device-defer').count()).toBe(0);
    expect(await page.getByTestId('not-allowed').textContent()).toMatch(/cannot pause/);
    const status = await page.evaluate(async (id) => {
      const session = await (await fetch('/api/v1/session')).json() as { csrfToken: string };
      const res = await fetch(`/api/v1/deployments/${id}/pause`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken }, body: '{}' });
      return res.status;
    }, secondId);
    expect(status).toBe(403);
    expect((await server.updates.deployments.get(secondId)).deployment.state).toBe('running');
    await page.getByRole('navigation', { name: 'Updates' }).getByRole('link', { name: 'Deployments' }).click();
    await page.locator('[data-testid="deployment-row"]').first().waitFor();
    expect(await page.getByTestId('new-deployment').count()).toBe(0);
    await screenshot(page, 'updates-viewer');
  });

  it('refuses start-installs outside the maintenance window, as the server says, and aborts with a reason', async () => {
    const page = engineer.page;
    await page.getByTestId('deployment-start-installs').click();
    const dialog = openDialog(page);
    await dialog.getByRole('button', { name: 'Start installs' }).click();
    await expect.poll(() => dialog.getByRole('alert').textContent(), { timeout: 15_000 }).toMatch(/outside every maintenance window/);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await page.getByTestId('deployment-abort').click();
    await dialog.getByLabel(/Why it is aborted/).fill('planned in the browser test only');
    await dialog.getByRole('button', { name: 'Abort' }).click();
    await expect.poll(() => page.getByTestId('deployment-view').getAttribute('data-state'), { timeout: 15_000 }).toBe('aborted');
    expect((await server.updates.deployments.get(secondId)).deployment).toMatchObject({ state: 'aborted', lastAction: { action: 'abort', by: `user:${ENGINEER.username}` } });
    for (const g of fleet) expect(g.runningVersion()).toBe('1.1.0');
    await screenshot(page, 'updates-deployment-aborted');
  });
});
