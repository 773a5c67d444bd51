/**
 * Runs a Mosquitto process with a generated configuration (tests, demos, scale-out scripts): starts
 * it, waits until it accepts TCP connections on its listener, and stops it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type AddressInfo } from 'node:net';
import { ExternalBrokerError } from './external-broker-error.ts';

export const DEBIAN_MOSQUITTO = '/usr/sbin/mosquitto';

export interface StartMosquittoOptions {
  configFile: string;
  /** The listener in that file, to wait for. */
  host: string;
  port: number;
  /** Default /usr/sbin/mosquitto. */
  binary?: string;
  /** Default 10 s. */
  timeoutMs?: number;
}

export interface MosquittoProcess {
  readonly pid: number;
  readonly port: number;
  /** Everything it wrote to stderr and stdout so far (its log). */
  output(): string;
  /** SIGHUP: re-read the configuration, cafile and crlfile. */
  reload(): void;
  stop(): Promise<void>;
}

/** A loopback port nobody listens on right now (another process may still take it before mosquitto). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startMosquitto(options: StartMosquittoOptions): Promise<MosquittoProcess> {
  const child = spawn(options.binary ?? DEBIAN_MOSQUITTO, ['-c', options.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    // A long test run must not grow this without bound: keep the last megabyte.
    if (output.length > 2 * 1024 * 1024) output = output.slice(-1024 * 1024);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));

  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) {
      throw new ExternalBrokerError('mosquitto_not_started', `mosquitto did not start: ${spawnError?.message ?? `exited with ${child.exitCode ?? child.signalCode}`}\n${output}`, {
        configFile: options.configFile,
      });
    }
    if (await accepts(options.host, options.port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new ExternalBrokerError('mosquitto_not_started', `mosquitto did not listen on ${options.host}:${options.port} in time\n${output}`, {
        configFile: options.configFile,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  return {
    pid: child.pid!,
    port: options.port,
    output: () => output,
    reload: () => void child.kill('SIGHUP'),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited(child);
      clearTimeout(killer);
    },
  };
}
