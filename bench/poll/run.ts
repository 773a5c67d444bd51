/**
 * bench/poll: how many points per second one guardian reads per protocol, at what CPU and memory,
 * against an independent client reading the same values in the same run.
 *
 *   npm run bench:poll -- [--seconds 60] [--assets 72] [--protocols modbus,bacnet,snmp,redfish]
 *
 * A mixed simulated site runs in its own process (devices.ts); each measurement is a process of
 * its own (poller.ts), reading every asset of one protocol back to back, all assets at once: the
 * ceiling of one guardian's polling, not its 1 s schedule. Labelled short below 60 s.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { guardianEquipmentFor, type SimulatedAsset } from '@shellguard/sim';
import { flag, hasFlag, textFlag } from '../ingest/bench-support.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const seconds = flag('seconds', 60);
const assetCount = flag('assets', 72);
const protocols = textFlag('protocols', 'modbus,bacnet,snmp,redfish').split(',');
const clients = textFlag('clients', 'shellguard,baseline').split(',');

interface Result {
  protocol: string; client: string; assets: number; reads: number; failures: number; hung: number; goodPoints: number; badPoints: number;
  pointsPerSecond: number; readsPerSecond: number; p50Ms: number | null; p99Ms: number | null; cpuCores: number;
  pointsPerCpuSecond: number | null; peakRssMiB: number;
}

function firstLine(child: ReturnType<typeof spawn>): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => { rl.close(); resolve(l); });
    child.once('exit', (code) => reject(new Error(`${child.spawnargs.join(' ')} exited with ${code} before printing`)));
  });
}

const node = (script: string, args: string[]) => spawn(process.execPath, [...(process.env.BENCH_TRACE ? ['--trace-warnings'] : []), '--import', 'tsx', path.join(here, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });

const dir = mkdtempSync(path.join(tmpdir(), 'shellguard-bench-poll-'));
process.stdout.write(`bench/poll: ${assetCount}-asset ${hasFlag('modbus-site') ? 'Modbus' : 'mixed'} site, ${seconds} s per run${seconds < 60 ? ' (SHORT run)' : ''}, protocols ${protocols.join(', ')}\n`);
const devices = node('devices.ts', ['--assets', String(assetCount), ...(hasFlag('modbus-site') ? ['--modbus-site'] : [])]);
try {
  const { assets } = JSON.parse(await firstLine(devices)) as { assets: SimulatedAsset[] };
  const configDoc = {
    site: 'bench-poll', dataDir: path.join(dir, 'guardian'),
    server: { mqttUrl: 'mqtts://127.0.0.1:1', apiUrl: 'https://127.0.0.1:1', caFile: path.join(dir, 'unused-ca.crt') },
    equipment: assets.map((a) => ({ ...guardianEquipmentFor(a, path.join(dir, 'secrets')), timeoutMs: 2000 })),
  };
  const input = path.join(dir, 'input.json');
  writeFileSync(input, JSON.stringify({ assets, configDoc }));
  const results: Result[] = [];
  const runs = protocols.flatMap((p) => clients.map((c) => ({ p, c })));
  for (const [i, { p, c }] of runs.entries()) {
    const started = Date.now();
    const total = seconds + 3;
    const bar = setInterval(() => {
      const done = Math.min(1, (Date.now() - started) / 1000 / total);
      process.stdout.write(`\r  [${'#'.repeat(Math.round(done * 30)).padEnd(30)}] run ${i + 1}/${runs.length} ${p} ${c}   `);
    }, 1000);
    const child = node('poller.ts', ['--protocol', p, '--client', c, '--seconds', String(seconds), '--input', input]);
    try {
      results.push(JSON.parse(await firstLine(child)) as Result);
    } catch (err) {
      process.stdout.write(`\n  ${p} ${c}: ${(err as Error).message}\n`);
    } finally {
      clearInterval(bar);
      process.stdout.write('\r'.padEnd(80) + '\r');
    }
  }
  const fmt = (v: number | null, d = 0) => (v === null ? '-' : v.toFixed(d));
  process.stdout.write('\nprotocol  client      assets  points/s  reads/s  p50 ms  p99 ms  CPU cores  points/CPU-s  peak RSS MiB  bad  failed  hung\n');
  for (const r of results) {
    process.stdout.write(`${r.protocol.padEnd(9)} ${r.client.padEnd(10)} ${String(r.assets).padStart(6)} ${fmt(r.pointsPerSecond).padStart(9)} ${fmt(r.readsPerSecond, 1).padStart(8)} `
      + `${fmt(r.p50Ms, 1).padStart(7)} ${fmt(r.p99Ms, 1).padStart(7)} ${fmt(r.cpuCores, 2).padStart(10)} ${fmt(r.pointsPerCpuSecond).padStart(13)} ${fmt(r.peakRssMiB, 0).padStart(13)} ${String(r.badPoints).padStart(4)} ${String(r.failures).padStart(7)} ${String(r.hung ?? 0).padStart(5)}\n`);
  }
  process.stdout.write(`\n${JSON.stringify({ seconds, assetCount, results })}\n`);
} finally {
  devices.kill('SIGTERM');
}
