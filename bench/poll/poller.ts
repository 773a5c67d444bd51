/**
 * One measured poller of bench/poll, in its own process so that its CPU and memory are its own:
 * `--client shellguard` polls the assets of one protocol through the guardian's drivers
 * (createDriver, exactly as a guardian does); `--client baseline` reads the same values with an
 * independent client library (modbus-serial, net-snmp without our read-only layer, node:https,
 * @bacnet-js/client), doing no more than fetch and decode. Every asset is read back to back, all
 * assets at once, for `--seconds`; prints one JSON line with points/s, read latency, CPU and peak RSS.
 */
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { BUILTIN_PROFILE_DIR, Quality, systemClock, type EquipmentProtocol } from '@shellguard/protocol';
import { createDriver, loadProfileCatalog, validateGuardianConfig } from '@shellguard/guardian';
import { flag, textFlag, quantile } from '../ingest/bench-support.ts';
import { baselineReader } from './baselines.ts';
import type { SimulatedAsset } from '@shellguard/sim';

const protocol = textFlag('protocol', 'modbus') as EquipmentProtocol;
const client = textFlag('client', 'shellguard');
const seconds = flag('seconds', 30);
const warmupSeconds = flag('warmup', 3);
const { assets: all, configDoc } = JSON.parse(readFileSync(textFlag('input', ''), 'utf8')) as { assets: SimulatedAsset[]; configDoc: Record<string, unknown> };
const assets = all.filter((a) => a.protocol === protocol);
const catalog = loadProfileCatalog(BUILTIN_PROFILE_DIR);

export interface Reader { read(): Promise<{ good: number; bad: number }>; close(): Promise<void> }

async function readers(): Promise<Reader[]> {
  if (client === 'baseline') return Promise.all(assets.map((a) => baselineReader(a, catalog.get(a.profile)!.profile)));
  const config = validateGuardianConfig(configDoc, 'bench', process.cwd());
  const logger = pino({ level: 'silent' });
  return config.equipment.filter((e) => assets.some((a) => a.id === e.asset)).map((e) => {
    const driver = createDriver({ equipment: e, profile: catalog.get(e.profile)!.profile, clock: systemClock, logger, onSamples: () => {}, services: {} });
    return {
      read: async () => {
        const r = await driver.read('all');
        const good = r.samples.filter((s) => s.quality === Quality.good).length;
        return { good, bad: r.samples.length - good };
      },
      close: () => driver.close(),
    };
  });
}

const rs = await readers();
let measuring = false;
let stop = false;
const latencies: number[] = [];
let good = 0;
let bad = 0;
let reads = 0;
let failures = 0;
/** A read that never settles (a client that lost its request) counts as a failure after this long. */
const READ_DEADLINE_MS = 5000;
let hung = 0;
function withDeadline<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => { hung += 1; reject(new Error(`no answer within ${READ_DEADLINE_MS} ms`)); }, READ_DEADLINE_MS);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
const loops = rs.map(async (r) => {
  while (!stop) {
    const t0 = performance.now();
    try {
      const got = await withDeadline(r.read());
      if (measuring) { good += got.good; bad += got.bad; reads += 1; latencies.push(performance.now() - t0); }
    } catch {
      if (measuring) failures += 1;
      await new Promise((res) => setTimeout(res, 100));
    }
  }
});
await new Promise((res) => setTimeout(res, warmupSeconds * 1000));
const cpu0 = process.cpuUsage();
const t0 = performance.now();
measuring = true;
await new Promise((res) => setTimeout(res, seconds * 1000));
measuring = false;
const wall = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
stop = true;
await Promise.all(loops);
await Promise.all(rs.map((r) => r.close()));
latencies.sort((a, b) => a - b);
const status = readFileSync('/proc/self/status', 'utf8');
const cpuCores = (cpu.user + cpu.system) / 1e6 / wall;
process.stdout.write(`${JSON.stringify({
  protocol, client, assets: assets.length, seconds: wall, reads, failures, hung, goodPoints: good, badPoints: bad,
  pointsPerSecond: good / wall, readsPerSecond: reads / wall,
  p50Ms: latencies.length ? quantile(latencies, 0.5) : null, p99Ms: latencies.length ? quantile(latencies, 0.99) : null,
  cpuCores, pointsPerCpuSecond: cpuCores > 0 ? good / wall / cpuCores : null,
  peakRssMiB: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024,
})}\n`);
process.exit(0);
