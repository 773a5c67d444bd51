import { ShellguardError } from '@shellguard/protocol';

export type RegistryErrorCode =
  /** No such asset in that site. */
  | 'asset_not_found'
  /** The asset is already bound to the guardian it was to be moved to. */
  | 'asset_already_bound'
  /** The guardian an asset was to be moved to is not claimed into the asset's site. */
  | 'guardian_not_in_site';

export class RegistryError extends ShellguardError<RegistryErrorCode> {}
