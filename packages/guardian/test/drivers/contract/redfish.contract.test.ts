/**
 * The driver contract on the Redfish driver, against the simulator's Redfish BMC over HTTPS: both
 * authentication modes, both ways of trusting the BMC's certificate, both profile generations.
 */
import { profileOfProtocol } from '@shellguard/protocol';
import type { DriverContext } from '../../../src/drivers/driver.ts';
import { RedfishDriver } from '../../../src/drivers/redfish/redfish-driver.ts';
import { CURRENT_PROFILE, LEGACY_PROFILE, startBmc, type BmcOptions } from '../redfish/bmc-fixture.ts';
import { describeDriverContract, type ContractDevice } from './driver-contract.ts';

function harness(options: BmcOptions) {
  return {
    startDevice: async (): Promise<ContractDevice> => {
      const bmc = await startBmc(options);
      return {
        equipment: bmc.equipment,
        profile: bmc.profile,
        served: () => ({ ...bmc.values() }),
        // JSON numbers travel exactly; only the profile's scale could round, and these have none.
        tolerance: () => 1e-9,
        stop: () => bmc.stop(),
        restart: () => bmc.restart(),
        writesReceived: () => bmc.service.writesReceived(),
        close: () => bmc.close(),
      };
    },
    makeDriver: (ctx: DriverContext) =>
      new RedfishDriver({ ...ctx, profile: profileOfProtocol(ctx.profile, 'redfish') }),
  };
}

describeDriverContract('redfish (basic auth, pinned certificate, Power/Thermal)', harness({ auth: 'basic', trust: 'pin', profile: LEGACY_PROFILE }));
describeDriverContract('redfish (session auth, CA-verified certificate, EnvironmentMetrics/Sensors)', harness({ auth: 'session', trust: 'ca', profile: CURRENT_PROFILE }));
describeDriverContract('redfish (session auth, pinned certificate, Power/Thermal)', harness({ auth: 'session', trust: 'pin', profile: LEGACY_PROFILE }));
describeDriverContract('redfish (basic auth, CA-verified certificate, EnvironmentMetrics/Sensors)', harness({ auth: 'basic', trust: 'ca', profile: CURRENT_PROFILE }));
