/**
 * Whatever an agent answers, a read resolves: every point is a sample, a point without a value
 * is bad with a clear error, nothing throws and the process keeps running. The fake agent turns
 * each GetRequest into a GetResponse (the request's own bytes, tag [0] -> [2], values NULL) and
 * then mutates or replaces it as fast-check says.
 */
import { describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import fc from 'fast-check';
import pino from 'pino';
import { Quality, systemClock } from '@shellguard/protocol';
import { SnmpDriver } from '../../../src/drivers/snmp/snmp-driver.ts';
import { UPS_PROFILE, snmpOptions } from './sim-device.ts';

type Mutation = { kind: 'echo' } | { kind: 'flip'; at: number; value: number } | { kind: 'random'; bytes: Uint8Array } | { kind: 'truncate'; to: number };

describe('SnmpDriver on malformed responses', () => {
  it('never throws and marks unread points bad with a coded error', async () => {
    const agent = dgram.createSocket('udp4');
    let mutation: Mutation = { kind: 'echo' };
    agent.on('message', (req, rinfo) => {
      const res = Buffer.from(req);
      const tag = res.indexOf(0xa0, 7);
      if (tag > 0) res[tag] = 0xa2;
      let out: Buffer = res;
      if (mutation.kind === 'flip') { out = Buffer.from(res); out[mutation.at % out.length] = mutation.value; }
      else if (mutation.kind === 'random') out = Buffer.from(mutation.bytes);
      else if (mutation.kind === 'truncate') out = res.subarray(0, mutation.to % res.length);
      agent.send(out, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => agent.bind(0, '127.0.0.1', () => r()));
    const equipment = { asset: 'UPS-F', name: 'fuzz', area: 'a', profile: UPS_PROFILE.id, host: '127.0.0.1', port: agent.address().port, unitId: 1, pollIntervalMs: 1000, fastPollIntervalMs: 0, timeoutMs: 60, snmp: snmpOptions('2c') };
    const driver = new SnmpDriver({ equipment, profile: UPS_PROFILE, clock: systemClock, logger: pino({ level: 'silent' }), onSamples: () => undefined, services: {} });
    const polled = UPS_PROFILE.points.filter((p) => p.oid !== undefined).length;
    try {
      // The plain echo: every value is NULL, so every point is bad, each with its own error.
      const echo = await driver.read('all');
      expect(echo.samples.every((s) => s.quality === Quality.bad)).toBe(true);
      expect(echo.errors.map((e) => e.error.code)).toEqual(Array.from({ length: polled }, () => 'snmp_value_invalid'));
      await fc.assert(fc.asyncProperty(
        fc.oneof(
          fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
          fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 200 }) }),
          fc.record({ kind: fc.constant('truncate' as const), to: fc.nat() }),
        ),
        async (m) => {
          mutation = m;
          const { samples, errors } = await driver.read('all');
          expect(samples).toHaveLength(polled);
          const bad = samples.filter((s) => s.quality !== Quality.good);
          expect(bad.every((s) => s.value === null)).toBe(true);
          const explained = new Set(errors.flatMap((e) => e.points));
          for (const s of bad) expect(explained.has(s.point), s.point).toBe(true);
          for (const e of errors) expect(e.error.code).toMatch(/^snmp_[a-z_]+$/);
        },
      ), { numRuns: 150 });
    } finally {
      await driver.close();
      agent.close();
    }
  }, 120_000);
});
