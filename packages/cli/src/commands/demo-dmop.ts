/**
 * The demo's digital method of procedure: the people (an engineer who writes procedures, a
 * manager who approves and silences, a technician who works), the sample procedure — isolating
 * a PDU feed at its source panel — written by the engineer and approved by the manager (two-person
 * rule), and one work order released to the technician for the first panel, ready to walk
 * through from the browser and the simulator controls.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { sampleProcedure, type startServer } from '@shellguard/server';
import type { SimulatedSite } from '@shellguard/sim';
import { ApiClientError, createApiClient } from '../api-client.ts';
import { randomPassword } from './demo-access.ts';

type Server = Awaited<ReturnType<typeof startServer>>;
export interface DemoPerson { username: string; password: string }
export interface DemoPeople { engineer: DemoPerson; manager: DemoPerson; technician: DemoPerson }

const PEOPLE = { engineer: 'erin', manager: 'maria', technician: 'tom' } as const;

/** Creates the three people over the API (as an admin would) and keeps their passwords in `dir/people` (0600). */
export async function createDemoPeople(opts: { server: string; token: string; caFile: string; dir: string }): Promise<DemoPeople | undefined> {
  const api = createApiClient({ server: opts.server, token: opts.token, ca: opts.caFile });
  const people: Partial<DemoPeople> = {};
  for (const [role, username] of Object.entries(PEOPLE) as [keyof DemoPeople, string][]) {
    let password = randomPassword();
    while (password.toLowerCase().includes(username)) password = randomPassword();
    try {
      await api.post('/users', { username, role, password });
    } catch (err) {
      if (err instanceof ApiClientError) return undefined;
      throw err;
    }
    people[role] = { username, password };
  }
  const all = people as DemoPeople;
  writeFileSync(path.join(opts.dir, 'people'), Object.entries(all).map(([role, p]) => `${role} ${p.username} ${p.password}\n`).join(''), { mode: 0o600 });
  return all;
}

/** Waits until the server has seen the panel's door (its guardian is attested and polling). */
async function untilPanelReports(server: Server, site: string, panel: string, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (server.procedures.supervisor.panelBoard(site).some((p) => p.panel === panel && p.door !== null)) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

export interface DemoDmop {
  panel: string;
  workOrderId: number;
  lines: string[];
}

/** The sample procedure approved and one work order released for the first panel. */
export async function seedDemoProcedure(server: Server, sim: SimulatedSite, site: string, people: DemoPeople, origin: string): Promise<DemoDmop | undefined> {
  const panel = sim.assets.find((a) => a.type === 'panel')?.id;
  if (!panel || !(await untilPanelReports(server, site, panel, 30_000))) return undefined;
  const actor = (role: keyof DemoPeople, r: 'engineer' | 'manager' | 'technician') => ({ id: `user:${people[role].username}`, name: people[role].username, role: r });
  const engineer = actor('engineer', 'engineer');
  const manager = actor('manager', 'manager');
  const { library, supervisor } = server.procedures;
  const v = await library.submit(sampleProcedure('isolate-pdu-feed'), engineer);
  await library.approve(v.procedureId, v.version, manager);
  const now = Date.now();
  const wo = await supervisor.createWorkOrder({
    site, procedureId: v.procedureId, version: v.version, bindings: { source: panel },
    windowStart: now, windowEnd: now + 8 * 3_600_000, assignees: [people.technician.username],
    title: `Isolate the PDU feed at ${panel}`,
  }, engineer);
  await supervisor.approveWorkOrder(wo.id, manager);
  await supervisor.releaseWorkOrder(wo.id, engineer);
  const other = sim.assets.filter((a) => a.type === 'panel')[1]?.id;
  return {
    panel, workOrderId: wo.id,
    lines: [
      `  DMOP     work order ${wo.id} (isolate a PDU feed) released to ${people.technician.username} at ${panel}: ${origin}/work-orders/${wo.id}`,
      `           walk it with the simulator controls on the work order; skip the voltage check to see a deviation;`,
      `           open ${other ?? 'another panel'} on ${origin}/panels for a wrong-panel security alert (klaxon, ticket to ${people.manager.username})`,
    ],
  };
}

/** The simulator's panels for the dashboard's demo-only controls. */
export function demoSimulator(sim: SimulatedSite, site: string) {
  const panels = () => sim.assets.filter((a) => a.type === 'panel').map((a) => a.id);
  return {
    site,
    panels,
    setDoor: (panel: string, open: boolean) => (open ? sim.model.openDoor(panel) : sim.model.closeDoor(panel)),
    setBreaker: (panel: string, point: string, closed: boolean) => {
      const m = /^(?:main_breaker|breaker_(\d))_closed$/.exec(point);
      sim.model.setBreaker(panel, m?.[1] ? Number(m[1]) : 0, closed);
    },
  };
}
