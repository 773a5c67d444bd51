/**
 * A mixed-protocol site end to end, as the demo runs it (`shellguard demo --protocols mixed`):
 * air handlers and CRAHs over BACnet/IP, UPSs and PDUs over SNMPv3 authPriv, rack servers over
 * Redfish (session auth, pinned certificate), generators and panels over Modbus TCP — real
 * sockets, attested guardians, mTLS MQTT, the server's store. Every asset's every polled point
 * reaches the store with good quality and the value the simulated device serves, and no device
 * ever received a write.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Quality } from '@shellguard/protocol';
import { startDemo, type RunningDemo } from '@shellguard/cli/testing';
import { httpsRequest } from '../../packages/server/test/api/https-client.ts';

interface PointDetail { id: number; name: string; kind: string; latest: { ts: number; value: number | boolean | null; quality: number } | null }

let demo: RunningDemo;
let work: string;

async function apiGet<T>(pathAndQuery: string): Promise<T> {
  const ca = readFileSync(demo.apiCaFile, 'utf8');
  const res = await httpsRequest(Number(new URL(demo.origin).port), ca, `/api/v1${pathAndQuery}`, { headers: { authorization: `Bearer ${demo.token}` } });
  expect(res.status, res.body).toBe(200);
  return JSON.parse(res.body) as T;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('a mixed-protocol site: BACnet/IP, SNMPv3, Redfish and Modbus through attested guardians', () => {
  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'sg-mixed-'));
    demo = await startDemo({
      dir: path.join(work, 'demo'), assets: 14, guardians: 2, apiPort: 0, mqttPort: 0, simPort: 0, scenario: 'none', protocols: 'mixed',
    });
  }, 120_000);

  afterAll(async () => {
    await demo?.stop();
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('plans assets of all four protocols', () => {
    expect(new Set(demo.sim.assets.map((a) => a.protocol))).toEqual(new Set(['modbus', 'bacnet', 'snmp', 'redfish']));
  });

  it('stores every point of every asset with good quality and the value its device serves', async () => {
    const points = new Map<string, PointDetail[]>();
    await until('every point of every asset stored with good quality', async () => {
      for (const a of demo.sim.assets) {
        const detail = await apiGet<{ points: PointDetail[] }>(`/assets/${a.id}?site=site-1`);
        points.set(a.id, detail.points);
      }
      return [...points.values()].every((ps) => ps.every((p) => p.latest?.quality === Quality.good || p.name.endsWith('_trap')));
    }, 90_000);
    for (const a of demo.sim.assets) {
      const served = demo.sim.model.values(a.id);
      for (const p of points.get(a.id)!) {
        const want = served[p.name];
        // Points a MIB or schema adds beyond the physics (upsOutputSource, Status.Health) have no model value to compare.
        if (want === undefined || p.latest === null) continue;
        if (typeof want === 'boolean') {
          // The store keeps binary points as 0/1.
          expect(Number(p.latest.value), `${a.id}.${p.name} (${a.protocol})`).toBe(Number(want));
        } else if (p.kind === 'enum') {
          // BACnet multi-state objects are 1-based (ASHRAE 135 clause 12.20.4): the physics' state 0 is served as 1.
          expect(p.latest.value, `${a.id}.${p.name} (${a.protocol})`).toBe(a.protocol === 'bacnet' ? want + 1 : want);
        } else if (p.kind === 'analog') {
          // The model moves between the poll and this check: compare within a few percent.
          expect(Math.abs((p.latest.value as number) - want), `${a.id}.${p.name} (${a.protocol}): stored ${String(p.latest.value)}, served ${want}`)
            .toBeLessThanOrEqual(Math.max(1, Math.abs(want) * 0.05));
        }
      }
    }
    expect(demo.sim.writesReceived()).toBe(0);
  }, 120_000);
});
