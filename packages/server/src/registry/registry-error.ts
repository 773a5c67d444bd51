import { ShellguardError } from '@shellguard/protocol';

export type RegistryErrorCode =
  /** No such asset in that site. */
  | 'asset_not_found'
  /** The asset is already bound to the guardian it was to be moved to. */
  | 'asset_already_bound';

export class RegistryError extends ShellguardError<RegistryErrorCode> {}
