/**
 * The fleet as one object, for the API (api/fleet-api.ts), the server and the rollout adapters: a
 * thin facade over the services that do the work, each of one concept —
 *   claims-and-groups.ts   groups, claims and a device's standing (quarantine, release, revoke)
 *   releases.ts            reference values per group
 *   appraisal.ts           challenge → evidence → verdict → certificate
 *   certificate-ledger.ts  may a device connect with a certificate; the CRL
 *   device-reports.ts      crash and error reports
 *   fleet-view.ts          the fleet view and the version report
 * Persistence is behind the store ports of fleet-stores.ts; every write commits with its audit
 * event (and incident) in one unit of work.
 */
import type { ChallengeRequest, ChallengeResponse, DeviceReport, EnrolmentResponse } from '@shellguard/protocol';
import { Appraisal } from './appraisal.ts';
import type { CertificateIssuer } from './certificate-issuer.ts';
import { CertificateLedger } from './certificate-ledger.ts';
import { ChallengeNonces } from './challenge-nonces.ts';
import { ClaimsAndGroups } from './claims-and-groups.ts';
import { CoalescingUnitOfWork } from './coalescing-unit-of-work.ts';
import { DeviceReports } from './device-reports.ts';
import type { FleetStores, FleetUnitOfWork } from './fleet-stores.ts';
import type {
  AttestationRecord, ClaimInput, ClaimManyResult, ClaimRecord, FleetDeviceView, GroupInput, GroupRecord, ReleaseInput, ReleaseRecord,
  StoredReport, VersionDrift,
} from './fleet-types.ts';
import { FleetView } from './fleet-view.ts';
import { ReleaseRegistry } from './releases.ts';

export { MAX_REPORTS_PER_DEVICE, REPORTS_PER_MINUTE } from './device-reports.ts';
export type {
  AttestationRecord, ClaimInput, ClaimManyError, ClaimManyResult, ClaimRecord, ClaimState, FleetDeviceView, GroupInput, GroupRecord,
  ReleaseInput, ReleaseRecord, StoredReport, VersionDrift,
} from './fleet-types.ts';

export interface FleetServiceOptions {
  /** The stores on the database itself: reads outside a unit of work. */
  stores: FleetStores;
  /** Writes: the stores, the audit recorder and the incident raiser bound to one transaction. */
  uow: FleetUnitOfWork;
  issuer: CertificateIssuer;
  now: () => number;
  randomBytes?: (n: number) => Buffer;
  /** Lifetime of operational certificates (default 24 h). */
  certificateValidityHours?: number;
  /** Lifetime of a challenge nonce (default 60 s). */
  nonceTtlMs?: number;
  /** How far a challenge request's issuedAt may be from `now` (default protocol's CHALLENGE_MAX_SKEW_MS, 5 min). */
  challengeMaxSkewMs?: number;
  /**
   * Nonce writes and passed appraisals queued in the same event-loop turn share one transaction
   * (default true): the attestation throughput of a burst of enrolments (docs/benchmarks.md, bench/attest).
   */
  coalescePasses?: boolean;
  /** Called after a device is revoked: disconnect it from the broker now. */
  onRevoked?: (deviceId: string) => void;
  /** Called after a device is quarantined by a failed appraisal: disconnect it too. */
  onQuarantined?: (deviceId: string) => void;
  /** Called after what `fleetView()` shows changed: a claim, a device's state or an attestation. */
  onChanged?: (deviceId: string) => void;
}

export class FleetService {
  readonly claimsAndGroups: ClaimsAndGroups;
  readonly releaseRegistry: ReleaseRegistry;
  readonly appraisal: Appraisal;
  readonly ledger: CertificateLedger;
  readonly deviceReports: DeviceReports;
  readonly view: FleetView;

  constructor(options: FleetServiceOptions) {
    const { stores, uow, now } = options;
    this.claimsAndGroups = new ClaimsAndGroups({
      stores, uow, now,
      ...(options.onRevoked ? { onRevoked: options.onRevoked } : {}),
      ...(options.onChanged ? { onChanged: options.onChanged } : {}),
    });
    this.releaseRegistry = new ReleaseRegistry({ stores, uow, now });
    // Nonce writes and passes of concurrent enrolments share commits; refusals and operators' changes commit on their own.
    const coalesced = options.coalescePasses === false ? uow : new CoalescingUnitOfWork(uow);
    this.appraisal = new Appraisal({
      stores, uow, passes: coalesced,
      nonces: new ChallengeNonces({
        writes: coalesced, now, ttlMs: options.nonceTtlMs ?? 60_000,
        ...(options.randomBytes ? { randomBytes: options.randomBytes } : {}),
      }),
      releases: this.releaseRegistry, issuer: options.issuer, now,
      certificateValidityHours: options.certificateValidityHours ?? 24,
      ...(options.challengeMaxSkewMs !== undefined ? { challengeMaxSkewMs: options.challengeMaxSkewMs } : {}),
      ...(options.onQuarantined ? { onQuarantined: options.onQuarantined } : {}),
      ...(options.onChanged ? { onChanged: options.onChanged } : {}),
    });
    this.ledger = new CertificateLedger({
      certificates: stores.certificates, claimOf: (id) => this.claimsAndGroups.getClaim(id), issuer: options.issuer, now,
    });
    this.deviceReports = new DeviceReports({ reports: stores.reports, claims: stores.claims, now });
    this.view = new FleetView({
      view: stores.view, releasesOf: (group) => this.releaseRegistry.listReleases(group), reportsDropped: (id) => this.deviceReports.reportsDropped(id),
    });
  }

  // ---------------------------------------------------------------- groups and reference values

  /** Creates a group, or changes its minimum secure version. A group never moves to another site. */
  defineGroup(input: GroupInput, actor: string): Promise<GroupRecord> {
    return this.claimsAndGroups.defineGroup(input, actor);
  }

  /** Registers a release's reference manifest (RFC 9334 §8.3 Reference Values) for a group. */
  registerRelease(input: ReleaseInput, actor: string): Promise<ReleaseRecord> {
    return this.releaseRegistry.registerRelease(input, actor);
  }

  listGroups(): Promise<GroupRecord[]> {
    return this.claimsAndGroups.listGroups();
  }

  getGroup(id: string): Promise<GroupRecord | undefined> {
    return this.claimsAndGroups.getGroup(id);
  }

  /** A group's releases, newest first. */
  listReleases(group: string): Promise<ReleaseRecord[]> {
    return this.releaseRegistry.listReleases(group);
  }

  // ---------------------------------------------------------------- claims

  claim(input: ClaimInput, actor: string): Promise<ClaimRecord> {
    return this.claimsAndGroups.claim(input, actor);
  }

  claimMany(list: readonly (ClaimInput & { line?: number })[], actor: string): Promise<ClaimManyResult> {
    return this.claimsAndGroups.claimMany(list, actor);
  }

  getClaim(deviceId: string): Promise<ClaimRecord | undefined> {
    return this.claimsAndGroups.getClaim(deviceId);
  }

  revoke(deviceId: string, actor: string, reason: string): Promise<ClaimRecord> {
    return this.claimsAndGroups.revoke(deviceId, actor, reason);
  }

  releaseQuarantine(deviceId: string, actor: string): Promise<ClaimRecord> {
    return this.claimsAndGroups.releaseQuarantine(deviceId, actor);
  }

  // ---------------------------------------------------------------- certificates

  isDeviceAllowed(deviceId: string, certSerial: string): Promise<boolean> {
    return this.ledger.isDeviceAllowed(deviceId, certSerial);
  }

  crls(): Promise<string[]> {
    return this.ledger.crls();
  }

  // ---------------------------------------------------------------- attestation

  challenge(request: ChallengeRequest): Promise<ChallengeResponse> {
    return this.appraisal.challenge(request);
  }

  appraise(evidenceJws: string): Promise<EnrolmentResponse> {
    return this.appraisal.appraise(evidenceJws);
  }

  attestations(deviceId: string, limit = 50): Promise<AttestationRecord[]> {
    return this.appraisal.attestations(deviceId, limit);
  }

  // ---------------------------------------------------------------- views and reports

  fleetView(): Promise<FleetDeviceView[]> {
    return this.view.fleetView();
  }

  versionReport(): Promise<VersionDrift[]> {
    return this.view.versionReport();
  }

  recordReport(deviceId: string, report: DeviceReport): Promise<boolean> {
    return this.deviceReports.recordReport(deviceId, report);
  }

  /** A device's stored reports, newest first. */
  reports(deviceId: string): Promise<StoredReport[]> {
    return this.deviceReports.reports(deviceId);
  }

  reportsDropped(deviceId: string): number {
    return this.deviceReports.reportsDropped(deviceId);
  }
}
