/**
 * Shared by the install tests: the release built from this tree into a temp folder, and child
 * processes run with plain node and none of the repository's environment (no tsx loader, no
 * NODE_OPTIONS or NODE_PATH of the test runner).
 */
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../scripts/build/bundle.ts';

/** The web dashboard is an input of the server bundle: built once if this tree has none. */
export function ensureWebDist(): void {
  if (existsSync(path.join(REPO_ROOT, 'packages/web/dist/index.html'))) return;
  const r = spawnSync('npm', ['run', '--silent', 'build:web'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build:web failed');
}

/** A clean environment: PATH only, plus what the test sets. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', ...extra };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], options: SpawnOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: cleanEnv(), ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Like run, but fails the test with the child's output when it does not exit 0. */
export async function runOk(cmd: string, args: string[], options: SpawnOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, options);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** No folder from `dir` up to / holds a node_modules: what runs there cannot borrow the repository's. */
export function hasNoNodeModulesAbove(dir: string): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'node_modules'))) return false;
    if (path.dirname(d) === d) return true;
  }
}
