/**
 * Test devices for the BACnet driver: the simulator's BACnet/IP controller (an independent stack,
 * @bacnet-js/client) serving the ahu-bacnet profile from the AHU physics, restartable on its port.
 */
import { SiteModel } from '../../../../sim/src/physics/site-model.ts';
import { loadProfiles } from '../../../../sim/src/site/profile-catalog.ts';
import { startBacnetDevice, type BacnetDeviceOptions, type SimulatedBacnetDevice } from '../../../../sim/src/bacnet/index.ts';
import { profileOfProtocol, type BacnetProfile } from '@shellguard/protocol';
import type { BacnetEquipmentOptions, EquipmentConfig } from '../../../src/config/config.ts';
import type { ContractDevice } from '../contract/driver-contract.ts';

export const AHU_PROFILE: BacnetProfile = profileOfProtocol(loadProfiles().get('ahu-bacnet')!, 'bacnet');
export const CRAH_PROFILE: BacnetProfile = profileOfProtocol(loadProfiles().get('crah-bacnet')!, 'bacnet');
export const DEVICE_INSTANCE = 260_001;

export function ahuModel(): SiteModel {
  const model = new SiteModel({ assets: [{ id: 'AHU-01', type: 'ahu' }], seed: 5, startMs: Date.now() });
  model.step(Date.now() + 2000);
  return model;
}

export interface SimBacnetDevice extends ContractDevice { device(): SimulatedBacnetDevice; model: SiteModel }

export async function startSimAhu(opts: Partial<Pick<BacnetDeviceOptions, 'readPropertyMultiple' | 'covCheckMs' | 'values'>> & { bacnet?: Partial<BacnetEquipmentOptions> } = {}): Promise<SimBacnetDevice> {
  const model = ahuModel();
  let writes = 0;
  const values = opts.values ?? (() => model.values('AHU-01'));
  const start = (port: number) => startBacnetDevice({
    host: '127.0.0.1', port, deviceInstance: DEVICE_INSTANCE, profile: AHU_PROFILE, values, covCheckMs: opts.covCheckMs ?? 0,
    onWrite: () => { writes++; }, ...(opts.readPropertyMultiple === undefined ? {} : { readPropertyMultiple: opts.readPropertyMultiple }),
  });
  let device: SimulatedBacnetDevice | undefined = await start(0);
  const port = device.port;
  const equipment: EquipmentConfig = {
    asset: 'AHU-01', name: 'AHU 1', area: 'a', profile: AHU_PROFILE.id, host: '127.0.0.1', port, unitId: 1,
    pollIntervalMs: 1000, fastPollIntervalMs: 250, timeoutMs: 300,
    bacnet: { deviceInstance: DEVICE_INSTANCE, covLifetimeSeconds: 300, ...opts.bacnet },
  };
  return {
    equipment, profile: AHU_PROFILE, model,
    device: () => device!,
    served: () => {
      const v = values();
      // Multi-state objects are 1-based on the wire (the physics' mode 0..4 is served as 1..5).
      return { ...v, mode: (v.mode as number) + 1 };
    },
    // REAL on the wire: float32 rounding of the physics' double.
    tolerance: (_name, value) => Math.abs(value) * 1e-6 + 1e-6,
    stop: async () => { await device?.close(); device = undefined; },
    restart: async () => { device = await start(port); },
    writesReceived: () => writes,
    close: async () => { await device?.close(); },
  };
}
