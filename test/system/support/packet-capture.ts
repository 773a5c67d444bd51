/** A tshark capture of one loopback TCP port, decoded as Modbus/TCP afterwards. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** scripts/install-test-deps.sh installs tshark; under CI a missing tshark fails the capture instead of skipping it. */
export const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0 || process.env.CI === 'true';

export interface ModbusCapture {
  /** Stops capturing and returns the function code of every Modbus PDU seen (requests and responses). */
  stop(): Promise<number[]>;
}

export async function captureModbus(port: number, file: string): Promise<ModbusCapture> {
  const tshark: ChildProcess = spawn('tshark', ['-i', 'lo', '-f', `tcp port ${port}`, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    tshark.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('Capture started')) resolve();
    });
    tshark.once('exit', (code) => reject(new Error(`tshark exited (${code}) before capturing (capturing on lo needs root or CAP_NET_RAW):\n${stderr}`)));
  });
  return {
    async stop() {
      if (tshark.exitCode === null) {
        await new Promise<void>((resolve) => { tshark.once('exit', () => resolve()); tshark.kill('SIGINT'); });
      }
      const read = spawnSync('tshark', ['-r', file, '-d', `tcp.port==${port},mbtcp`, '-Y', 'modbus', '-T', 'fields', '-e', 'modbus.func_code'], { encoding: 'utf8' });
      if (read.status !== 0) throw new Error(`tshark could not read ${file}: ${read.stderr}`);
      return read.stdout.split(/[\s,]+/).filter((s) => s.length > 0).map(Number);
    },
  };
}
