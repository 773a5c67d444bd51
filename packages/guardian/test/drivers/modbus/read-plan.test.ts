import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseModbusProfile, registerCount, type ModbusProfile, type ProfilePoint } from '@shellguard/protocol';
import { buildReadPlan } from '../../../src/drivers/modbus/read-plan.ts';

function profile(points: string): ModbusProfile {
  return parseModbusProfile(`id: p\ntype: ahu\npoints:\n${points}`);
}

describe('buildReadPlan', () => {
  it('reads contiguous registers of one table in one request, 32-bit values included', () => {
    const plan = buildReadPlan(
      profile(`
  - { name: a, table: holding, address: 10 }
  - { name: b, table: holding, address: 11, type: float32 }
  - { name: c, table: holding, address: 13 }
`),
    );
    expect(plan.blocks.map((b) => [b.table, b.address, b.quantity])).toEqual([['holding', 10, 4]]);
    expect(plan.blocks[0]!.points.map((p) => [p.point.name, p.offset, p.width])).toEqual([
      ['a', 0, 1],
      ['b', 1, 2],
      ['c', 3, 1],
    ]);
  });

  it('reads over small gaps but splits at large ones and per table', () => {
    const plan = buildReadPlan(
      profile(`
  - { name: a, table: input, address: 0 }
  - { name: b, table: input, address: 5 }
  - { name: c, table: input, address: 100 }
  - { name: d, table: holding, address: 0 }
  - { name: e, table: coil, address: 0 }
  - { name: f, table: coil, address: 60 }
  - { name: g, table: discrete, address: 3 }
`),
    );
    expect(plan.blocks.map((b) => [b.table, b.address, b.quantity])).toEqual([
      ['coil', 0, 61],
      ['discrete', 3, 1],
      ['input', 0, 6],
      ['input', 100, 1],
      ['holding', 0, 1],
    ]);
  });

  it('never plans a request above 125 registers or 2000 bits', () => {
    const regs = Array.from({ length: 300 }, (_, i) => `  - { name: r${i}, table: holding, address: ${i} }`).join('\n');
    const bits = Array.from({ length: 2500 }, (_, i) => `  - { name: c${i}, table: coil, address: ${i} }`).join('\n');
    const plan = buildReadPlan(profile(`${regs}\n${bits}`));
    expect(plan.blocks.map((b) => [b.table, b.address, b.quantity])).toEqual([
      ['coil', 0, 2000],
      ['coil', 2000, 500],
      ['holding', 0, 125],
      ['holding', 125, 125],
      ['holding', 250, 50],
    ]);
  });

  it('plans only the fast points on request', () => {
    const plan = buildReadPlan(
      profile(`
  - { name: door, table: discrete, address: 0, fast: true }
  - { name: temp, table: input, address: 0 }
  - { name: breaker, table: discrete, address: 40, fast: true }
`),
      { onlyFast: true },
    );
    expect(plan.blocks.flatMap((b) => b.points.map((p) => p.point.name))).toEqual(['door', 'breaker']);
  });

  it('covers every point exactly once, inside the protocol limits, for arbitrary profiles', () => {
    const point = fc.record({
      table: fc.constantFrom('coil', 'discrete', 'input', 'holding'),
      address: fc.integer({ min: 0, max: 65534 }),
      wide: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(point, { minLength: 1, maxLength: 200 }), fc.integer({ min: 0, max: 200 }), (raw, gap) => {
        const points: ProfilePoint[] = raw.map((r, i) => {
          const bits = r.table === 'coil' || r.table === 'discrete';
          const type = bits ? 'bool' : r.wide ? 'uint32' : 'uint16';
          return { name: `p${i}`, unit: '', kind: bits ? 'binary' : 'analog', description: '', table: r.table, address: r.address, type, scale: 1, offset: 0, wordOrder: 'big', fast: false } as ProfilePoint;
        });
        const plan = buildReadPlan({ id: 'x', name: 'x', type: 'x', protocol: 'modbus', points }, { maxRegisterGap: gap, maxBitGap: gap });
        const seen = plan.blocks.flatMap((b) => b.points.map((p) => p.point.name)).sort();
        expect(seen).toEqual(points.map((p) => p.name).sort());
        for (const b of plan.blocks) {
          const bits = b.table === 'coil' || b.table === 'discrete';
          expect(b.quantity).toBeLessThanOrEqual(bits ? 2000 : 125);
          expect(b.address + b.quantity).toBeLessThanOrEqual(65536);
          for (const p of b.points) {
            expect(p.point.table).toBe(b.table);
            expect(p.offset + (bits ? 1 : registerCount(p.point.type))).toBeLessThanOrEqual(b.quantity);
          }
        }
      }),
    );
  });
});
