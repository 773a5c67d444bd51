/**
 * For test/install/guardian-update.test.ts: a real server with a TUF image repository for the
 * guardian's application stream (offline root and targets keys here, online snapshot and
 * timestamp keys on the server, as test/support/update-site.ts sets it up), where the *built*
 * application bundles are published; and a supervisor that runs the installed guardian the way
 * systemd runs the unit (Restart=always), counting its exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import type { BundleManifest } from '@shellguard/protocol';
import { initPki, startServer, type ServerHandle } from '@shellguard/server';
import { buildRoot, buildTargets, json, offlineKey, signed, type BundleSpec } from '../../packages/server/test/updates/tuf-fixture.ts';
import { cleanEnv } from './release-fixture.ts';

export const PRODUCT = 'shellguard-guardian';
const DAY = 86_400_000;

export interface BuiltUpdateSite {
  dir: string;
  server: ServerHandle;
  /** `<product>.application.root.json`, as an install ships it. */
  trustedRoot: { name: string; content: string };
  /** Signs new targets metadata (every bundle published so far, plus this one) with the offline targets key, and uploads it with the bundle. */
  publish(name: string, bytes: Buffer, custom: BundleManifest): Promise<void>;
  close(): Promise<void>;
}

export async function startBuiltUpdateSite(prefix: string): Promise<BuiltUpdateSite> {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  await initPki(path.join(dir, 'ca'), { commonName: 'Built guardian update test site' });
  const server = await startServer({
    dataDir: path.join(dir, 'server'), caDir: path.join(dir, 'ca'),
    mqtt: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 },
    tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
  }, {
    logger: pino({ level: process.env.SG_SERVER_LOG ?? 'silent' }), rolloutTickMs: 250,
  });
  const rootKey = offlineKey();
  const targetsKey = offlineKey();
  const root = signed(buildRoot({ root: [rootKey], targets: [targetsKey], online: server.imageRepository.onlineKeys(), expires: Date.now() + 365 * DAY }), rootKey);
  await server.imageRepository.initialise(PRODUCT, 'application', json(root));
  const published: BundleSpec[] = [];
  return {
    dir, server,
    trustedRoot: { name: `${PRODUCT}.application.root.json`, content: JSON.stringify(json(root)) },
    async publish(name, bytes, custom) {
      published.push({ name, bytes, custom });
      const targets = signed(buildTargets(published.length, published, Date.now() + 30 * DAY), targetsKey);
      await server.imageRepository.acceptTargets(PRODUCT, 'application', json(targets), [{ name, bytes }]);
    },
    async close() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

/**
 * `Restart=always` for one command: started again whenever it exits, until stop(). Output goes to
 * a log file and is kept (pino JSON lines) for the test to read.
 */
export class Supervisor {
  readonly exits: Exit[] = [];
  starts = 0;
  output = '';
  private child: ChildProcess | undefined;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: {
    args: string[]; cwd: string; logFile: string; env?: Record<string, string>; ids?: { uid: number; gid: number }; restartDelayMs?: number;
  }) {}

  get restarts(): number {
    return Math.max(0, this.starts - 1);
  }

  start(): void {
    if (this.stopped) return;
    this.starts++;
    appendFileSync(this.o.logFile, `--- start ${this.starts} at ${new Date().toISOString()}\n`);
    const child = spawn(process.execPath, this.o.args, {
      cwd: this.o.cwd, env: cleanEnv(this.o.env), stdio: ['ignore', 'pipe', 'pipe'], ...(this.o.ids ?? {}),
    });
    this.child = child;
    const keep = (c: Buffer) => {
      this.output += c.toString();
      appendFileSync(this.o.logFile, c);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.on('close', (code, signal) => {
      this.exits.push({ code, signal, at: Date.now() });
      appendFileSync(this.o.logFile, `--- exit ${code ?? signal}\n`);
      this.child = undefined;
      if (!this.stopped) this.restartTimer = setTimeout(() => this.start(), this.o.restartDelayMs ?? 500);
    });
  }

  /** Log lines (pino JSON) the guardian wrote, parsed; other lines are skipped. */
  logLines(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of this.output.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a line cut by a kill
      }
    }
    return out;
  }

  /** `systemctl restart`: SIGTERM to the running process; the exit starts it again. */
  async restartNow(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.kill('SIGTERM');
    await closed;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.kill('SIGTERM');
    const hard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await closed;
    clearTimeout(hard);
  }
}
