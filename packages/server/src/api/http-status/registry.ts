import type { RegistryErrorCode } from '../../registry/registry-error.ts';

export const registryHttpStatus: Record<RegistryErrorCode, number> = {
  asset_not_found: 404,
  asset_already_bound: 409,
  guardian_not_in_site: 400,
};
