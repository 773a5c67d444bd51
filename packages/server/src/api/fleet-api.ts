/**
 * What the HTTP routes need from the fleet (claims, groups, releases, attestation, revocation,
 * views): a port, so the routes depend on this and not on the service behind it (STYLE.md §1).
 * fleet/FleetService implements it. Write methods record their own audit event with the `actor`
 * they are given (`token:<id>`).
 *
 * Errors: `challenge` and `appraise` refuse with an AttestationError (-> 403); the others throw a
 * FleetError (400, 404 or 409; http-status/fleet.ts). Anything else is answered as a 500.
 */
import type { ChallengeRequest, ChallengeResponse, EnrolmentResponse } from '@shellguard/protocol';
import type {
  BulkClaimItem, BulkClaimResult, ClaimRecord, DeviceClaim, FleetDevice, GroupDefinition, GroupRecord, ReleaseManifest,
  ReleaseRecord, StoredReport, VersionDrift,
} from './fleet-schemas.ts';

type MaybePromise<T> = T | Promise<T>;

export interface FleetApi {
  claim(claim: DeviceClaim, actor: string): MaybePromise<ClaimRecord>;
  claimMany(claims: BulkClaimItem[], actor: string): MaybePromise<BulkClaimResult>;
  defineGroup(group: GroupDefinition, actor: string): MaybePromise<GroupRecord>;
  registerRelease(release: ReleaseManifest & { group: string }, actor: string): MaybePromise<ReleaseRecord>;
  /** Verifies the request's proof of possession before anything else (challenge_* refusals). */
  challenge(request: ChallengeRequest): MaybePromise<ChallengeResponse>;
  appraise(evidence: string): Promise<EnrolmentResponse>;
  revoke(deviceId: string, actor: string, reason: string): MaybePromise<ClaimRecord>;
  releaseQuarantine(deviceId: string, actor: string, reason?: string): MaybePromise<ClaimRecord>;
  /** One PEM CRL per issuing CA. */
  crls(): Promise<string[]>;
  fleetView(): MaybePromise<FleetDevice[]>;
  versionReport(): MaybePromise<VersionDrift[]>;
  /** Newest first. */
  reports(deviceId: string): MaybePromise<StoredReport[]>;
}
