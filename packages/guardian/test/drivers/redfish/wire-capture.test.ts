/**
 * Read-only on the wire (ARCHITECTURE.md §2): tshark captures the guardian's HTTPS traffic to a
 * simulated BMC while it polls and while writes are attempted, and decrypts it with the TLS keys
 * the client logged (NSS key log format, from the client socket's 'keylog' event). The decrypted
 * HTTP holds only GETs, plus the session login and logout when the driver uses a session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RedfishDriver, redfishClientFor } from '../../../src/drivers/redfish/redfish-driver.ts';
import { SESSIONS_PATH, buildRequest, type RequestSpec } from '../../../src/drivers/redfish/request.ts';
import { CURRENT_PROFILE, LEGACY_PROFILE, driverContext, startBmc, type Bmc } from './bmc-fixture.ts';

// scripts/install-test-deps.sh installs tshark; under CI a missing tshark fails the proof instead of skipping it.
const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0 || process.env.CI === 'true';
if (!hasTshark) console.warn('redfish wire-capture: tshark is not installed (bash scripts/install-test-deps.sh); skipping the on-the-wire read-only proof');

async function startCapture(file: string, port: number): Promise<ChildProcess> {
  const tshark = spawn('tshark', ['-i', 'lo', '-f', `tcp port ${port}`, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    tshark.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('Capture started')) resolve();
    });
    tshark.once('exit', (code) => reject(new Error(`tshark exited (${code}) before capturing (capturing on lo needs root or CAP_NET_RAW):\n${stderr}`)));
  });
  return tshark;
}

async function stopCapture(tshark: ChildProcess): Promise<void> {
  if (tshark.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    tshark.once('exit', () => resolve());
    tshark.kill('SIGINT');
  });
}

/** `METHOD uri` of every HTTP request in the capture, decrypted with the key log. */
function capturedRequests(file: string, keylog: string, port: number): string[] {
  const read = spawnSync('tshark', ['-r', file, '-o', `tls.keylog_file:${keylog}`, '-d', `tcp.port==${port},tls`, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.method', '-e', 'http.request.uri'], { encoding: 'utf8' });
  if (read.status !== 0) throw new Error(`tshark could not read ${file}: ${read.stderr}`);
  return read.stdout.split('\n').filter((l) => l.trim().length > 0).map((l) => l.trim().replace(/\t/, ' '));
}

/** TLS application-data records in the capture: what was sent, decrypted or not. */
function tlsRecords(file: string, port: number): number {
  const read = spawnSync('tshark', ['-r', file, '-d', `tcp.port==${port},tls`, '-Y', 'tls.record.opaque_type == 23 || tls.record.content_type == 23', '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
  return read.stdout.split('\n').filter((l) => l.trim()).length;
}

const FORBIDDEN: RequestSpec[] = [
  { method: 'PATCH', path: '/redfish/v1/Chassis/1' } as unknown as RequestSpec,
  { method: 'PUT', path: '/redfish/v1/Chassis/1/Power' } as unknown as RequestSpec,
  { method: 'POST', path: '/redfish/v1/Chassis/1/Actions/Chassis.Reset', body: { UserName: 'x', Password: 'y' } } as unknown as RequestSpec,
  { method: 'DELETE', path: '/redfish/v1/Chassis/1' },
];

describe.skipIf(!hasTshark)('Redfish traffic on the wire (tshark capture, TLS decrypted)', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(path.join(tmpdir(), 'shellguard-redfish-capture-')); });
  afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

  it.each([
    ['session', CURRENT_PROFILE],
    ['basic', LEGACY_PROFILE],
  ] as const)('carries only GETs, plus the login and logout when the auth is a session (%s auth)', async (auth, profile) => {
    const bmc: Bmc = await startBmc({ auth, trust: 'pin', profile });
    const file = path.join(dir, `redfish-${auth}.pcap`);
    const keylog = path.join(dir, `keys-${auth}.log`);
    writeFileSync(keylog, '');
    const tshark = await startCapture(file, bmc.service.port);
    const client = redfishClientFor(bmc.equipment, { onTlsKeylog: (line) => appendFileSync(keylog, line) });
    const driver = new RedfishDriver(driverContext(bmc), client);
    let refused = 0;
    try {
      for (let round = 0; round < 5; round++) {
        expect((await driver.read('all')).errors).toEqual([]);
        expect((await driver.read('fast')).errors).toEqual([]);
        for (const spec of FORBIDDEN) {
          try { buildRequest(spec, `${SESSIONS_PATH}/1`); } catch { refused++; }
        }
      }
      await driver.close();
      const served = bmc.service.requests().length;
      // dumpcap hands packets over in batches: wait until the file holds every request.
      await expect.poll(() => capturedRequests(file, keylog, bmc.service.port).length, { timeout: 30_000, interval: 250 }).toBe(served);
    } finally {
      await driver.close();
      await stopCapture(tshark);
      await bmc.close();
    }
    expect(refused).toBe(5 * FORBIDDEN.length);
    const requests = capturedRequests(file, keylog, bmc.service.port);
    // The capture is the decrypted truth, and it matches what the BMC logged.
    expect(requests).toEqual(bmc.service.requests().map((r) => `${r.method} ${r.path}`));
    expect(tlsRecords(file, bmc.service.port)).toBeGreaterThanOrEqual(requests.length);
    const methods = new Set(requests.map((r) => r.split(' ')[0]));
    if (auth === 'basic') {
      expect(methods).toEqual(new Set(['GET']));
    } else {
      expect(methods).toEqual(new Set(['GET', 'POST', 'DELETE']));
      expect(requests.filter((r) => !r.startsWith('GET '))).toEqual([`POST ${SESSIONS_PATH}`, `DELETE ${SESSIONS_PATH}/1`]);
    }
    expect(requests.every((r) => !/Actions|PATCH|PUT/.test(r))).toBe(true);
    expect(bmc.service.writesReceived()).toBe(0);
  });
});
