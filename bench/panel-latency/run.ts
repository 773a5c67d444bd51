/**
 * Panel latency (issue 10): from a door contact or breaker changing in the simulator to the
 * klaxon frame received by the panel's virtual PNS tower, and to the security ticket stored —
 * on the whole demo system (server, embedded broker over mutual TLS, two guardians polling
 * 16 assets with the default 25 ms fast poll on doors and breakers, virtual towers).
 *
 *   A. wrong panel, server up: door opened on a panel no work order covers → klaxon frame
 *      (the guardian decides locally from the last instruction), and → incident stored (server);
 *   B. deviation, server path: on the released panel, a breaker the procedure does not operate →
 *      the server's deviation instruction → klaxon frame at the tower;
 *   C. wrong panel, server down: door opened → the guardian's local klaxon frame.
 *
 * Baseline in the same run: a PNS frame written straight to the same virtual tower and its ACK
 * (the output path's own floor), and the fast poll interval (the input side's floor).
 *
 *   npx tsx bench/panel-latency/run.ts [--trials 200]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { encodeAndon } from '@shellguard/protocol';
import type { VirtualTower } from '@shellguard/sim';
import { startDemo, type RunningDemo } from '@shellguard/cli/testing';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const TRIALS = arg('--trials', 200);
const SITE = 'site-1';
const log = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const row = (name: string, xs: number[]) =>
  `| ${name} | ${xs.length} | ${quantile(xs, 0.5).toFixed(1)} | ${quantile(xs, 0.99).toFixed(1)} | ${Math.max(...xs).toFixed(1)} |`;

function progress(label: string, done: number, total: number): void {
  if (!process.stdout.isTTY) return;
  const width = 30;
  const filled = Math.round((done / total) * width);
  process.stdout.write(`\r  ${label.padEnd(34)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
  if (done === total) process.stdout.write('\n');
}

/** Resolves with performance.now() of the first frame at the tower matching `pred`, after `since`. */
function nextFrame(tower: VirtualTower, pred: (buzzer: string, red: string) => boolean, timeoutMs = 5_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error('no matching tower frame in time')); }, timeoutMs);
    const off = tower.onFrame((f) => {
      if (f.command && pred(f.state.buzzer, f.state.red)) {
        clearTimeout(timer);
        off();
        resolve(f.receivedAt);
      }
    });
  });
}

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (performance.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Baseline: one PNS frame to the tower over TCP and its ACK. */
async function rawPnsRoundTrips(tower: { host: string; port: number }, n: number): Promise<number[]> {
  const socket = net.connect(tower.port, tower.host);
  await new Promise((r) => socket.once('connect', r));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    socket.write(encodeAndon(i % 2 ? 'idle' : 'released'));
    await new Promise((r) => socket.once('data', r));
    out.push(performance.now() - t0);
  }
  socket.destroy();
  return out;
}

const manager = { id: 'user:maria', name: 'maria', role: 'manager' as const };

async function wrongPanel(demo: RunningDemo, panels: string[], n: number) {
  const klaxon: number[] = [];
  const ticket: number[] = [];
  for (let i = 0; i < n; i++) {
    const panel = panels[i % panels.length]!;
    const tower = demo.sim.towers.get(panel)!;
    const sup = demo.server.procedures.supervisor;
    const frame = nextFrame(tower, (b) => b === 'pattern-2');
    const t0 = performance.now();
    demo.sim.model.openDoor(panel);
    klaxon.push((await frame) - t0);
    const alert = await until('ticket stored', () => sup.openAlerts(SITE).find((a) => a.panel === panel && a.incidentId !== null));
    ticket.push(performance.now() - t0);
    // Reset: close the door, a manager silences (clearLocal), the tower goes quiet.
    demo.sim.model.closeDoor(panel);
    const quiet = nextFrame(tower, (b) => b === 'stop');
    await sup.silenceAlert(alert.id, 'bench trial reset', manager);
    await quiet;
    await sleep(60);
    progress('A. wrong panel, server up', i + 1, n);
  }
  return { klaxon, ticket };
}

async function deviations(demo: RunningDemo, n: number) {
  const { panel } = demo.dmop!;
  const tower = demo.sim.towers.get(panel)!;
  const sup = demo.server.procedures.supervisor;
  demo.sim.model.openDoor(panel); // step 1 done: the work is in progress
  await until('work order in progress', () => sup.panelBoard(SITE).find((p) => p.panel === panel && p.door === true && p.workOrder?.status === 'in-progress'));
  await sleep(200);
  const klaxon: number[] = [];
  for (let i = 0; i < n; i++) {
    const frame = nextFrame(tower, (b) => b === 'pattern-1');
    const t0 = performance.now();
    demo.sim.model.setBreaker(panel, 2, false); // not in the procedure: a deviation
    klaxon.push((await frame) - t0);
    const open = await (async () => {
      for (let k = 0; k < 2000; k++) {
        const detail = await sup.detail(demo.dmop!.workOrderId);
        const x = detail.deviations.find((v) => v.acknowledgedAt === null && v.id > 0);
        if (x) return x;
        await sleep(2);
      }
      throw new Error('no deviation recorded');
    })();
    const resumed = nextFrame(tower, (b) => b === 'stop');
    await sup.acknowledgeDeviation(open.id, 'bench trial reset', manager);
    await resumed;
    demo.sim.model.setBreaker(panel, 2, true); // back to the baseline: accepted, no deviation
    await sleep(120);
    progress('B. deviation, server path', i + 1, n);
  }
  return klaxon;
}

async function serverDown(demo: RunningDemo, panels: string[], n: number) {
  const klaxon: number[] = [];
  let done = 0;
  let outages = 0;
  const missed: string[] = [];
  let pool = [...panels];
  while (done < n && pool.length > 0) {
    await demo.stopServer();
    outages++;
    // One trial per panel per outage: the local alarm is latched until the server clears it.
    const opened: string[] = [];
    for (const panel of pool) {
      if (done >= n) break;
      opened.push(panel);
      const tower = demo.sim.towers.get(panel)!;
      const frame = nextFrame(tower, (b) => b === 'pattern-2');
      const t0 = performance.now();
      demo.sim.model.openDoor(panel);
      klaxon.push((await frame) - t0);
      await sleep(200); // a door stays open a moment (one guardian poll at least)
      demo.sim.model.closeDoor(panel);
      done++;
      progress('C. wrong panel, server down', done, n);
      await sleep(30);
    }
    await demo.restartServer();
    const sup = demo.server.procedures.supervisor;
    // The server learns of the openings from the guardians' queues and raises the alerts; a manager
    // silences them, which clears the guardians' latched klaxons. An opening the server did not
    // raise is counted (and its panel, still latched, leaves the pool).
    await until('alerts after restart', () => opened.every((p) => sup.openAlerts(SITE).some((a) => a.panel === p && a.id > 0)) || undefined, 15_000)
      .catch(() => undefined);
    const raised = new Set(sup.openAlerts(SITE).filter((a) => a.id > 0).map((a) => a.panel));
    for (const p of opened) if (!raised.has(p)) { missed.push(`${p} (outage ${outages})`); pool = pool.filter((x) => x !== p); }
    for (const a of sup.openAlerts(SITE)) if (a.id > 0) await sup.silenceAlert(a.id, 'bench outage reset', manager);
    await Promise.all(opened.filter((p) => raised.has(p)).map((p) => until(`${p} quiet`, () => demo.sim.towers.get(p)!.state().buzzer === 'stop' || undefined, 20_000)));
  }
  return { klaxon, outages, missed };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-panel-latency-'));
  log(`panel latency: ${TRIALS} trials per scenario, demo site of 16 assets and 2 guardians (25 ms door poll)`);
  const demo = await startDemo({ dir: path.join(dir, 'demo'), assets: 16, guardians: 2, apiPort: 0, mqttPort: 0, simPort: 26100, scenario: 'none' }, { logger: pino({ level: 'warn' }) });
  try {
    if (!demo.dmop) throw new Error('the demo did not release its sample work order');
    const uncovered = demo.sim.assets.filter((a) => a.type === 'panel' && a.id !== demo.dmop!.panel).map((a) => a.id);
    await sleep(2_000);
    const baseTower = demo.sim.assets.find((a) => a.id === uncovered[0])!.tower!;
    const pns = await rawPnsRoundTrips(baseTower, TRIALS);
    const only = process.argv.includes('--only-server-down');
    const a = only ? { klaxon: [0], ticket: [0] } : await wrongPanel(demo, uncovered, TRIALS);
    const b = only ? [0] : await deviations(demo, TRIALS);
    const c = await serverDown(demo, uncovered, TRIALS);
    log('');
    log('| path | trials | p50 ms | p99 ms | max ms |');
    log('|---|---|---|---|---|');
    log(row('A. wrong panel, server up: door → klaxon frame (guardian decides)', a.klaxon));
    log(row('A. wrong panel, server up: door → ticket stored', a.ticket));
    log(row('B. deviation: breaker → klaxon frame (server decides)', b));
    log(row('C. wrong panel, server down: door → local klaxon frame', c.klaxon));
    log(row('baseline: PNS frame → ACK, straight to the tower', pns));
    log('baseline: fast poll interval 25 ms (a change waits 12.5 ms on average to be read)');
    log(`C: ${c.outages} server outages; openings the restarted server did not raise as alerts: ${c.missed.length}${c.missed.length ? ` (${c.missed.join(', ')})` : ''}`);
    log(`equipment writes during the run: ${demo.sim.writesReceived()}`);
  } finally {
    await demo.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
