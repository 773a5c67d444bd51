/**
 * The DMOP loop end to end over real sockets (issue 10, "Proof required"): the demo system —
 * simulated panels over Modbus TCP, guardians as panel controllers polling doors and breakers at
 * 25 ms, mutual-TLS MQTT to the server, the server judging every edge, Andon instructions back
 * to the guardians, Patlite PNS frames to each panel's virtual tower.
 *
 *   - a wrong panel opened: security alert, klaxon frame at that panel's tower, ticket stored and
 *     assigned to the site's manager with the evidence; closing the door does not silence it;
 *     a manager's silence with a reason does;
 *   - a skipped step on the released panel: deviation, klaxon, work paused until acknowledged;
 *   - the server down: the guardian still sounds the klaxon locally on an uncovered door, and the
 *     server raises the alert from the guardian's queue once it is back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VirtualTower } from '@shellguard/sim';
import { startDemo, type RunningDemo } from '@shellguard/cli/testing';
import { getJson, postJson } from './support/https-json.ts';
import { SECRET, startWebhookReceiver, type WebhookReceiver } from '../../packages/server/test/notifications/webhook-receiver.ts';
import { waitFor } from './support/wait-for.ts';

const SITE = 'site-1';
let dir: string;
let demo: RunningDemo;
let uncovered: string[];
let hooks: WebhookReceiver;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sg-dmop-'));
  hooks = await startWebhookReceiver();
  demo = await startDemo({
    dir: path.join(dir, 'demo'), assets: 16, guardians: 2, apiPort: 0, mqttPort: 0, simPort: 27100, scenario: 'none',
    // The site's incident management (generic JSON) and PagerDuty (Events API v2), both signed.
    webhooks: [
      { id: 'itsm', url: hooks.url('/itsm'), secret: SECRET, format: 'generic', topics: ['incident'] },
      { id: 'pagerduty', url: hooks.url('/pagerduty'), secret: SECRET, format: 'pagerduty', routingKey: 'R0123456789abcdef0123456789abcde' },
    ],
  }, { logger: pino({ level: 'warn' }) });
  uncovered = demo.sim.assets.filter((a) => a.type === 'panel' && a.id !== demo.dmop?.panel).map((a) => a.id);
}, 120_000);

afterAll(async () => {
  await demo?.stop();
  await hooks?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const api = (p: string) => `${demo.origin}/api/v1${p}`;
const auth = () => ({ caPem: demo.server.rootPem, token: demo.token });
const buzzer = (tower: VirtualTower) => tower.state().buzzer;

interface IncidentView { id: number; kind: string; assignee?: string; site?: string; asset?: string; severity: string; detail: Record<string, unknown> }
interface AlertView { id: number; panel: string; incidentId: number | null }

async function incidents(kind: string): Promise<IncidentView[]> {
  const r = await getJson(api(`/incidents?kind=${kind}`), auth());
  expect(r.status).toBe(200);
  return (r.body as { incidents: IncidentView[] }).incidents;
}

/** Webhook deliveries of an incident's opening, per endpoint path. */
function openedDeliveries(incidentId: number): Record<string, number> {
  const key = `incident:${incidentId}:opened`;
  const out: Record<string, number> = {};
  for (const r of hooks.received) if (r.idempotencyKey === key) out[r.path] = (out[r.path] ?? 0) + 1;
  return out;
}

async function openAlerts(): Promise<AlertView[]> {
  return ((await getJson(api('/panel-alerts'), auth())).body as { alerts: AlertView[] }).alerts;
}

describe('DMOP over real sockets', () => {
  it('shows the released work order on its panel tower', async () => {
    expect(demo.dmop, 'the demo released its sample work order').toBeDefined();
    const tower = demo.sim.towers.get(demo.dmop!.panel)!;
    await waitFor('the released panel shows blue', () => tower.state().blue === 'on', { timeoutMs: 15_000 });
    expect(buzzer(tower)).toBe('stop');
  });

  it('a wrong panel: klaxon frame at its tower, ticket to the manager with evidence, not silenced by closing the door', async () => {
    const panel = uncovered[0]!;
    const tower = demo.sim.towers.get(panel)!;
    demo.sim.model.openDoor(panel);
    await waitFor('the klaxon frame reaches the tower', () => tower.frames().some((f) => f.applied && f.state.buzzer === 'pattern-2'), { timeoutMs: 10_000, intervalMs: 20 });
    await waitFor('the ticket is stored', async () => (await incidents('panel.intrusion')).some((i) => i.asset === panel), { timeoutMs: 10_000 });
    const ticket = (await incidents('panel.intrusion')).find((i) => i.asset === panel)!;
    expect(ticket).toMatchObject({ severity: 'critical', site: SITE, assignee: 'maria' });
    expect(ticket.detail).toMatchObject({ panel, workOrdersNearby: [expect.objectContaining({ assignees: ['tom'], panels: [demo.dmop!.panel] })] });
    await waitFor('the ticket reaches both outside systems', () => Object.keys(openedDeliveries(ticket.id)).length === 2, { timeoutMs: 15_000 });
    expect(openedDeliveries(ticket.id)).toEqual({ '/itsm': 1, '/pagerduty': 1 });
    const generic = hooks.received.find((r) => r.path === '/itsm' && r.idempotencyKey === `incident:${ticket.id}:opened`)!;
    expect(generic.signatureOk).toBe(true);
    expect(generic.json).toMatchObject({ type: 'incident.opened', data: { incident: { id: ticket.id, kind: 'panel.intrusion', assignee: 'maria' } } });
    const pd = hooks.received.find((r) => r.path === '/pagerduty' && r.idempotencyKey === `incident:${ticket.id}:opened`)!;
    expect(pd.json).toMatchObject({ event_action: 'trigger', dedup_key: `shellguard-incident-${ticket.id}`, payload: { severity: 'critical' } });
    const events = (await getJson(api('/audit?target=' + encodeURIComponent(`panel:${SITE}/${panel}`)), auth())).body as { events: { action: string; target: string }[] };
    expect(events.events.some((e) => e.action === 'panel.intrusion' && e.target === `panel:${SITE}/${panel}`)).toBe(true);

    demo.sim.model.closeDoor(panel);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(buzzer(tower), 'closing the door does not silence the klaxon').toBe('pattern-2');

    const [alert] = (await openAlerts()).filter((a) => a.panel === panel);
    const refused = await postJson(api(`/panel-alerts/${alert!.id}/silence`), {}, auth());
    expect(refused.status, 'a silence needs a reason').toBe(400);
    const ok = await postJson(api(`/panel-alerts/${alert!.id}/silence`), { reason: 'Contractor at the wrong panel; escorted, briefed' }, auth());
    expect(ok.status).toBe(200);
    await waitFor('the tower is quiet', () => buzzer(tower) === 'stop', { timeoutMs: 10_000, intervalMs: 20 });
    await waitFor('the guardian cleared its own klaxon', () => demo.guardians.every((g) => g.panels().every((p) => p.panel !== panel || p.localAlarm === null)), { timeoutMs: 10_000 });
  });

  it('a skipped step on the released panel: deviation, klaxon, paused until a manager acknowledges', async () => {
    const { panel, workOrderId } = demo.dmop!;
    const tower = demo.sim.towers.get(panel)!;
    demo.sim.model.openDoor(panel);
    await waitFor('step 1 done', async () => ((await getJson(api(`/dmop/work-orders/${workOrderId}`), auth())).body as { workOrder: { currentStep: number } }).workOrder.currentStep === 1, { timeoutMs: 10_000 });
    demo.sim.model.setBreaker(panel, 0, false); // step 2: main breaker off
    await waitFor('step 2 done', async () => ((await getJson(api(`/dmop/work-orders/${workOrderId}`), auth())).body as { workOrder: { currentStep: number } }).workOrder.currentStep === 2, { timeoutMs: 15_000 });
    demo.sim.model.setBreaker(panel, 0, true); // step 6 before the absence-of-voltage check: skipped steps
    await waitFor('the deviation klaxon frame', () => tower.frames().some((f) => f.applied && f.state.buzzer === 'pattern-1'), { timeoutMs: 10_000, intervalMs: 20 });
    let detail: { paused: boolean; deviations: { id: number; kind: string; expected: string; observed: string }[] } = { paused: false, deviations: [] };
    await waitFor('the deviation is recorded', async () => {
      detail = (await getJson(api(`/dmop/work-orders/${workOrderId}`), auth())).body as typeof detail;
      return detail.deviations.length === 1;
    }, { timeoutMs: 10_000 });
    expect(detail.paused).toBe(true);
    expect(detail.deviations[0]).toMatchObject({ kind: 'out-of-order', expected: expect.stringMatching(/step 3/) });
    demo.sim.model.closeDoor(panel);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(buzzer(tower), 'closing the panel does not silence the deviation').toBe('pattern-1');
    const ack = await postJson(api(`/dmop/deviations/${detail.deviations[0]!.id}/acknowledge`), { reason: 'Breaker re-closed by mistake; re-briefed, redo from step 3' }, auth());
    expect(ack.status).toBe(200);
    await waitFor('the tower is quiet', () => buzzer(tower) === 'stop', { timeoutMs: 10_000, intervalMs: 20 });
  });

  it('with the server down the guardian still sounds the klaxon locally; the server raises the alert once back', async () => {
    const panel = uncovered[1]!;
    const tower = demo.sim.towers.get(panel)!;
    await demo.stopServer();
    const before = tower.frames().length;
    demo.sim.model.openDoor(panel);
    await waitFor('the local klaxon frame', () => tower.frames().slice(before).some((f) => f.applied && f.state.buzzer === 'pattern-2'), { timeoutMs: 5_000, intervalMs: 10 });
    demo.sim.model.closeDoor(panel);
    await new Promise((r) => setTimeout(r, 500));
    expect(buzzer(tower)).toBe('pattern-2');
    await demo.restartServer();
    await waitFor('the alert raised from the queued samples', async () => (await openAlerts()).some((a) => a.panel === panel && a.incidentId !== null), { timeoutMs: 30_000 });
    expect(buzzer(tower), 'still sounding after the server is back').toBe('pattern-2');
    const ticket = (await incidents('panel.intrusion')).find((i) => i.asset === panel)!;
    await waitFor('the ticket raised after the outage is delivered', () => Object.keys(openedDeliveries(ticket.id)).length === 2, { timeoutMs: 15_000 });
    expect(openedDeliveries(ticket.id)).toEqual({ '/itsm': 1, '/pagerduty': 1 });
    expect(demo.sim.writesReceived(), 'equipment is never written to').toBe(0);
  });
});
