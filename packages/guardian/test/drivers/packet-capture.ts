/**
 * tshark captures on loopback for the read-only-on-the-wire proofs of every driver: start a
 * capture with a BPF filter, read it back with Wireshark's dissectors (`tshark -r`), stop it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** scripts/install-test-deps.sh installs tshark; under CI a missing tshark fails the proof instead of skipping it. */
export const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0 || process.env.CI === 'true';

export function warnIfNoTshark(what: string): void {
  if (!hasTshark) console.warn(`${what}: tshark is not installed (bash scripts/install-test-deps.sh); skipping the on-the-wire read-only proof`);
}

export interface Capture {
  /** `tshark -r <file> ...args`, stdout; throws with tshark's stderr when it cannot read the file. */
  read(args: string[]): string;
  /** Stops capturing (idempotent). */
  stop(): Promise<void>;
}

/**
 * Starts capturing `filter` (BPF, e.g. `udp port 47808`) on lo into `file`. dumpcap hands packets
 * over in batches: poll `read` until the file holds what the test sent before calling `stop`, or
 * the last batch may be lost.
 */
export async function startCapture(file: string, filter: string): Promise<Capture> {
  const tshark: ChildProcess = spawn('tshark', ['-i', 'lo', '-f', filter, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    tshark.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('Capture started')) resolve();
    });
    tshark.once('exit', (code) => reject(new Error(`tshark exited (${code}) before capturing (capturing on lo needs root or CAP_NET_RAW):\n${stderr}`)));
  });
  return {
    read(args) {
      const r = spawnSync('tshark', ['-r', file, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`tshark could not read ${file}: ${r.stderr}`);
      return r.stdout;
    },
    async stop() {
      if (tshark.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        tshark.once('exit', () => resolve());
        tshark.kill('SIGINT');
      });
    },
  };
}
