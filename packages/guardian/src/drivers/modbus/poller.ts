/**
 * Polls one Modbus asset through its read plan and turns registers into samples. Device faults
 * never throw: a failed request marks its points `value: null, quality: bad` and is reported in
 * `errors`, and the other blocks of the plan are still read.
 */
import { ProtocolError, Quality, ShellguardError, decodePointValue, type ModbusProfile, type Sample } from '@shellguard/protocol';
import type { PollFailure, PollResult } from '../driver.ts';
import { ModbusError } from './errors.ts';
import type { ModbusReader } from './tcp-client.ts';
import type { ReadBlock, ReadPlan } from './read-plan.ts';

const TABLE_NAMES: Record<ReadBlock['table'], string> = { coil: 'coils', discrete: 'discrete inputs', input: 'input registers', holding: 'holding registers' };

/** `input registers 0-9`: where a failed request read, for the operator. */
export function describeRange(table: ReadBlock['table'], address: number, quantity: number): string {
  return quantity === 1 ? `${TABLE_NAMES[table]} ${address}` : `${TABLE_NAMES[table]} ${address}-${address + quantity - 1}`;
}

export class PollError extends ShellguardError {}

async function readBlock(client: ModbusReader, unitId: number, block: ReadBlock): Promise<number[]> {
  switch (block.table) {
    case 'coil':
      return (await client.readCoils(unitId, block.address, block.quantity)).map((b) => (b ? 1 : 0));
    case 'discrete':
      return (await client.readDiscreteInputs(unitId, block.address, block.quantity)).map((b) => (b ? 1 : 0));
    case 'input':
      return client.readInputRegisters(unitId, block.address, block.quantity);
    case 'holding':
      return client.readHoldingRegisters(unitId, block.address, block.quantity);
  }
}

function asShellguardError(err: unknown): ShellguardError {
  if (err instanceof ShellguardError) return err;
  return new ModbusError('modbus_connection_failed', err instanceof Error ? err.message : String(err));
}

/**
 * Reads every block of `plan` (one request each, in order) and returns one sample per planned
 * point, in profile order, timestamped with `now()` when its block's response arrived.
 */
export async function pollAsset(
  client: ModbusReader,
  unitId: number,
  profile: ModbusProfile,
  plan: ReadPlan,
  now: () => number,
): Promise<PollResult> {
  if (plan.profileId !== profile.id) {
    throw new PollError('poll_plan_mismatch', `read plan for ${plan.profileId} used with profile ${profile.id}`);
  }
  const byPoint = new Map<string, Sample>();
  const errors: PollFailure[] = [];
  for (const block of plan.blocks) {
    let words: number[];
    try {
      words = await readBlock(client, unitId, block);
    } catch (err) {
      const ts = now();
      for (const { point } of block.points) byPoint.set(point.name, { point: point.name, ts, value: null, quality: Quality.bad });
      errors.push({ where: describeRange(block.table, block.address, block.quantity), points: block.points.map((p) => p.point.name), error: asShellguardError(err) });
      continue;
    }
    const ts = now();
    for (const { point, offset, width } of block.points) {
      try {
        const value = decodePointValue(point, words.slice(offset, offset + width));
        byPoint.set(point.name, { point: point.name, ts, value, quality: Quality.good });
      } catch (err) {
        // e.g. a float32 register pair holding NaN: that point is bad, its neighbours are not.
        byPoint.set(point.name, { point: point.name, ts, value: null, quality: Quality.bad });
        const error = err instanceof ShellguardError ? err : new ProtocolError('register_decode_failed', String(err));
        errors.push({ where: describeRange(block.table, point.address, width), points: [point.name], error });
      }
    }
  }
  const samples: Sample[] = [];
  for (const p of profile.points) {
    const s = byPoint.get(p.name);
    if (s) samples.push(s);
  }
  return { samples, errors };
}
