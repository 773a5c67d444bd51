/**
 * Shellguard's CLI run as real child processes (`node --import tsx packages/cli/src/main.ts ...`),
 * so a test can kill -9 them and start them again on the same state, as an operator would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI_ARGS = ['--import', 'tsx', 'packages/cli/src/main.ts'];
const TAIL_CHARS = 4_000;

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class CliProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<ProcessExit>;
  private exit: ProcessExit | undefined;
  private readonly lines: string[] = [];
  private partial = '';
  private tail = '';
  private readonly waiters = new Set<() => void>();
  private readonly log: WriteStream | undefined;

  /** Starts `shellguard <args>`; stderr (JSON logs) and stdout are copied to `logFile` if given. */
  constructor(name: string, args: string[], options: { logFile?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.name = name;
    this.log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    this.child = spawn(process.execPath, [...CLI_ARGS, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.onStdout(chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.remember(chunk));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        this.log?.end();
        for (const w of this.waiters) w();
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  private remember(chunk: string): void {
    this.log?.write(chunk);
    this.tail = (this.tail + chunk).slice(-TAIL_CHARS);
  }

  private onStdout(chunk: string): void {
    this.remember(chunk);
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    for (const w of this.waiters) w();
  }

  /** The end of what the process printed, for failure messages. */
  output(): string {
    return this.tail;
  }

  /** Resolves with the first stdout line matching `pattern` (including lines already printed). */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        for (const line of this.lines) {
          const m = line.match(pattern);
          if (m) { done(); resolve(m); return; }
        }
        if (this.exit) {
          done();
          reject(new Error(`${this.name} exited (${JSON.stringify(this.exit)}) before printing ${pattern}:\n${this.tail}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms:\n${this.tail}`));
      }, timeoutMs);
      const done = (): void => { clearTimeout(timer); this.waiters.delete(check); };
      this.waiters.add(check);
      check();
    });
  }

  /** Sends `signal` and waits for the process to be gone. */
  async stop(signal: NodeJS.Signals, timeoutMs = 30_000): Promise<ProcessExit> {
    if (this.exit) return this.exit;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Runs a one-shot command (e.g. `ca init`) to completion; returns its stdout or throws with its output.
 * `env` adds variables (e.g. SHELLGUARD_TOKEN, so a token never shows in the argument list).
 */
export async function runCli(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const p = new CliProcess(`shellguard ${args.slice(0, 2).join(' ')}`, args, options.env ? { env: options.env } : {});
  let out = '';
  p.child.stdout!.on('data', (chunk: string) => { out += chunk; });
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const exit = await p.exited;
  clearTimeout(timer);
  if (exit.code !== 0) throw new Error(`shellguard ${args.join(' ')} failed (${JSON.stringify(exit)}):\n${p.output()}`);
  return out;
}
