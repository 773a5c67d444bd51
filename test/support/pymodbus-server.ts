/**
 * The independent Modbus TCP peer for interop tests: test/fixtures/pymodbus/server.py on Debian's
 * python3-pymodbus, started and awaited until it prints READY. Shared by the guardian's driver
 * tests and the system tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PYMODBUS_FIXTURES = fileURLToPath(new URL('../fixtures/pymodbus/', import.meta.url));
export const PYMODBUS_SERVER = `${PYMODBUS_FIXTURES}server.py`;
/** Debian's interpreter: the one python3-pymodbus is installed for (a python3 earlier on PATH may lack it). */
export const SYSTEM_PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export interface PymodbusServer {
  port: number;
  stop(): Promise<void>;
}

export async function startPymodbusServer(port: number): Promise<PymodbusServer> {
  const child: ChildProcess = spawn(SYSTEM_PYTHON, [PYMODBUS_SERVER, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pymodbus server not ready within 30 s:\n${output}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes(`READY ${port}`)) { clearTimeout(timer); resolve(); }
    });
    child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pymodbus server exited (${code}) before READY; is python3-pymodbus installed (apt-get install python3-pymodbus)?\n${output}`));
    });
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
  return {
    port,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); });
    },
  };
}
