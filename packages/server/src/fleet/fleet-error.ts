import { ShellguardError, type AttestationRefusal } from '@shellguard/protocol';

export type FleetErrorCode =
  /** Not 64 lowercase hex characters (SHA-256 of the device's SubjectPublicKeyInfo). */
  | 'device_id_invalid'
  /** The device is already claimed (into this or another group). */
  | 'device_already_claimed'
  /** No claim for this device. */
  | 'device_unclaimed'
  /** The device was revoked; revocation is final, it cannot be claimed again. */
  | 'device_revoked'
  /** The device is not quarantined (releaseQuarantine). */
  | 'device_not_quarantined'
  /** The group does not exist: define it first. */
  | 'group_unknown'
  /** The group exists in another site. */
  | 'group_site_mismatch'
  /** A group, release or claim field is missing or malformed. */
  | 'invalid_input'
  /** A release with this group and swversion is already registered with other components. */
  | 'release_conflict';

/** Fleet administration errors (claims, groups, releases). The API maps them to 400/404/409. */
export class FleetError extends ShellguardError<FleetErrorCode> {}

/**
 * A refused challenge or appraisal; `code` is one of the protocol's AttestationRefusals, the
 * stable reason the API returns (403) and the guardian logs.
 */
export class AttestationError extends ShellguardError<AttestationRefusal> {}
