/**
 * bench/rollout/footprint: what a built release costs a gateway, beside the same code under tsx.
 *
 *   start time   `shellguard --help`, median of N runs: the built bin (plain node) vs node --import tsx
 *   memory       one guardian polling eight simulated assets and sending to a real server (TLS,
 *                attested), as a separate process; VmRSS sampled from /proc/<pid>/status, steady =
 *                median over the second half of the run, peak = VmHWM at the end. Variants:
 *                  built      the application bundle run by deploy/guardian/boot.mjs from an A/B
 *                             slot layout, native layer from the platform slot, with the node flags
 *                             and environment of the systemd unit (what a gateway runs)
 *                  built-plain the same with plain `node` (no flags)
 *                  built-cli  `shellguard guardian run` from the server bundle (all of the CLI loaded)
 *                  tsx        `node --import tsx packages/cli/src/main.ts guardian run` (dev)
 *
 * The server, broker and simulated equipment run in this process; only the guardian is measured.
 *
 *   node --import tsx bench/rollout/footprint.ts [--runs 15] [--seconds 120] [--variants built,built-cli,tsx]
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { stringify as toYaml } from 'yaml';
import { FileKeyStore, GUARDIAN_SWNAME, GUARDIAN_VERSION } from '@shellguard/guardian';
import type { Measurement } from '@shellguard/protocol';
import { initPki, startServer } from '@shellguard/server';
import { startSimulatedSite } from '@shellguard/sim';
import { REPO_ROOT } from '../../scripts/build/bundle.ts';
import { buildRelease } from '../../scripts/build/release.ts';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1]! : fallback;
};
const runs = Number(flag('runs', '15'));
const seconds = Number(flag('seconds', '120'));
const variants = flag('variants', 'built,built-plain,built-cli,tsx').split(',') as Variant[];
/** Extra node flags for every guardian variant, e.g. to try heap settings: --node-flags "--max-semi-space-size=1". */
const nodeFlags = flag('node-flags', '').split(' ').filter(Boolean);
/** Extra environment for every guardian variant, e.g. --env MALLOC_ARENA_MAX=2. */
const extraEnv = Object.fromEntries(flag('env', '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
type Variant = 'built' | 'built-plain' | 'built-cli' | 'tsx';

/** The node flags and environment the systemd unit runs the guardian with (deploy/guardian/shellguard-guardian.service). */
function unitRuntime(): { flags: string[]; env: Record<string, string> } {
  const unit = readFileSync(path.join(REPO_ROOT, 'deploy/guardian/shellguard-guardian.service'), 'utf8');
  const exec = /^ExecStart=\S+ (.*?)\/opt\/shellguard\/guardian\/boot\.mjs/m.exec(unit)?.[1] ?? '';
  const unitEnv = [...unit.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const).filter(([k]) => k !== 'SHELLGUARD_LOG_LEVEL');
  return { flags: exec.split(' ').filter(Boolean), env: Object.fromEntries(unitEnv) };
}
const unit = unitRuntime();

const dir = mkdtempSync(path.join(tmpdir(), 'sg-footprint-'));
const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', SHELLGUARD_LOG_LEVEL: 'info' };
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

console.log(`unit runtime (built): ${[...unit.flags, ...Object.entries(unit.env).map(([k, v]) => `${k}=${v}`)].join(' ')}`);
console.log(`bench/rollout/footprint: node ${process.version} ${process.platform}-${process.arch}${nodeFlags.length ? `, guardian node flags ${nodeFlags.join(' ')}` : ''}${Object.keys(extraEnv).length ? `, env ${flag('env', '')}` : ''}`);
const release = await buildRelease({ outDir: path.join(dir, 'release') });

// A gateway's slot layout, as install.sh makes it, for the `built` variant.
const install = path.join(dir, 'opt');
cpSync(release.stage.app, path.join(install, 'slots/app-a'), { recursive: true });
cpSync(release.stage.platform, path.join(install, 'slots/platform-a'), { recursive: true });
cpSync(path.join(REPO_ROOT, 'deploy/guardian/boot.mjs'), path.join(install, 'boot.mjs'));
const slotsFile = path.join(dir, 'slots.json');
writeFileSync(slotsFile, '{"v":1,"streams":{"application":{"active":"a","committed":"a","trial":null,"bootAttempts":0},"platform":{"active":"a","committed":"a","trial":null,"bootAttempts":0}}}\n');

function command(variant: Variant, cliArgs: string[]): { cmd: string; args: string[]; env: NodeJS.ProcessEnv; cwd: string } {
  switch (variant) {
    case 'built':
    case 'built-plain': {
      const fromUnit = variant === 'built' ? unit : { flags: [], env: {} };
      return {
        cmd: process.execPath, args: [...fromUnit.flags, ...nodeFlags, path.join(install, 'boot.mjs'), ...cliArgs.slice(1)], cwd: dir,
        env: { ...env, ...fromUnit.env, SHELLGUARD_INSTALL_DIR: install, SHELLGUARD_SLOTS_FILE: slotsFile },
      };
    }
    case 'built-cli':
      return { cmd: process.execPath, args: [...nodeFlags, path.join(release.stage.server, 'shellguard.mjs'), ...cliArgs], cwd: dir, env };
    case 'tsx':
      return { cmd: process.execPath, args: [...nodeFlags, '--import', 'tsx', path.join(REPO_ROOT, 'packages/cli/src/main.ts'), ...cliArgs], cwd: REPO_ROOT, env };
  }
}

// ------------------------------------------------------------------ start time

function startTimes(variant: 'built-cli' | 'tsx'): number[] {
  const c = command(variant, ['--help']);
  const times: number[] = [];
  spawnSync(c.cmd, c.args, { cwd: c.cwd, env: c.env }); // warm the page cache
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(c.cmd, c.args, { cwd: c.cwd, env: c.env, stdio: 'ignore' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${variant} --help exited ${r.status}`);
    times.push(ms);
  }
  return times;
}

const start = { built: median(startTimes('built-cli')), tsx: median(startTimes('tsx')) };
console.log(`start time, shellguard --help, median of ${runs}: built ${start.built.toFixed(0)} ms, tsx ${start.tsx.toFixed(0)} ms`);

// ------------------------------------------------------------------ memory

const caDir = path.join(dir, 'ca');
await initPki(caDir, { commonName: 'footprint bench' });
const server = await startServer({
  dataDir: path.join(dir, 'server'), caDir,
  mqtt: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 },
  tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
}, { logger: pino({ level: 'warn' }) });

interface MemoryResult {
  variant: Variant; steadyMb: number; peakMb: number;
  /** Of the steady RSS: anonymous memory (heap, malloc) vs file-backed pages (the node binary's code, shared and reclaimable). */
  anonMb: number; fileMb: number;
  /** CPU seconds the guardian used over the run. */
  cpuSeconds: number;
  samplesStored: number; attested: boolean;
}

function readStatus(pid: number): { rss: number; hwm: number; anon: number; file: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') };
  } catch {
    return undefined;
  }
}

/** utime + stime of a process, seconds (/proc/<pid>/stat fields 14 and 15). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}

async function measureMemory(variant: Variant): Promise<MemoryResult> {
  // A site of its own per variant: an asset is bound to the first guardian that reports it.
  const SITE = `site-${variant}`;
  const sim = await startSimulatedSite({ site: SITE, assets: 8, basePort: 0, seed: 1 });
  const gdir = path.join(dir, `guardian-${variant}`);
  mkdirSync(gdir, { recursive: true, mode: 0o700 });
  const keys = await FileKeyStore.open(gdir);
  const configFile = path.join(gdir, 'guardian.yaml');
  writeFileSync(configFile, toYaml({
    site: SITE, dataDir: gdir,
    server: { mqttUrl: `mqtts://127.0.0.1:${server.mqttPort}`, apiUrl: `https://127.0.0.1:${server.apiPort}`, caFile: path.join(caDir, 'root.crt') },
    equipment: sim.assets.map((a) => ({ asset: a.id, name: a.name, area: a.area, profile: a.profile, host: a.host, port: a.port, unitId: a.unitId })),
  }));
  // Reference values exactly as this variant measures itself; one group per variant (same version, other code).
  const m = command(variant, ['guardian', 'measure', '--config', configFile]);
  const measured = spawnSync(m.cmd, m.args, { cwd: m.cwd, env: m.env, encoding: 'utf8' });
  if (measured.status !== 0) throw new Error(`${variant} measure failed: ${measured.stderr}`);
  const components = (JSON.parse(measured.stdout) as { components: Measurement[] }).components;
  const group = `bench-${variant}`;
  await server.fleet.defineGroup({ id: group, site: SITE, minSecureVersion: GUARDIAN_VERSION }, 'bench');
  await server.fleet.registerRelease({ group, swname: GUARDIAN_SWNAME, swversion: GUARDIAN_VERSION, components }, 'bench');
  await server.fleet.claim({ deviceId: keys.deviceId, site: SITE, group }, 'bench');

  const storedBefore = server.stats().ingest.samplesStored;
  const c = command(variant, ['guardian', 'run', '--config', configFile]);
  const log = openSync(path.join(gdir, 'guardian.log'), 'w');
  const child = spawn(c.cmd, c.args, { cwd: c.cwd, env: { ...c.env, ...extraEnv }, stdio: ['ignore', log, log] });
  closeSync(log);
  const rss: { t: number; kb: number; anon: number; file: number }[] = [];
  let hwm = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000 && child.exitCode === null) {
    const s = readStatus(child.pid!);
    if (s) {
      rss.push({ t: Date.now() - t0, kb: s.rss, anon: s.anon, file: s.file });
      hwm = Math.max(hwm, s.hwm);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  if (child.exitCode !== null) throw new Error(`${variant} guardian exited ${child.exitCode}; see ${gdir}/guardian.log`);
  const cpu = cpuSeconds(child.pid!);
  const attested = readFileSync(path.join(gdir, 'guardian.log'), 'utf8').includes('"result":"pass"') || server.stats().connectedDevices > 0;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('close', r));
  await sim.stop();
  const late = rss.filter((x) => x.t >= (seconds * 1000) / 2);
  return {
    variant, steadyMb: median(late.map((x) => x.kb)) / 1024, peakMb: hwm / 1024,
    anonMb: median(late.map((x) => x.anon)) / 1024, fileMb: median(late.map((x) => x.file)) / 1024, cpuSeconds: cpu,
    samplesStored: server.stats().ingest.samplesStored - storedBefore, attested,
  };
}

const results: MemoryResult[] = [];
for (const v of variants) {
  const r = await measureMemory(v);
  results.push(r);
  console.log(`guardian RSS, 8 assets, ${seconds} s, ${v.padEnd(11)}: steady ${r.steadyMb.toFixed(1)} MB (anon ${r.anonMb.toFixed(1)}, file ${r.fileMb.toFixed(1)}), peak ${r.peakMb.toFixed(1)} MB, CPU ${r.cpuSeconds.toFixed(1)} s (samples stored ${r.samplesStored}${r.attested ? '' : ', NOT ATTESTED'})`);
}

await server.stop();
if (args.includes('--keep')) console.log(`kept ${dir} (guardian logs in guardian-*/guardian.log)`);
else rmSync(dir, { recursive: true, force: true });
const built = results.find((r) => r.variant === 'built');
if (built) console.log(`goal: built guardian under 80 MB resident: ${built.peakMb < 80 ? 'met' : 'NOT met'} (peak ${built.peakMb.toFixed(1)} MB)`);
