/** The driver contract on the Modbus driver, against the simulator's Modbus TCP server for a UPS. */
import { EquipmentServer, SiteModel, loadProfiles } from '@shellguard/sim';
import { profileOfProtocol, registerCount } from '@shellguard/protocol';
import { ModbusDriver } from '../../../src/drivers/modbus/modbus-driver.ts';
import { ModbusTcpClient } from '../../../src/drivers/modbus/tcp-client.ts';
import { describeDriverContract, type ContractDevice } from './driver-contract.ts';

const profile = profileOfProtocol(loadProfiles().get('ups-generic')!, 'modbus');

async function startDevice(): Promise<ContractDevice> {
  const model = new SiteModel({ assets: [{ id: 'UPS-01', type: 'ups' }], seed: 3, startMs: Date.now() });
  model.step(Date.now() + 2000);
  let writes = 0;
  const serve = (port: number) => EquipmentServer.start({ host: '127.0.0.1', port, unitId: 1, profile, values: () => model.values('UPS-01'), onWrite: () => { writes++; } });
  let server: EquipmentServer | undefined = await serve(0);
  const port = server.port;
  return {
    equipment: { asset: 'UPS-01', name: 'UPS 1', area: 'a', profile: profile.id, host: '127.0.0.1', port, unitId: 1, pollIntervalMs: 1000, fastPollIntervalMs: 250, timeoutMs: 500 },
    profile,
    served: () => ({ ...model.values('UPS-01') }),
    tolerance: (name) => {
      const p = profile.points.find((x) => x.name === name)!;
      return p.type === 'float32' ? Math.abs(p.scale) * 1e-3 + 1e-3 : Math.abs(p.scale) / 2 + 1e-9 + (registerCount(p.type) === 2 ? Math.abs(p.scale) : 0);
    },
    stop: async () => { await server?.close(); server = undefined; },
    restart: async () => { server = await serve(port); },
    writesReceived: () => writes,
    close: async () => { await server?.close(); },
  };
}

describeDriverContract('modbus', {
  startDevice,
  makeDriver: (ctx) => new ModbusDriver({ ...ctx, profile: profileOfProtocol(ctx.profile, 'modbus') },
    new ModbusTcpClient({ host: ctx.equipment.host, port: ctx.equipment.port, timeoutMs: ctx.equipment.timeoutMs, backoffMaxMs: 500 })),
});
