/**
 * The Modbus TCP driver: the read-only client (tcp-client.ts, function codes 1-4 and 43/14 only)
 * read through a read plan per point set.
 */
import type { ModbusProfile } from '@shellguard/protocol';
import { driverClosed, type DriverContext, type EquipmentDriver, type PointSet, type PollResult } from '../driver.ts';
import { pollAsset } from './poller.ts';
import { buildReadPlan, type ReadPlan } from './read-plan.ts';
import { ModbusTcpClient } from './tcp-client.ts';

export class ModbusDriver implements EquipmentDriver {
  readonly protocol = 'modbus' as const;
  readonly #client: ModbusTcpClient;
  readonly #profile: ModbusProfile;
  readonly #unitId: number;
  readonly #plans: Record<PointSet, ReadPlan>;
  readonly #now: () => number;
  readonly #asset: string;
  #closed = false;

  constructor(ctx: DriverContext<ModbusProfile>, client?: ModbusTcpClient) {
    const e = ctx.equipment;
    this.#client = client ?? new ModbusTcpClient({ host: e.host, port: e.port, timeoutMs: e.timeoutMs });
    this.#profile = ctx.profile;
    this.#unitId = e.unitId;
    this.#plans = { all: buildReadPlan(ctx.profile), fast: buildReadPlan(ctx.profile, { onlyFast: true }) };
    this.#now = () => ctx.clock.now();
    this.#asset = e.asset;
  }

  read(set: PointSet): Promise<PollResult> {
    if (this.#closed) return Promise.reject(driverClosed(this.#asset));
    return pollAsset(this.#client, this.#unitId, this.#profile, this.#plans[set], this.#now);
  }

  close(): Promise<void> {
    this.#closed = true;
    return this.#client.close();
  }
}
