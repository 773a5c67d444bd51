/**
 * A wrong panel's ticket reaches the site's incident management exactly once, across a kill -9 of
 * the server (issue 10, "Proof required"). Real processes: `shellguard server` and `shellguard
 * guardian run` as a panel controller; the simulated panels (Modbus TCP) and their virtual PNS
 * towers on loopback; a webhook receiver that is down (503) when the ticket is raised.
 *
 *   door opened on a panel no work order covers → klaxon frame at its tower, ticket stored →
 *   the receiver refuses → kill -9 the server → the receiver comes back → the server restarts on
 *   the same data → the notice is delivered, signed, once (one accepted delivery per key).
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { startSimulatedSite, type SimulatedAsset, type SimulatedSite } from '@shellguard/sim';
import { SECRET, startWebhookReceiver, type WebhookReceiver } from '../../packages/server/test/notifications/webhook-receiver.ts';
import { CliProcess, runCli } from './support/cli-process.ts';
import { getJson } from './support/https-json.ts';
import { sleep, waitFor } from './support/wait-for.ts';

const SITE = 'site-1';
const GROUP = 'panel-guardians';
const BROKER_PORT = 19310;
const API_PORT = 19312;
const API_URL = `https://127.0.0.1:${API_PORT}`;
const SIM_BASE_PORT = 19400;

describe('a wrong panel across kill -9 of the server', () => {
  let work: string;
  let rootFile: string;
  let serverConfig: string;
  let server: CliProcess | undefined;
  let guardian: CliProcess | undefined;
  let sim: SimulatedSite | undefined;
  let hooks: WebhookReceiver | undefined;
  let adminEnv: NodeJS.ProcessEnv = {};
  let panels: SimulatedAsset[] = [];
  const gdir = () => path.join(work, 'guardian');

  const startServer = (): CliProcess => new CliProcess('server', ['server', '--config', serverConfig], { logFile: path.join(work, 'server.log') });
  const admin = (args: string[]): Promise<string> => runCli(args, { env: adminEnv });
  const diagnostics = () => `server: ${server?.output().slice(-1500) ?? '-'}\nguardian: ${guardian?.output().slice(-1000) ?? '-'}`;

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'sg-dmop-kill-'));
    const caDir = path.join(work, 'ca');
    rootFile = path.join(caDir, 'root.crt');
    await runCli(['ca', 'init', '--dir', caDir]);
    sim = await startSimulatedSite({ site: SITE, assets: 16, basePort: SIM_BASE_PORT, seed: 3, towers: { basePort: 0 } });
    panels = sim.assets.filter((a) => a.type === 'panel');
    hooks = await startWebhookReceiver();
    hooks.answer = () => 503;
    mkdirSync(gdir(), { recursive: true });
    serverConfig = path.join(work, 'server.yaml');
    writeFileSync(serverConfig, toYaml({
      dataDir: path.join(work, 'server'), caDir,
      mqtt: { host: '127.0.0.1', port: BROKER_PORT },
      api: { host: '127.0.0.1', port: API_PORT },
      notifications: { webhooks: [{ id: 'itsm', url: hooks.url('/itsm'), secret: SECRET, format: 'generic', topics: ['incident'] }] },
    }));
    writeFileSync(path.join(gdir(), 'guardian.yaml'), toYaml({
      site: SITE, dataDir: gdir(),
      server: { mqttUrl: `mqtts://127.0.0.1:${BROKER_PORT}`, apiUrl: API_URL, caFile: rootFile },
      equipment: panels.map((a) => ({ asset: a.id, name: a.name, area: a.area, profile: a.profile, host: a.host, port: a.port, unitId: a.unitId })),
      panels: panels.map((a) => ({ asset: a.id, tower: a.tower })),
    }));
  }, 120_000);

  afterAll(async () => {
    for (const p of [guardian, server]) if (p?.running) await p.stop('SIGKILL');
    await hooks?.close();
    await sim?.stop();
    if (work && !process.env.SG_KEEP) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('sounds the klaxon, stores the ticket and delivers it once after the server is killed and restarted', async () => {
    server = startServer();
    const [, token] = await server.waitForLine(/^admin API token \(shown once, store it now\): (\S+)$/, 60_000);
    await server.waitForLine(/^API https:\/\//, 60_000);
    adminEnv = { SHELLGUARD_SERVER: API_URL, SHELLGUARD_TOKEN: token!, SHELLGUARD_CA: rootFile };
    const deviceId = (await runCli(['guardian', 'id', '--data-dir', gdir()])).trim();
    await admin(['group', 'create', GROUP, '--site', SITE, '--min-version', '0.1.0']);
    await admin(['device', 'claim', deviceId, '--site', SITE, '--group', GROUP]);
    const manifest = path.join(gdir(), 'release.json');
    writeFileSync(manifest, await runCli(['guardian', 'measure', '--config', path.join(gdir(), 'guardian.yaml')]));
    await admin(['group', 'release', GROUP, '--file', manifest]);
    guardian = new CliProcess('guardian', ['guardian', 'run', '--config', path.join(gdir(), 'guardian.yaml')], { logFile: path.join(work, 'guardian.log') });
    const api = { caPem: readFileSync(rootFile, 'utf8'), token: token! };
    const board = async () => ((await getJson(`${API_URL}/api/v1/panels?site=${SITE}`, api)).body as { panels: { panel: string; door: boolean | null }[] }).panels;
    await waitFor('the server sees the panels', async () => (await board()).some((p) => p.panel === panels[0]!.id && p.door === false), { timeoutMs: 60_000, diagnostics });

    const panel = panels[0]!;
    const tower = sim!.towers.get(panel.id)!;
    sim!.model.openDoor(panel.id);
    await waitFor('the klaxon frame at the tower', () => tower.frames().some((f) => f.applied && f.state.buzzer === 'pattern-2'), { timeoutMs: 10_000, intervalMs: 20, diagnostics });
    let incidentId = 0;
    await waitFor('the ticket is stored', async () => {
      const list = ((await getJson(`${API_URL}/api/v1/incidents?kind=panel.intrusion`, api)).body as { incidents: { id: number; asset: string }[] }).incidents;
      incidentId = list.find((i) => i.asset === panel.id)?.id ?? 0;
      return incidentId > 0;
    }, { timeoutMs: 10_000, diagnostics });
    const key = `incident:${incidentId}:opened`;
    await waitFor('the receiver was tried and refused', () => hooks!.received.some((r) => r.idempotencyKey === key), { timeoutMs: 15_000, diagnostics });

    await server.stop('SIGKILL');
    hooks!.answer = () => 200;
    // Counted before the restart: the restarted server may deliver before it prints its API line.
    const refusedCount = hooks!.received.length;
    server = startServer();
    await server.waitForLine(/^API https:\/\//, 60_000);
    const accepted = () => hooks!.received.filter((r, i) => r.idempotencyKey === key && i >= refusedCount);
    await waitFor('the notice is delivered after the restart', () => accepted().length >= 1, { timeoutMs: 30_000, diagnostics });
    await sleep(3_000); // any duplicate would have been sent by now
    expect(accepted(), 'delivered once after the restart').toHaveLength(1);
    const delivered = accepted()[0]!;
    expect(delivered.signatureOk).toBe(true);
    expect(delivered.json).toMatchObject({ type: 'incident.opened', data: { incident: { id: incidentId, kind: 'panel.intrusion', severity: 'critical' } } });
    // Every attempt carried the same key and delivery id: a receiver de-duplicates on them.
    expect(new Set(hooks!.received.filter((r) => r.idempotencyKey === key).map((r) => r.deliveryId)).size).toBe(1);
    expect(tower.state().buzzer, 'the klaxon still sounds: nobody silenced it').toBe('pattern-2');
    expect(sim!.writesReceived()).toBe(0);
  }, 240_000); // a dozen CLI processes under tsx, two server starts: minutes on a loaded 2-core machine
});
