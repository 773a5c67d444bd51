/**
 * The driver contract on the BACnet/IP driver, against the simulator's controller (an independent
 * BACnet stack): with ReadPropertyMultiple, and against a controller that knows only ReadProperty.
 */
import { BacnetDriver } from '../../../src/drivers/bacnet/bacnet-driver.ts';
import { profileOfProtocol } from '@shellguard/protocol';
import { describeDriverContract } from './driver-contract.ts';
import { startSimAhu } from '../bacnet/sim-device.ts';

const makeDriver = (ctx: Parameters<typeof describeDriverContract>[1]['makeDriver'] extends (c: infer C) => unknown ? C : never) =>
  new BacnetDriver({ ...ctx, profile: profileOfProtocol(ctx.profile, 'bacnet') }, { retries: 0 });

describeDriverContract('bacnet ReadPropertyMultiple (simulator controller)', { startDevice: () => startSimAhu(), makeDriver });
describeDriverContract('bacnet ReadProperty only (simulator controller without RPM)', { startDevice: () => startSimAhu({ readPropertyMultiple: false }), makeDriver });
