/**
 * A BMC that answers with whatever a test scripts, byte for byte, over real TLS on loopback: huge
 * bodies, wrong content types, invalid or deeply nested JSON, garbage, truncation, silence. The
 * driver must never throw, mark the points bad with a clear code, and carry on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import tls from 'node:tls';
import pino from 'pino';
import { Quality, systemClock, type RedfishProfile } from '@shellguard/protocol';
import { createSelfSignedBmcCertificate, type BmcCertificate } from '@shellguard/sim';
import { RedfishClient } from '../../../src/drivers/redfish/redfish-client.ts';
import { RedfishDriver } from '../../../src/drivers/redfish/redfish-driver.ts';
import { LEGACY_PROFILE } from './bmc-fixture.ts';

type Answer = (request: string) => Buffer | string | null;

interface HostileBmc { port: number; answer: Answer; close(): Promise<void> }

async function startHostileBmc(cert: BmcCertificate): Promise<HostileBmc> {
  const bmc: HostileBmc = { port: 0, answer: () => null, close: async () => undefined };
  const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (socket) => {
    let buffered = '';
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1');
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffered.slice(0, end);
      buffered = '';
      const reply = bmc.answer(head);
      if (reply === null) return; // silence
      socket.end(reply);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  bmc.port = (server.address() as { port: number }).port;
  bmc.close = () => new Promise<void>((r) => server.close(() => r()));
  return bmc;
}

function http(status: string, headers: Record<string, string>, body: Buffer | string): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return Buffer.concat([Buffer.from(`HTTP/1.1 ${status}\r\n${head}Connection: close\r\n\r\n`, 'latin1'), b]);
}
const json = (body: string, type = 'application/json'): Buffer => http('200 OK', { 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)) }, body);

let cert: BmcCertificate;
let bmc: HostileBmc;
beforeAll(async () => {
  cert = await createSelfSignedBmcCertificate();
  bmc = await startHostileBmc(cert);
});
afterAll(async () => { await bmc.close(); });

/** A driver of the legacy profile's Thermal points only (one resource, one request per read). */
function thermalDriver(timeoutMs = 2000): RedfishDriver {
  const profile: RedfishProfile = { ...LEGACY_PROFILE, points: LEGACY_PROFILE.points.filter((p) => p.resource === 'Thermal') };
  const client = new RedfishClient({ host: '127.0.0.1', port: bmc.port, timeoutMs, tls: { pinSha256: cert.sha256 }, auth: 'basic', username: 'u', password: 'p', maxResponseBytes: 64 * 1024 });
  return new RedfishDriver({
    equipment: { asset: 'SRV-X', name: 'x', area: 'a', profile: profile.id, host: '127.0.0.1', port: bmc.port, unitId: 1, pollIntervalMs: 1000, fastPollIntervalMs: 0, timeoutMs },
    profile, clock: systemClock, logger: pino({ level: 'silent' }), onSamples: () => undefined, services: {},
  }, client);
}

async function readAllBad(answer: Answer, timeoutMs?: number): Promise<{ code: string; message: string }> {
  bmc.answer = answer;
  const driver = thermalDriver(timeoutMs);
  try {
    const { samples, errors } = await driver.read('all');
    expect(samples.every((s) => s.quality === Quality.bad && s.value === null)).toBe(true);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.where).toBe('GET /redfish/v1/Chassis/1/Thermal');
    return { code: errors[0]!.error.code, message: errors[0]!.error.message };
  } finally {
    await driver.close();
  }
}

const legacyThermal = (): string => JSON.stringify({
  Temperatures: [22, 38, 61, 58].map((ReadingCelsius) => ({ ReadingCelsius })),
  Fans: [8000, 8100, 8200, 8300].map((Reading) => ({ Reading, ReadingUnits: 'RPM' })),
});

describe('RedfishDriver against a hostile BMC', () => {
  it('reads a well-formed answer (the hostile server itself works)', async () => {
    bmc.answer = () => json(legacyThermal());
    const driver = thermalDriver();
    const { samples, errors } = await driver.read('all');
    await driver.close();
    expect(errors).toEqual([]);
    expect(samples.map((s) => s.value)).toEqual([22, 38, 61, 58, 8000, 8100, 8200, 8300]);
  });

  const cases: [string, Answer, string][] = [
    ['a declared huge body', () => http('200 OK', { 'Content-Type': 'application/json', 'Content-Length': String(50 * 1024 * 1024) }, '{'), 'redfish_response_too_large'],
    ['a huge chunked body', () => http('200 OK', { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }, `${(100_000).toString(16)}\r\n${'['.repeat(100_000)}\r\n`.repeat(2)), 'redfish_response_too_large'],
    ['an HTML page', () => json('<html>login</html>', 'text/html'), 'redfish_response_invalid'],
    ['invalid JSON', () => json('{"Temperatures": [ {"ReadingCelsius": 2'), 'redfish_response_invalid'],
    ['a JSON array', () => json('[1,2,3]'), 'redfish_response_invalid'],
    ['deep nesting', () => json(`{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}`), 'redfish_response_invalid'],
    ['garbage instead of HTTP', () => Buffer.from('\x00\xff\x13garbage\r\n\r\n'), 'redfish_connection_failed'],
    ['a body cut short', () => http('200 OK', { 'Content-Type': 'application/json', 'Content-Length': '5000' }, '{"Temperatures":'), 'redfish_connection_failed'],
    ['a server error', () => http('500 Internal Server Error', { 'Content-Type': 'application/json', 'Content-Length': '38' }, '{"error":{"message":"sensor busy now"}}'.slice(0, 38)), 'redfish_http_status'],
    ['silence', () => null, 'redfish_timeout'],
  ];
  it.each(cases)('marks every point bad on %s, with a clear error', async (_name, answer, code) => {
    const got = await readAllBad(answer, code === 'redfish_timeout' ? 500 : 2000);
    expect(got.code).toBe(code);
    expect(got.message.length).toBeGreaterThan(20);
    expect(got.message).toMatch(/Thermal/);
  });

  it('never throws, and every point is good with a value or bad with a reason, whatever bytes come back', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.string({ maxLength: 300 }).map((s) => json(s)),
      fc.jsonValue({ maxDepth: 6 }).map((v) => json(JSON.stringify(v))),
      // A real Thermal with random values and holes where numbers belong.
      fc.array(fc.oneof(fc.double(), fc.constant(null), fc.string(), fc.boolean(), fc.object()), { minLength: 8, maxLength: 8 }).map((vals) => json(JSON.stringify({
        Temperatures: vals.slice(0, 4).map((ReadingCelsius) => ({ ReadingCelsius })),
        Fans: vals.slice(4).map((Reading) => ({ Reading })),
      }))),
    ), async (reply) => {
      bmc.answer = () => reply;
      const driver = thermalDriver();
      try {
        const { samples, errors } = await driver.read('all');
        expect(samples).toHaveLength(8);
        const bad = samples.filter((s) => s.quality === Quality.bad);
        for (const s of samples) {
          if (s.quality === Quality.good) expect(typeof s.value === 'number' && Number.isFinite(s.value)).toBe(true);
          else expect(s.value).toBeNull();
        }
        expect(new Set(errors.flatMap((e) => e.points))).toEqual(new Set(bad.map((s) => s.point)));
        for (const e of errors) {
          expect(e.error.code).toMatch(/^redfish_[a-z_]+$/);
          expect(e.error.message.length).toBeGreaterThan(20);
        }
      } finally {
        await driver.close();
      }
    }), { numRuns: 60 });
  });

  it('keeps reading after a hostile answer', async () => {
    await readAllBad(() => json('not json'));
    bmc.answer = () => json(legacyThermal());
    const driver = thermalDriver();
    expect((await driver.read('all')).errors).toEqual([]);
    await driver.close();
  });
});
