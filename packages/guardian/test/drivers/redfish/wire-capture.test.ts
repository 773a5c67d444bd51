/**
 * Read-only on the wire (ARCHITECTURE.md §2): tshark captures the guardian's HTTPS traffic to a
 * simulated BMC while it polls and while writes are attempted, and decrypts it with the TLS keys
 * the client logged (NSS key log format, from the client socket's 'keylog' event). The decrypted
 * HTTP holds only GETs, plus the session login and logout when the driver uses a session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RedfishDriver, redfishClientFor } from '../../../src/drivers/redfish/redfish-driver.ts';
import { SESSIONS_PATH, buildRequest, type RequestSpec } from '../../../src/drivers/redfish/request.ts';
import { CURRENT_PROFILE, LEGACY_PROFILE, driverContext, startBmc, type Bmc } from './bmc-fixture.ts';
import { hasTshark, startCapture, warnIfNoTshark, type Capture } from '../packet-capture.ts';

warnIfNoTshark('redfish wire-capture');

/** `METHOD uri` of every HTTP request in the capture, decrypted with the key log. */
function capturedRequests(capture: Capture, keylog: string, port: number): string[] {
  return capture.read(['-o', `tls.keylog_file:${keylog}`, '-d', `tcp.port==${port},tls`, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.method', '-e', 'http.request.uri']).split('\n').filter((l) => l.trim().length > 0).map((l) => l.trim().replace(/\t/, ' '));
}

/** TLS application-data records in the capture: what was sent, decrypted or not. */
function tlsRecords(capture: Capture, port: number): number {
  return capture.read(['-d', `tcp.port==${port},tls`, '-Y', 'tls.record.opaque_type == 23 || tls.record.content_type == 23', '-T', 'fields', '-e', 'frame.number']).split('\n').filter((l) => l.trim()).length;
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
    const capture = await startCapture(file, `tcp port ${bmc.service.port}`);
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
      await expect.poll(() => capturedRequests(capture, keylog, bmc.service.port).length, { timeout: 30_000, interval: 250 }).toBe(served);
    } finally {
      await driver.close();
      await capture.stop();
      await bmc.close();
    }
    expect(refused).toBe(5 * FORBIDDEN.length);
    const requests = capturedRequests(capture, keylog, bmc.service.port);
    // The capture is the decrypted truth, and it matches what the BMC logged.
    expect(requests).toEqual(bmc.service.requests().map((r) => `${r.method} ${r.path}`));
    expect(tlsRecords(capture, bmc.service.port)).toBeGreaterThanOrEqual(requests.length);
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
