/**
 * A read plan: which Modbus requests read all the points of a profile, in as few requests as
 * possible. Points of one table are sorted by address and merged into blocks while the block stays
 * within one request (§6.1-§6.4: 2000 bits, 125 registers) and the gap it would have to read over
 * stays small. Reading over a gap costs a few bytes; one more request costs a round trip.
 */
import { registerCount, type ModbusProfile, type ModbusTable, type ProfilePoint } from '@shellguard/protocol';
import { MAX_READ_BITS, MAX_READ_REGISTERS } from './pdu.ts';

export interface PlannedPoint {
  point: ProfilePoint;
  /** Position of the point's first bit/register inside the block. */
  offset: number;
  /** Number of bits/registers it occupies (1 or 2). */
  width: number;
}

export interface ReadBlock {
  table: ModbusTable;
  address: number;
  quantity: number;
  points: PlannedPoint[];
}

export interface ReadPlan {
  profileId: string;
  blocks: ReadBlock[];
}

export interface ReadPlanOptions {
  /** Plan only the safety-relevant `fast: true` points (the fast path). Default false. */
  onlyFast?: boolean;
  /** Largest run of unmapped registers read over to merge two blocks. Default 8. */
  maxRegisterGap?: number;
  /** Largest run of unmapped bits read over to merge two blocks. Default 64. */
  maxBitGap?: number;
}

const TABLE_ORDER: readonly ModbusTable[] = ['coil', 'discrete', 'input', 'holding'];

function isBitTable(table: ModbusTable): boolean {
  return table === 'coil' || table === 'discrete';
}

export function buildReadPlan(profile: ModbusProfile, options: ReadPlanOptions = {}): ReadPlan {
  const blocks: ReadBlock[] = [];
  const points = options.onlyFast ? profile.points.filter((p) => p.fast) : profile.points;
  for (const table of TABLE_ORDER) {
    const bits = isBitTable(table);
    const max = bits ? MAX_READ_BITS : MAX_READ_REGISTERS;
    const maxGap = bits ? (options.maxBitGap ?? 64) : (options.maxRegisterGap ?? 8);
    const inTable = points
      .filter((p) => p.table === table)
      .map((p) => ({ point: p, width: bits ? 1 : registerCount(p.type) }))
      .sort((a, b) => a.point.address - b.point.address || b.width - a.width);
    let block: ReadBlock | undefined;
    for (const { point, width } of inTable) {
      const end = point.address + width;
      const blockEnd = block ? block.address + block.quantity : 0;
      const fits = block !== undefined && point.address - blockEnd <= maxGap && Math.max(end, blockEnd) - block.address <= max;
      if (!block || !fits) {
        block = { table, address: point.address, quantity: width, points: [] };
        blocks.push(block);
      }
      block.quantity = Math.max(block.quantity, end - block.address);
      block.points.push({ point, offset: point.address - block.address, width });
    }
  }
  return { profileId: profile.id, blocks };
}
