import { describe, expectTypeOf, it } from 'vitest';
import type { FleetApi } from '../../src/api/fleet-api.ts';
import type { FleetService } from '../../src/fleet/fleet-service.ts';

describe('FleetApi', () => {
  it('is implemented by FleetService (checked by the type checker)', () => {
    expectTypeOf<FleetService>().toExtend<FleetApi>();
  });
});
