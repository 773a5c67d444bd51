/**
 * The dashboard on a big site, in Debian's Chromium: 10,030 points (590 AHUs of 17 points, five
 * attested devices over mutual-TLS MQTT, each asset polled every second) and 1,000 active
 * alarms (500 AHUs over their fan-vibration and supply-air limits), on the real server.
 *
 * Measured, each several times, from the browser's side:
 *   - alarm console: navigation to the first row drawn, and to the full count shown;
 *   - alarm console live update: an acknowledgement made over the API until its row says so;
 *   - asset chart: navigation to the chart drawn with its samples;
 *   - asset live update: a sample published over MQTT until its value is on the page.
 * Baseline in the same run: the same API reads made directly (no browser), so the numbers say
 * what the dashboard adds to the data's own cost.
 *
 *   npx tsx bench/dashboard/run.ts [--repeat 7]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { FileKeyStore, GUARDIAN_SWNAME, enrol } from '@shellguard/guardian';
import {
  Quality, controlTopic, encodeDeviceBirth, encodeDeviceData, encodeNodeBirth, sparkplugTopic, type Measurement, type Sample,
} from '@shellguard/protocol';
import { initPki, loadProfiles, spkiSha256Base64, startServer } from '@shellguard/server';
import { launchBrowser, signIn } from '../../test/browser/support/browser.ts';

const SITE = 'site-1';
const GROUP = 'bench-gateways';
const DEVICES = 5;
const ASSETS_PER_DEVICE = 118;
const ALARMING_ASSETS = 500;
const repeatArg = process.argv.indexOf('--repeat');
const REPEAT = repeatArg > 0 ? Number(process.argv[repeatArg + 1]) : 7;
const MEASUREMENTS: Measurement[] = ['runtime', 'guardian-bundle', 'config', 'profiles']
  .map((component) => ({ component, digest: Buffer.from(component.padEnd(32, '.')).toString('hex').slice(0, 64) }));

const profile = loadProfiles().get('ahu-generic')!;
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const summary = (xs: number[]) => `median ${quantile(xs, 0.5).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms (n=${xs.length})`;
const log = (line: string) => process.stdout.write(`${line}\n`);

/** The little of the DOM the page-side checks use (this file is type-checked without the DOM library). */
interface PageDocument { querySelector(selector: string): { getAttribute(name: string): string | null; textContent: string | null } | null }
type PageGlobal = { document: PageDocument };
// Self-contained functions (Playwright sends their source to the page), not strings: the
// dashboard's CSP (script-src 'self') refuses string evaluation, rightly.
const attributeAtLeast = ([selector, name, min]: [string, string, number]) =>
  Number((globalThis as unknown as PageGlobal).document.querySelector(selector)?.getAttribute(name) ?? 0) >= min;
const rowAcknowledged = (id: number) => ((globalThis as unknown as PageGlobal).document
  .querySelector(`[data-testid="alarm-row"][data-alarm-id="${id}"]`)?.getAttribute('data-state') ?? 'ack-active') === 'ack-active';
/** Where a page load's time went, from the page's own Performance API (ms since navigation start). */
const pageTimings = (apiPath: string) => {
  type Entry = { name: string; startTime: number; responseEnd: number; domContentLoadedEventEnd?: number };
  const perf = (globalThis as unknown as { performance: { now(): number; getEntriesByType(t: string): Entry[] } }).performance;
  const nav = perf.getEntriesByType('navigation')[0];
  const api = perf.getEntriesByType('resource').filter((e) => e.name.includes(apiPath)).at(-1);
  const session = perf.getEntriesByType('resource').filter((e) => e.name.endsWith('/api/v1/session')).at(-1);
  return {
    html: nav?.responseEnd ?? 0, domContentLoaded: nav?.domContentLoadedEventEnd ?? 0,
    sessionEnd: session?.responseEnd ?? 0, apiStart: api?.startTime ?? 0, apiEnd: api?.responseEnd ?? 0, drawn: perf.now(),
    resources: perf.getEntriesByType('resource').map((e) => `${e.name.replace(/^https:\/\/[^/]+/, '').slice(0, 60)} ${e.startTime.toFixed(0)}→${e.responseEnd.toFixed(0)}`),
  };
};
const textStartsWith = ([selector, text]: [string, string]) =>
  ((globalThis as unknown as PageGlobal).document.querySelector(selector)?.textContent ?? '').startsWith(text);

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-dash-'));
  await initPki(path.join(dir, 'ca'), { commonName: 'Bench site' });
  const server = await startServer({
    dataDir: path.join(dir, 'server'), caDir: path.join(dir, 'ca'),
    mqtt: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 },
    tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
  }, { logger: pino({ level: 'silent' }) });
  const origin = `https://127.0.0.1:${server.apiPort}`;
  const api = (method: string, p: string, body?: unknown) => new Promise<{ status: number; text: string; ms: number }>((resolve, reject) => {
    const t0 = performance.now();
    const req = https.request(`${origin}/api/v1${p}`, {
      method, ca: server.rootPem,
      headers: { authorization: `Bearer ${server.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += String(c); }).on('end', () => resolve({ status: res.statusCode ?? 0, text, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });

  await server.fleet.defineGroup({ id: GROUP, site: SITE, minSecureVersion: '0.1.0' }, 'bench');
  await server.fleet.registerRelease({ group: GROUP, swname: GUARDIAN_SWNAME, swversion: '0.1.0', components: MEASUREMENTS }, 'bench');
  log(`site: ${DEVICES} devices × ${ASSETS_PER_DEVICE} AHUs × ${profile.points.length} points = ${DEVICES * ASSETS_PER_DEVICE * profile.points.length} points; ${ALARMING_ASSETS} AHUs over two limits`);

  const clients: { client: MqttClient; deviceId: string; assets: string[]; seq: number; epoch: string }[] = [];
  for (let d = 0; d < DEVICES; d++) {
    const keys = await FileKeyStore.open(path.join(dir, `device-${d}`));
    await server.fleet.claim({ deviceId: keys.deviceId, site: SITE, group: GROUP }, 'bench');
    const enrolment = await enrol({
      apiUrl: origin, rootCaPem: server.rootPem, keyStore: keys, measurements: MEASUREMENTS,
      swname: GUARDIAN_SWNAME, swversion: '0.1.0', bootcount: 1, now: Date.now,
    });
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${server.mqttPort}`, {
      protocolVersion: 4, clientId: keys.deviceId, reconnectPeriod: 0, ca: server.rootPem, cert: enrolment.certificatePem, key: keys.tlsPrivateKeyPem(),
    });
    await client.subscribeAsync(controlTopic(keys.deviceId, 'down', 'ack'), { qos: 0 });
    const epoch = `bench-${d}-${Date.now()}`;
    await client.publishAsync(sparkplugTopic({ group: SITE, type: 'NBIRTH', edge: keys.deviceId }), Buffer.from(encodeNodeBirth(0, '0.1.0', { sparkplugSeq: 0, now: Date.now(), queueEpoch: epoch })));
    const assets = Array.from({ length: ASSETS_PER_DEVICE }, (_, i) => `AHU-${String(d * ASSETS_PER_DEVICE + i + 1).padStart(4, '0')}`);
    for (const a of assets) {
      await client.publishAsync(sparkplugTopic({ group: SITE, type: 'DBIRTH', edge: keys.deviceId, device: a }), Buffer.from(encodeDeviceBirth({
        name: a, type: profile.type, area: `hall-${d + 1}`, profile: profile.id,
        points: profile.points.map((p) => ({ name: p.name, unit: p.unit, kind: p.kind, description: p.description })),
      }, { sparkplugSeq: 0, now: Date.now() })));
    }
    clients.push({ client, deviceId: keys.deviceId, assets, seq: 0, epoch });
  }

  // Every asset polled once a second; alarming ones over fan_vibration h (4.5) and supply_air_temp h (27).
  let override: { asset: string; point: string; value: number } | null = null;
  const valueOf = (asset: string, n: number, point: string, i: number, t: number): number | boolean => {
    if (override && override.asset === asset && override.point === point) return override.value;
    const alarming = n <= ALARMING_ASSETS;
    if (point === 'fan_vibration') return alarming ? 5.2 + (t % 3) * 0.01 : 1.2 + ((n + t) % 5) * 0.01;
    if (point === 'supply_air_temp') return alarming ? 29.5 + (t % 3) * 0.1 : 18 + ((n * 7 + t) % 10) * 0.05;
    const p = profile.points[i]!;
    if (p.kind === 'binary') return point === 'fan_running';
    if (p.kind === 'enum') return 1;
    return 50 + ((n + i + t) % 13);
  };
  let tick = 0;
  const publish = (c: (typeof clients)[number], a: string, now: number) => {
    const n = Number(a.slice(4));
    const samples: Sample[] = profile.points.map((p, i) => ({ point: p.name, ts: now, value: valueOf(a, n, p.name, i, tick), quality: Quality.good } as Sample));
    c.seq++;
    c.client.publish(sparkplugTopic({ group: SITE, type: 'DDATA', edge: c.deviceId, device: a }),
      Buffer.from(encodeDeviceData({ epoch: c.epoch, seq: c.seq }, samples, { sparkplugSeq: c.seq & 0xff, now })), { qos: 0 });
  };
  const poller = setInterval(() => {
    tick++;
    const now = Date.now();
    for (const c of clients) for (const a of c.assets) publish(c, a, now);
  }, 1_000);

  const t0 = Date.now();
  let active = 0;
  while (Date.now() - t0 < 180_000) {
    active = server.alarms.list({}).filter((a) => a.active).length;
    process.stdout.write(`\r  waiting for the alarms' on-delays: ${active} of ${ALARMING_ASSETS * 2} active, ${server.stats().ingest.samplesStored} samples stored   `);
    if (active >= ALARMING_ASSETS * 2) break;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  log('');
  if (active < ALARMING_ASSETS * 2) throw new Error(`only ${active} alarms became active`);
  log(`ready after ${((Date.now() - t0) / 1000).toFixed(0)} s: ${active} active alarms; ingest ${server.stats().ingest.samplesStored} samples so far`);

  const password = 'measured-passphrase-7731';
  const created = await api('POST', '/users', { username: 'bench', role: 'admin', password });
  if (created.status !== 201) throw new Error(`could not create the bench user: ${created.text}`);
  const browser = await launchBrowser(spkiSha256Base64(server.apiCertificatePem));
  const page = browser.page;
  await signIn(page, origin, 'bench', password);

  // Baseline: the API reads the views make, straight from Node.
  const apiAlarms: number[] = [];
  const apiSamples: number[] = [];
  const target = 'AHU-0001';
  const detail = JSON.parse((await api('GET', `/assets/${target}?site=${SITE}`)).text) as { points: { id: number; name: string }[] };
  const vib = detail.points.find((p) => p.name === 'fan_vibration')!.id;
  for (let i = 0; i < REPEAT; i++) {
    apiAlarms.push((await api('GET', '/alarms')).ms);
    const to = Date.now();
    apiSamples.push((await api('GET', `/samples?points=${vib}&from=${to - 900_000}&to=${to}&layout=columns&limit=20000`)).ms);
  }

  const consoleFirstRow: number[] = [];
  const consoleAll: number[] = [];
  let consoleBreakdown: ReturnType<typeof pageTimings> | undefined;
  for (let i = 0; i < REPEAT; i++) {
    await page.goto('about:blank');
    const start = performance.now();
    await page.goto(`${origin}/alarms`);
    await page.getByTestId('alarm-row').first().waitFor({ timeout: 60_000 });
    consoleFirstRow.push(performance.now() - start);
    if (i === REPEAT - 1) consoleBreakdown = await page.evaluate(pageTimings, '/api/v1/alarms');
    await page.waitForFunction(attributeAtLeast, ['[data-testid="alarm-count"]', 'data-total', ALARMING_ASSETS * 2] as [string, string, number], { timeout: 60_000 });
    consoleAll.push(performance.now() - start);
  }

  // Live: acknowledge over the API (as another operator would) and wait for the row to say so.
  const consoleLive: number[] = [];
  // Alarms whose rows are on the page now (the console draws the first 100 of 1,000).
  const shown = (await page.locator('[data-testid="alarm-row"][data-state="unack-active"]').evaluateAll(
    (rows) => rows.map((r) => Number(r.getAttribute('data-alarm-id'))))).slice(0, REPEAT);
  if (shown.length < REPEAT) throw new Error(`only ${shown.length} unacknowledged rows on the page`);
  for (let i = 0; i < REPEAT; i++) {
    const alarm = { id: shown[i]! };
    const start = performance.now();
    const ack = await api('POST', `/alarms/${alarm.id}/ack`, { comment: 'bench' });
    if (ack.status !== 200) throw new Error(`ack refused: ${ack.text}`);
    // The console lists unacknowledged alarms first: the row moves down, or off the first page.
    await page.waitForFunction(rowAcknowledged, alarm.id, { timeout: 30_000 });
    consoleLive.push(performance.now() - start);
  }

  const chartFirst: number[] = [];
  let chartBreakdown: ReturnType<typeof pageTimings> | undefined;
  for (let i = 0; i < REPEAT; i++) {
    await page.goto('about:blank');
    const start = performance.now();
    await page.goto(`${origin}/assets/${SITE}/${target}?points=${vib}`);
    await page.waitForFunction(attributeAtLeast, ['[data-testid="asset-chart"]', 'data-points', 1] as [string, string, number], { timeout: 60_000 });
    chartFirst.push(performance.now() - start);
    if (i === REPEAT - 1) chartBreakdown = await page.evaluate(pageTimings, '/api/v1/samples');
  }

  // Live: one distinctive value published for the asset's fan vibration, until the page shows it.
  const chartLive: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const value = 2 + i * 0.37;
    const text = value.toFixed(2);
    const start = performance.now();
    override = { asset: target, point: 'fan_vibration', value };
    // Published at once (not at the next poll), so the figure is the path MQTT → ingest → store → SSE → page.
    const owner = clients.find((c) => c.assets.includes(target))!;
    publish(owner, target, Date.now());
    await page.waitForFunction(textStartsWith, ['[data-testid="latest-value-fan_vibration"]', text] as [string, string], { timeout: 30_000 });
    chartLive.push(performance.now() - start);
  }
  override = null;

  log('');
  log('dashboard on 10,000 points and 1,000 active alarms (Chromium headless, same machine as the server):');
  log(`  baseline GET /alarms (all ${active})          ${summary(apiAlarms)}`);
  log(`  alarm console: first row                      ${summary(consoleFirstRow)}`);
  const breakdown = (b: ReturnType<typeof pageTimings> | undefined) => (b ? `HTML ${b.html.toFixed(0)}, app loaded ${b.domContentLoaded.toFixed(0)}, session ${b.sessionEnd.toFixed(0)}, data asked ${b.apiStart.toFixed(0)} → answered ${b.apiEnd.toFixed(0)}, drawn by ${b.drawn.toFixed(0)} ms` : 'n/a');
  log(`    where the last load went (page clock): ${breakdown(consoleBreakdown)}`);
  if (process.argv.includes('--resources')) for (const r of consoleBreakdown?.resources ?? []) log(`      ${r}`);
  log(`  alarm console: all ${active} counted               ${summary(consoleAll)}`);
  log(`  alarm console: live ack → row updated         ${summary(consoleLive)}`);
  log(`  baseline GET 15 min of raw samples            ${summary(apiSamples)}`);
  log(`  asset chart: drawn with samples               ${summary(chartFirst)}`);
  log(`    where the last load went (page clock): ${breakdown(chartBreakdown)}`);
  log(`  asset chart: published sample → on the page   ${summary(chartLive)}  (latest values are pushed at most every 500 ms)`);
  clearInterval(poller);
  await browser.close();
  for (const c of clients) await c.client.endAsync();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
