/**
 * The fleet: which devices are claimed into which site and group, what software each group may
 * run (reference values), and the attestation verifier that turns fresh, authentic, matching
 * evidence into a short-lived operational certificate (ARCHITECTURE.md §2).
 *
 * RFC 9334 roles, background-check model (§5.2): the guardian (Attester) sends Evidence to the
 * server (Relying Party), which hands it to this Verifier and acts on the result itself by
 * issuing, or not issuing, a certificate.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import {
  DEVICE_ID_PATTERN, isValidId,
  type AttestationRefusal, type ChallengeRequest, type ChallengeResponse, type DeviceReport, type EnrolmentResponse, type EvidenceClaims,
  type Measurement,
} from '@shellguard/protocol';
import type { AuditLog } from '../audit/audit-log.ts';
import type { IncidentInput, IncidentLog } from '../incidents/incident-log.ts';
import type { SqliteDatabase } from '../db/database.ts';
import { runMigrations } from '../db/migrations.ts';
import { normaliseSerial, type CertificateIssuer } from './certificate-issuer.ts';
import { ChallengeVerifier } from './challenge-verifier.ts';
import { EvidenceVerifier } from './evidence-verifier.ts';
import { AttestationError, FleetError } from './fleet-error.ts';
import { FLEET_MIGRATIONS } from './fleet-schema.ts';
import { NonceStore } from './nonce-store.ts';
import {
  allowedDigests, driftFromTarget, isPerDeviceComponent, newestRelease, unmatchedMeasurements, type AllowedDigests, type ComponentDifference,
} from './reference-values.ts';
import { compareSemver, isSemver } from './semver.ts';

export type ClaimState = 'claimed' | 'quarantined' | 'revoked';

export interface FleetServiceOptions {
  db: SqliteDatabase;
  issuer: CertificateIssuer;
  audit: AuditLog;
  incidents: IncidentLog;
  now: () => number;
  randomBytes?: (n: number) => Buffer;
  /** Lifetime of operational certificates (default 24 h). */
  certificateValidityHours?: number;
  /** Lifetime of a challenge nonce (default 60 s). */
  nonceTtlMs?: number;
  /** How far a challenge request's issuedAt may be from `now` (default protocol's CHALLENGE_MAX_SKEW_MS, 5 min). */
  challengeMaxSkewMs?: number;
  /** Called after a device is revoked: disconnect it from the broker now. */
  onRevoked?: (deviceId: string) => void;
  /** Called after a device is quarantined by a failed appraisal: disconnect it too. */
  onQuarantined?: (deviceId: string) => void;
  /** Called after what `fleetView()` shows changed: a claim, a device's state or an attestation. */
  onChanged?: (deviceId: string) => void;
}

export interface ClaimInput {
  deviceId: string;
  site: string;
  group: string;
}

export interface ClaimRecord extends ClaimInput {
  state: ClaimState;
  /** Why the state last changed (refusal code or the operator's reason). */
  reason?: string;
  claimedBy: string;
  claimedAt: number;
  changedBy: string;
  changedAt: number;
}

export interface ClaimManyError {
  /** 1-based line (the input's own `line` when given, else its position). */
  line: number;
  deviceId?: string;
  code: string;
  reason: string;
}

export interface ClaimManyResult {
  claimed: ClaimRecord[];
  errors: ClaimManyError[];
}

export interface GroupInput {
  id: string;
  site: string;
  minSecureVersion: string;
}

export interface GroupRecord extends GroupInput {
  updatedBy: string;
  updatedAt: number;
}

export interface ReleaseInput {
  group: string;
  swname: string;
  swversion: string;
  components: Measurement[];
}

export interface ReleaseRecord extends ReleaseInput {
  registeredBy: string;
  registeredAt: number;
}

export interface AttestationRecord {
  deviceId: string;
  at: number;
  result: 'pass' | 'fail';
  reason?: AttestationRefusal;
  /** false when the evidence could not be shown to come from the device (forged, replayed). */
  authentic: boolean;
  swversion?: string;
  measurements?: Measurement[];
  certSerial?: string;
  certNotAfter?: number;
}

export interface FleetDeviceView {
  deviceId: string;
  site: string;
  group: string;
  state: ClaimState;
  stateReason?: string;
  stateChangedAt: number;
  /** The newest appraisal of evidence authentically from this device. */
  lastAttestation?: { at: number; result: 'pass' | 'fail'; reason?: AttestationRefusal };
  swversion?: string;
  measurements?: Measurement[];
  /** Expiry of the newest unrevoked operational certificate (epoch ms). */
  certificateNotAfter?: number;
  reportCount: number;
  /** Reports dropped by the rate limit since the server started. */
  reportsDropped: number;
}

export interface VersionDrift {
  deviceId: string;
  site: string;
  group: string;
  swversion: string;
  measuredAt: number;
  /** The release the group should run (its newest). */
  target: { swname: string; swversion: string };
  differences: ComponentDifference[];
}

export interface StoredReport {
  deviceId: string;
  /** Server time of receipt (epoch ms). */
  receivedAt: number;
  /** Device time of the event (epoch ms). */
  at: number;
  kind: DeviceReport['kind'];
  message: string;
  detail: string;
}

export const MAX_REPORTS_PER_DEVICE = 100;
export const REPORTS_PER_MINUTE = 10;
const MAX_REPORT_DETAIL = 16 * 1024;
/** Unauthenticated refusals of one kind for one device are recorded at most once per window. */
const NOISE_WINDOW_MS = 60_000;
/** Releases may list many per-device config digests. */
const MAX_RELEASE_COMPONENTS = 10_000;
const COMPONENT_PATTERN = /^[a-z0-9][a-z0-9:._-]{0,127}$/;
const DIGEST_PATTERN = /^[0-9a-f]{64}$/;

const SEVERITY: Record<AttestationRefusal, IncidentInput['severity']> = {
  // Challenge refusals are answered, logged by the route and not recorded (no write on a path
  // anyone can call); they are listed so the map stays total.
  challenge_proof_invalid: 'medium',
  challenge_stale: 'low',
  challenge_replayed: 'high',
  evidence_malformed: 'low',
  signature_invalid: 'high',
  key_mismatch: 'high',
  nonce_unknown: 'medium',
  nonce_replayed: 'high',
  nonce_expired: 'low',
  device_unclaimed: 'low',
  device_revoked: 'high',
  device_quarantined: 'medium',
  measurements_mismatch: 'high',
  version_below_minimum: 'high',
  no_reference_values: 'medium',
};

interface ClaimRow {
  device_id: string; site: string; group_id: string; state: ClaimState; reason: string | null;
  claimed_by: string; claimed_at: number; changed_by: string; changed_at: number;
}
interface GroupRow { id: string; site: string; min_secure_version: string; updated_by: string; updated_at: number }
interface ReleaseRow { group_id: string; swname: string; swversion: string; components: string; registered_by: string; registered_at: number }
interface AttestationRow {
  device_id: string; at: number; result: 'pass' | 'fail'; reason: AttestationRefusal | null; authentic: number;
  swversion: string | null; measurements: string | null; cert_serial: string | null; cert_not_after: number | null;
}
interface ViewRow {
  device_id: string; site: string; group_id: string; state: ClaimState; reason: string | null; changed_at: number;
  a_at: number | null; a_result: 'pass' | 'fail' | null; a_reason: AttestationRefusal | null; a_swversion: string | null;
  a_measurements: string | null; cert_not_after: number | null; report_count: number;
}

const toClaim = (r: ClaimRow): ClaimRecord => ({
  deviceId: r.device_id, site: r.site, group: r.group_id, state: r.state, ...(r.reason !== null ? { reason: r.reason } : {}),
  claimedBy: r.claimed_by, claimedAt: r.claimed_at, changedBy: r.changed_by, changedAt: r.changed_at,
});
const toGroup = (r: GroupRow): GroupRecord => ({
  id: r.id, site: r.site, minSecureVersion: r.min_secure_version, updatedBy: r.updated_by, updatedAt: r.updated_at,
});
const toRelease = (r: ReleaseRow): ReleaseRecord => ({
  group: r.group_id, swname: r.swname, swversion: r.swversion, components: JSON.parse(r.components) as Measurement[],
  registeredBy: r.registered_by, registeredAt: r.registered_at,
});
const toAttestation = (r: AttestationRow): AttestationRecord => ({
  deviceId: r.device_id, at: r.at, result: r.result, ...(r.reason !== null ? { reason: r.reason } : {}),
  authentic: r.authentic === 1,
  ...(r.swversion !== null ? { swversion: r.swversion } : {}),
  ...(r.measurements !== null ? { measurements: JSON.parse(r.measurements) as Measurement[] } : {}),
  ...(r.cert_serial !== null ? { certSerial: r.cert_serial } : {}),
  ...(r.cert_not_after !== null ? { certNotAfter: r.cert_not_after } : {}),
});

function validateComponents(components: unknown): Measurement[] {
  if (!Array.isArray(components) || components.length === 0 || components.length > MAX_RELEASE_COMPONENTS) {
    throw new FleetError('invalid_input', `components must be a list of 1 to ${MAX_RELEASE_COMPONENTS} {component, digest} entries`);
  }
  const seen = new Set<string>();
  return components.map((c: unknown) => {
    const { component, digest } = (typeof c === 'object' && c !== null ? c : {}) as Record<string, unknown>;
    if (typeof component !== 'string' || !COMPONENT_PATTERN.test(component)) {
      throw new FleetError('invalid_input', 'component names are short lowercase names (runtime, guardian-bundle, config, profiles, profile:<id>)', { component });
    }
    if (typeof digest !== 'string' || !DIGEST_PATTERN.test(digest)) {
      throw new FleetError('invalid_input', `the digest of ${component} must be lowercase hex SHA-256`, { component });
    }
    if (seen.has(`${component} ${digest}`) || (seen.has(component) && !isPerDeviceComponent(component))) {
      throw new FleetError('invalid_input', `component ${component} is listed twice (only config and profiles may list several digests)`, { component });
    }
    seen.add(component);
    seen.add(`${component} ${digest}`);
    return { component, digest };
  });
}

export class FleetService {
  private readonly db: SqliteDatabase;
  private readonly issuer: CertificateIssuer;
  private readonly audit: AuditLog;
  private readonly incidents: IncidentLog;
  private readonly now: () => number;
  private readonly validityHours: number;
  private readonly onRevoked: ((deviceId: string) => void) | undefined;
  private readonly onQuarantined: ((deviceId: string) => void) | undefined;
  private readonly onChanged: ((deviceId: string) => void) | undefined;
  private readonly verifier = new EvidenceVerifier();
  private readonly challengeVerifier: ChallengeVerifier;
  private readonly nonces: NonceStore;

  // In-memory views of small tables, so the hot paths (broker CONNECT, appraisal) touch no disk.
  private readonly claims = new Map<string, ClaimRecord>();
  private readonly groups = new Map<string, GroupRecord>();
  private readonly releasesByGroup = new Map<string, ReleaseRecord[]>();
  private readonly allowedByGroup = new Map<string, AllowedDigests>();
  /** Unrevoked, unexpired operational certificates by normalised serial. */
  private readonly liveCerts = new Map<string, { deviceId: string; notAfter: number }>();
  private nextCertSweep = 0;
  private readonly reportWindows = new Map<string, number[]>();
  private readonly reportsDroppedByDevice = new Map<string, number>();
  private readonly noise = new Map<string, number>();
  private nextNoiseSweep = 0;
  private pendingWrites: (() => void)[] = [];
  private pendingCommit: Promise<void> | undefined;

  private readonly stmt;

  constructor(options: FleetServiceOptions) {
    this.db = options.db;
    this.issuer = options.issuer;
    this.audit = options.audit;
    this.incidents = options.incidents;
    this.now = options.now;
    this.validityHours = options.certificateValidityHours ?? 24;
    this.onRevoked = options.onRevoked;
    this.onQuarantined = options.onQuarantined;
    this.onChanged = options.onChanged;
    this.nonces = new NonceStore({
      now: options.now, ttlMs: options.nonceTtlMs ?? 60_000, randomBytes: options.randomBytes ?? nodeRandomBytes,
    });
    this.challengeVerifier = new ChallengeVerifier(
      options.challengeMaxSkewMs !== undefined ? { maxSkewMs: options.challengeMaxSkewMs } : {},
    );
    runMigrations(this.db, 'fleet', FLEET_MIGRATIONS);
    const db = this.db;
    this.stmt = {
      insertClaim: db.prepare(`INSERT INTO fleet_claims (device_id, site, group_id, state, reason, claimed_by, claimed_at, changed_by, changed_at)
        VALUES (@deviceId, @site, @group, 'claimed', NULL, @actor, @at, @actor, @at)`),
      setState: db.prepare('UPDATE fleet_claims SET state = ?, reason = ?, changed_by = ?, changed_at = ? WHERE device_id = ?'),
      upsertGroup: db.prepare(`INSERT INTO fleet_groups (id, site, min_secure_version, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET min_secure_version = excluded.min_secure_version, updated_by = excluded.updated_by, updated_at = excluded.updated_at`),
      insertRelease: db.prepare(`INSERT INTO fleet_releases (group_id, swname, swversion, components, registered_by, registered_at)
        VALUES (?, ?, ?, ?, ?, ?)`),
      extendRelease: db.prepare('UPDATE fleet_releases SET components = ? WHERE group_id = ? AND swversion = ?'),
      insertAttestation: db.prepare(`INSERT INTO fleet_attestations
        (device_id, at, result, reason, authentic, swversion, measurements, cert_serial, cert_not_after)
        VALUES (@deviceId, @at, @result, @reason, @authentic, @swversion, @measurements, @certSerial, @certNotAfter)`),
      insertCert: db.prepare('INSERT INTO fleet_certificates (serial, device_id, issued_at, not_after, revoked_at) VALUES (?, ?, ?, ?, NULL)'),
      revokeCert: db.prepare('UPDATE fleet_certificates SET revoked_at = ? WHERE serial = ? AND revoked_at IS NULL'),
      revokeCerts: db.prepare('UPDATE fleet_certificates SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL'),
      revokedCerts: db.prepare('SELECT serial, revoked_at FROM fleet_certificates WHERE revoked_at IS NOT NULL AND not_after > ?'),
      liveCerts: db.prepare('SELECT serial, device_id, not_after FROM fleet_certificates WHERE revoked_at IS NULL AND not_after > ?'),
      attestations: db.prepare('SELECT * FROM fleet_attestations WHERE device_id = ? ORDER BY id DESC LIMIT ?'),
      insertReport: db.prepare('INSERT INTO fleet_reports (device_id, received_at, at, kind, message, detail) VALUES (?, ?, ?, ?, ?, ?)'),
      pruneReports: db.prepare(`DELETE FROM fleet_reports WHERE device_id = ? AND id <= (
        SELECT id FROM fleet_reports WHERE device_id = ? ORDER BY id DESC LIMIT 1 OFFSET ${MAX_REPORTS_PER_DEVICE})`),
      reports: db.prepare('SELECT * FROM fleet_reports WHERE device_id = ? ORDER BY id DESC'),
      view: db.prepare(`SELECT c.device_id, c.site, c.group_id, c.state, c.reason, c.changed_at,
          a.at AS a_at, a.result AS a_result, a.reason AS a_reason, a.swversion AS a_swversion, a.measurements AS a_measurements,
          (SELECT MAX(k.not_after) FROM fleet_certificates k WHERE k.device_id = c.device_id AND k.revoked_at IS NULL) AS cert_not_after,
          (SELECT COUNT(*) FROM fleet_reports r WHERE r.device_id = c.device_id) AS report_count
        FROM fleet_claims c
        LEFT JOIN fleet_attestations a ON a.id = (
          SELECT x.id FROM fleet_attestations x WHERE x.device_id = c.device_id AND x.authentic = 1 ORDER BY x.id DESC LIMIT 1)
        ORDER BY c.site, c.group_id, c.device_id`),
    };
    for (const r of db.prepare('SELECT * FROM fleet_groups').all() as GroupRow[]) this.groups.set(r.id, toGroup(r));
    for (const r of db.prepare('SELECT * FROM fleet_claims').all() as ClaimRow[]) this.claims.set(r.device_id, toClaim(r));
    for (const r of db.prepare('SELECT * FROM fleet_releases').all() as ReleaseRow[]) this.addReleaseToCache(toRelease(r));
    this.reloadLiveCerts();
  }

  // ---------------------------------------------------------------- groups and reference values

  /** Creates a group, or changes its minimum secure version. A group never moves to another site. */
  defineGroup(input: GroupInput, actor: string): GroupRecord {
    const { id, site, minSecureVersion } = input;
    if (typeof id !== 'string' || !isValidId(id)) throw new FleetError('invalid_input', 'group id must be 1-128 of A-Z a-z 0-9 . _ : -', { id });
    if (typeof site !== 'string' || !isValidId(site)) throw new FleetError('invalid_input', 'site id must be 1-128 of A-Z a-z 0-9 . _ : -', { site });
    if (typeof minSecureVersion !== 'string' || !isSemver(minSecureVersion)) {
      throw new FleetError('invalid_input', 'minSecureVersion must be a semantic version such as 1.4.0', { minSecureVersion });
    }
    const existing = this.groups.get(id);
    if (existing && existing.site !== site) {
      throw new FleetError('group_site_mismatch', `group ${id} belongs to site ${existing.site}`, { group: id, site: existing.site });
    }
    const at = this.now();
    const record: GroupRecord = { id, site, minSecureVersion, updatedBy: actor, updatedAt: at };
    this.db.transaction(() => {
      this.stmt.upsertGroup.run(id, site, minSecureVersion, actor, at);
      this.audit.record({
        actor, action: 'group.define', target: `group:${id}`,
        detail: { site, minSecureVersion, ...(existing ? { previousMinSecureVersion: existing.minSecureVersion } : {}) },
      });
    })();
    this.groups.set(id, record);
    return record;
  }

  /** Registers a release's reference manifest (RFC 9334 §8.3 Reference Values) for a group. */
  registerRelease(input: ReleaseInput, actor: string): ReleaseRecord {
    const group = this.requireGroup(input.group);
    if (typeof input.swname !== 'string' || input.swname.length === 0 || input.swname.length > 128) {
      throw new FleetError('invalid_input', 'swname must be a string of 1-128 characters');
    }
    if (typeof input.swversion !== 'string' || !isSemver(input.swversion)) {
      throw new FleetError('invalid_input', 'swversion must be a semantic version such as 1.4.0', { swversion: input.swversion });
    }
    const components = validateComponents(input.components);
    const existing = this.releasesByGroup.get(group.id)?.find((r) => r.swversion === input.swversion);
    if (existing) {
      const same = existing.swname === input.swname && existing.components.length === components.length
        && components.every((c) => existing.components.some((e) => e.component === c.component && e.digest === c.digest));
      if (same) return existing;
      // The same software with another guardian's configuration or profiles: add those per-device
      // reference values to the release. Different code under the same version is a conflict.
      const code = (list: readonly Measurement[]) => list.filter((c) => !isPerDeviceComponent(c.component))
        .map((c) => `${c.component} ${c.digest}`).sort().join('\n');
      if (existing.swname !== input.swname || code(existing.components) !== code(components)) {
        throw new FleetError('release_conflict', `group ${group.id} already has a different release ${input.swversion}`, {
          group: group.id, swversion: input.swversion,
        });
      }
      return this.extendRelease(existing, components, actor);
    }
    const at = this.now();
    const record: ReleaseRecord = { group: group.id, swname: input.swname, swversion: input.swversion, components, registeredBy: actor, registeredAt: at };
    this.db.transaction(() => {
      this.stmt.insertRelease.run(group.id, input.swname, input.swversion, JSON.stringify(components), actor, at);
      this.audit.record({
        actor, action: 'group.release.register', target: `group:${group.id}`,
        detail: { swname: input.swname, swversion: input.swversion, components },
      });
    })();
    this.addReleaseToCache(record);
    return record;
  }

  listGroups(): GroupRecord[] {
    return [...this.groups.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  getGroup(id: string): GroupRecord | undefined {
    return this.groups.get(id);
  }

  /** A group's releases, newest first. */
  listReleases(group: string): ReleaseRecord[] {
    return [...(this.releasesByGroup.get(group) ?? [])].sort((a, b) => compareSemver(b.swversion, a.swversion));
  }

  // ---------------------------------------------------------------- claims

  /** Claims a device into a site and an existing group of that site. */
  claim(input: ClaimInput, actor: string): ClaimRecord {
    const record = this.validateClaim(input);
    this.db.transaction(() => this.insertClaim(record, actor))();
    this.onChanged?.(record.deviceId);
    return this.claims.get(record.deviceId)!;
  }

  /** Claims a list (a CSV import); each entry succeeds or fails on its own. */
  claimMany(list: readonly (ClaimInput & { line?: number })[], actor: string): ClaimManyResult {
    const result: ClaimManyResult = { claimed: [], errors: [] };
    this.db.transaction(() => {
      list.forEach((entry, i) => {
        const line = entry.line ?? i + 1;
        try {
          const record = this.validateClaim(entry);
          this.insertClaim(record, actor);
          result.claimed.push(this.claims.get(record.deviceId)!);
        } catch (err) {
          if (!(err instanceof FleetError)) throw err;
          result.errors.push({
            line, code: err.code, reason: err.message,
            ...(typeof entry?.deviceId === 'string' ? { deviceId: entry.deviceId } : {}),
          });
        }
      });
    })();
    for (const c of result.claimed) this.onChanged?.(c.deviceId);
    return result;
  }

  getClaim(deviceId: string): ClaimRecord | undefined {
    return this.claims.get(deviceId);
  }

  /**
   * Revokes a device for good: its certificates are revoked (CRL), the broker refuses it from
   * now on and `onRevoked` disconnects it.
   */
  revoke(deviceId: string, actor: string, reason: string): ClaimRecord {
    const claim = this.requireClaim(deviceId);
    if (claim.state === 'revoked') return claim;
    const at = this.now();
    const why = typeof reason === 'string' && reason.length > 0 ? reason.slice(0, 500) : 'revoked by an operator';
    this.db.transaction(() => {
      this.stmt.setState.run('revoked', why, actor, at, deviceId);
      const certs = this.stmt.revokeCerts.run(at, deviceId).changes;
      this.audit.record({
        actor, action: 'device.revoke', target: `device:${deviceId}`,
        detail: { reason: why, previousState: claim.state, certificatesRevoked: certs },
      });
    })();
    this.claims.set(deviceId, { ...claim, state: 'revoked', reason: why, changedBy: actor, changedAt: at });
    for (const [serial, cert] of this.liveCerts) if (cert.deviceId === deviceId) this.liveCerts.delete(serial);
    this.onRevoked?.(deviceId);
    this.onChanged?.(deviceId);
    return this.claims.get(deviceId)!;
  }

  /** An operator lifts a quarantine; the device may attest again. */
  releaseQuarantine(deviceId: string, actor: string): ClaimRecord {
    const claim = this.requireClaim(deviceId);
    if (claim.state !== 'quarantined') {
      throw new FleetError('device_not_quarantined', `device ${deviceId} is ${claim.state}, not quarantined`, { deviceId, state: claim.state });
    }
    const at = this.now();
    this.db.transaction(() => {
      this.stmt.setState.run('claimed', null, actor, at, deviceId);
      this.audit.record({
        actor, action: 'device.quarantine.release', target: `device:${deviceId}`, detail: { quarantinedFor: claim.reason ?? null },
      });
    })();
    const { reason: _reason, ...rest } = claim;
    const updated: ClaimRecord = { ...rest, state: 'claimed', changedBy: actor, changedAt: at };
    this.claims.set(deviceId, updated);
    this.onChanged?.(deviceId);
    return updated;
  }

  /**
   * The broker's question on every CONNECT (after the TLS chain and the operational policy
   * checked out): is this device claimed and in good standing, and is this certificate one we
   * issued to it and have not revoked? Memory only.
   */
  isDeviceAllowed(deviceId: string, certSerial: string): boolean {
    if (this.claims.get(deviceId)?.state !== 'claimed') return false;
    const now = this.now();
    if (now >= this.nextCertSweep) this.reloadLiveCerts();
    const cert = this.liveCerts.get(normaliseSerial(certSerial));
    return cert !== undefined && cert.deviceId === deviceId && cert.notAfter > now;
  }

  /** One CRL (PEM) per issuing CA, listing revoked certificates that have not yet expired. */
  async crls(): Promise<string[]> {
    const rows = this.stmt.revokedCerts.all(this.now()) as { serial: string; revoked_at: number }[];
    return this.issuer.generateCrls(rows.map((r) => ({ serial: r.serial, revokedAt: r.revoked_at })));
  }

  // ---------------------------------------------------------------- attestation

  /**
   * Issues a nonce (RFC 9334 §10.2) to the holder of a device key: the request must carry a valid
   * proof of possession (protocol/challenge-proof.ts), else challenge_proof_invalid,
   * challenge_stale or challenge_replayed. A proven request gets the same answer whatever the
   * device's claim state, so the challenge tells nobody whether an id is claimed, revoked or
   * quarantined; appraisal gives the truth, to evidence signed by the key. Devices with a claim
   * record get a stored nonce (their appraisal needs it to reach the state check); others an
   * unrecorded one, so minted keys cannot grow memory.
   */
  challenge(request: ChallengeRequest): ChallengeResponse {
    const { deviceId, requestId } = this.challengeVerifier.verify(request, this.now(), (id) => this.claims.has(id));
    if (this.claims.has(deviceId)) return this.nonces.issue(deviceId);
    return this.nonces.unrecorded(deviceId, requestId);
  }

  /**
   * Appraises evidence (an EAT, RFC 9711) and, when it passes, issues an operational
   * certificate. Order matters: nothing the evidence says is believed before its signature and
   * key binding verified, and only evidence authentically from the device, fresh, can quarantine it.
   */
  async appraise(evidenceJws: string): Promise<EnrolmentResponse> {
    const at = this.now();
    let verified;
    try {
      verified = this.verifier.verify(evidenceJws);
    } catch (err) {
      if (err instanceof AttestationError) {
        const claimed = err.details.claimedDeviceId;
        this.refuse(err, { at, authentic: false, ...(typeof claimed === 'string' ? { deviceId: claimed } : {}) });
      }
      throw err;
    }
    const { deviceId, publicKey, claims } = verified;

    // RFC 9334 §8.5 (appraisal policy): unclaimed devices are not appraised at all. Checked before
    // the nonce so the refusal says what the operator must do; it never changes any state.
    const claim = this.claims.get(deviceId);
    if (!claim) {
      this.refuse(new AttestationError('device_unclaimed', 'this device is not claimed; claim it into a site and group first', { deviceId }), {
        at, deviceId, authentic: false, claims,
      });
    }

    // RFC 9334 §10.2: freshness. The nonce must be ours, for this device, unused and in time.
    const nonce = this.nonces.consume(claims.eat_nonce, deviceId);
    if (nonce !== 'ok') {
      const message = nonce === 'nonce_replayed' ? 'this nonce has already been used'
        : nonce === 'nonce_expired' ? 'this nonce has expired; ask for a new challenge'
          : 'this nonce was not issued to this device';
      // Signed by the device, but possibly captured and replayed by someone else: not proof of
      // what the device runs now, so it never quarantines.
      this.refuse(new AttestationError(nonce, message, { deviceId }), { at, deviceId, authentic: false, claims });
    }

    // A revoked or quarantined device is refused even with fresh, authentic evidence.
    if (claim.state === 'revoked') {
      this.refuse(new AttestationError('device_revoked', 'this device has been revoked', { deviceId }), { at, deviceId, authentic: true, claims });
    }
    if (claim.state === 'quarantined') {
      this.refuse(new AttestationError('device_quarantined', 'this device is quarantined until an operator releases it', {
        deviceId, quarantinedFor: claim.reason,
      }), { at, deviceId, authentic: true, claims });
    }

    // RFC 9334 §8.3: compare the measured components with the reference values of the group.
    const group = this.groups.get(claim.group)!;
    const releases = this.releasesByGroup.get(group.id) ?? [];
    if (releases.length === 0) {
      this.refuse(new AttestationError('no_reference_values', `group ${group.id} has no registered release to compare with`, {
        deviceId, group: group.id,
      }), { at, deviceId, authentic: true, claims });
    }
    let allowed = this.allowedByGroup.get(group.id);
    if (!allowed) this.allowedByGroup.set(group.id, (allowed = allowedDigests(releases)));
    const unmatched = unmatchedMeasurements(claims.measurements, allowed);
    if (unmatched.length > 0) {
      this.refuse(new AttestationError('measurements_mismatch', `measured software is not a registered release of group ${group.id}: ${unmatched.map((u) => u.component).join(', ')}`, {
        deviceId, group: group.id, components: unmatched,
      }), { at, deviceId, authentic: true, claims, quarantine: true });
    }
    // RFC 9711 §4.2.7: swversion against the group's minimum secure version.
    if (compareSemver(claims.swversion, group.minSecureVersion) < 0) {
      this.refuse(new AttestationError('version_below_minimum', `swversion ${claims.swversion} is below the minimum secure version ${group.minSecureVersion}`, {
        deviceId, swversion: claims.swversion, minSecureVersion: group.minSecureVersion,
      }), { at, deviceId, authentic: true, claims, quarantine: true });
    }

    const issued = await this.issuer.signOperationalCertificate({ deviceId, publicKey }, { validityHours: this.validityHours, now: at });
    const serial = normaliseSerial(issued.serial);
    const done = this.now();
    // The records are committed before the certificate leaves (group commit: concurrent
    // appraisals share one SQLite transaction). State is read inside the write, so a revoke that
    // ran while the certificate was being signed revokes it too, and it is never returned.
    await this.commitSoon(() => {
      this.stmt.insertCert.run(serial, deviceId, done, issued.notAfter);
      if (this.claims.get(deviceId)?.state !== 'claimed') {
        this.stmt.revokeCert.run(done, serial);
        return;
      }
      this.stmt.insertAttestation.run({
        deviceId, at, result: 'pass', reason: null, authentic: 1, swversion: claims.swversion,
        measurements: JSON.stringify(claims.measurements), certSerial: serial, certNotAfter: issued.notAfter,
      });
      this.audit.record({
        actor: `device:${deviceId}`, action: 'attestation.pass', target: `device:${deviceId}`,
        detail: { swversion: claims.swversion, bootcount: claims.bootcount, certSerial: serial, certNotAfter: issued.notAfter },
      });
    });
    const current = this.claims.get(deviceId);
    if (current?.state !== 'claimed') {
      // Revoked after the commit, before this continuation ran: make sure this serial is revoked too.
      this.stmt.revokeCert.run(this.now(), serial);
      const code = current?.state === 'quarantined' ? 'device_quarantined' : 'device_revoked';
      throw new AttestationError(code, `this device was ${current?.state ?? 'unclaimed'} during the appraisal`, { deviceId });
    }
    this.liveCerts.set(serial, { deviceId, notAfter: issued.notAfter });
    this.onChanged?.(deviceId);
    const chain = issued.chainPem.trim();
    return {
      certificatePem: `${chain}\n`,
      caPems: [this.issuer.rootPem()],
      notAfter: issued.notAfter,
    };
  }

  /** A device's appraisals, newest first. */
  attestations(deviceId: string, limit = 50): AttestationRecord[] {
    return (this.stmt.attestations.all(deviceId, Math.max(1, Math.min(1000, Math.trunc(limit)))) as AttestationRow[]).map(toAttestation);
  }

  // ---------------------------------------------------------------- views

  fleetView(): FleetDeviceView[] {
    return (this.stmt.view.all() as ViewRow[]).map((r) => ({
      deviceId: r.device_id, site: r.site, group: r.group_id, state: r.state,
      ...(r.reason !== null ? { stateReason: r.reason } : {}),
      stateChangedAt: r.changed_at,
      ...(r.a_at !== null && r.a_result !== null
        ? { lastAttestation: { at: r.a_at, result: r.a_result, ...(r.a_reason !== null ? { reason: r.a_reason } : {}) } }
        : {}),
      ...(r.a_swversion !== null ? { swversion: r.a_swversion } : {}),
      ...(r.a_measurements !== null ? { measurements: JSON.parse(r.a_measurements) as Measurement[] } : {}),
      ...(r.cert_not_after !== null ? { certificateNotAfter: r.cert_not_after } : {}),
      reportCount: r.report_count,
      reportsDropped: this.reportsDroppedByDevice.get(r.device_id) ?? 0,
    }));
  }

  /**
   * "Right version everywhere": devices (not revoked) whose last measured software differs from
   * their group's newest release. Devices never appraised have no measurements and are not listed.
   */
  versionReport(): VersionDrift[] {
    const out: VersionDrift[] = [];
    for (const device of this.fleetView()) {
      if (device.state === 'revoked' || !device.measurements || !device.lastAttestation) continue;
      const releases = this.releasesByGroup.get(device.group) ?? [];
      const target = newestRelease(releases);
      if (!target) continue;
      const differences = driftFromTarget(device.measurements, releases);
      if (differences.length === 0) continue;
      out.push({
        deviceId: device.deviceId, site: device.site, group: device.group, swversion: device.swversion ?? '',
        measuredAt: device.lastAttestation.at, target: { swname: target.swname, swversion: target.swversion }, differences,
      });
    }
    return out;
  }

  // ---------------------------------------------------------------- crash and error reports

  /**
   * Stores a guardian's report: at most REPORTS_PER_MINUTE per device (the rest are counted and
   * dropped) and the newest MAX_REPORTS_PER_DEVICE kept. Returns whether it was stored.
   */
  recordReport(deviceId: string, report: DeviceReport): boolean {
    if (!this.claims.has(deviceId)) return false;
    const now = this.now();
    const window = (this.reportWindows.get(deviceId) ?? []).filter((t) => t > now - 60_000);
    if (window.length >= REPORTS_PER_MINUTE) {
      this.reportWindows.set(deviceId, window);
      this.reportsDroppedByDevice.set(deviceId, (this.reportsDroppedByDevice.get(deviceId) ?? 0) + 1);
      return false;
    }
    window.push(now);
    this.reportWindows.set(deviceId, window);
    this.db.transaction(() => {
      this.stmt.insertReport.run(deviceId, now, Number.isFinite(report.at) ? report.at : now, report.kind,
        String(report.message).slice(0, 500), String(report.detail).slice(0, MAX_REPORT_DETAIL));
      this.stmt.pruneReports.run(deviceId, deviceId);
    })();
    return true;
  }

  /** A device's stored reports, newest first. */
  reports(deviceId: string): StoredReport[] {
    const rows = this.stmt.reports.all(deviceId) as {
      device_id: string; received_at: number; at: number; kind: DeviceReport['kind']; message: string; detail: string;
    }[];
    return rows.map((r) => ({ deviceId: r.device_id, receivedAt: r.received_at, at: r.at, kind: r.kind, message: r.message, detail: r.detail }));
  }

  /** How many reports of this device the rate limit dropped since the server started. */
  reportsDropped(deviceId: string): number {
    return this.reportsDroppedByDevice.get(deviceId) ?? 0;
  }

  // ---------------------------------------------------------------- internals

  private requireGroup(id: string): GroupRecord {
    const group = typeof id === 'string' ? this.groups.get(id) : undefined;
    if (!group) {
      throw new FleetError('group_unknown', `no group ${String(id)}: create it first with \`shellguard group create ${String(id)} --site <site> --min-version <version>\``, { group: id });
    }
    return group;
  }

  private requireClaim(deviceId: string): ClaimRecord {
    if (typeof deviceId !== 'string' || !DEVICE_ID_PATTERN.test(deviceId)) {
      throw new FleetError('device_id_invalid', 'a device id is 64 lowercase hex characters', { deviceId });
    }
    const claim = this.claims.get(deviceId);
    if (!claim) throw new FleetError('device_unclaimed', `device ${deviceId} is not claimed`, { deviceId });
    return claim;
  }

  private validateClaim(input: ClaimInput): ClaimInput {
    const { deviceId, site, group } = (input ?? {}) as Partial<ClaimInput>;
    if (typeof deviceId !== 'string' || !DEVICE_ID_PATTERN.test(deviceId)) {
      throw new FleetError('device_id_invalid', 'a device id is 64 lowercase hex characters (SHA-256 of its public key)', { deviceId });
    }
    if (typeof site !== 'string' || !isValidId(site)) throw new FleetError('invalid_input', 'site id must be 1-128 of A-Z a-z 0-9 . _ : -', { site });
    const g = this.requireGroup(group as string);
    if (g.site !== site) {
      throw new FleetError('group_site_mismatch', `group ${g.id} belongs to site ${g.site}, not ${site}`, { group: g.id, site: g.site });
    }
    const existing = this.claims.get(deviceId);
    if (existing?.state === 'revoked') {
      throw new FleetError('device_revoked', `device ${deviceId} was revoked and cannot be claimed again`, { deviceId });
    }
    if (existing) {
      throw new FleetError('device_already_claimed', `device ${deviceId} is already claimed into ${existing.site}/${existing.group}`, {
        deviceId, site: existing.site, group: existing.group,
      });
    }
    return { deviceId, site, group: g.id };
  }

  /** Inside a transaction. */
  private insertClaim(input: ClaimInput, actor: string): void {
    const at = this.now();
    this.stmt.insertClaim.run({ ...input, actor, at });
    this.audit.record({ actor, action: 'device.claim', target: `device:${input.deviceId}`, detail: { site: input.site, group: input.group } });
    this.claims.set(input.deviceId, {
      ...input, state: 'claimed', claimedBy: actor, claimedAt: at, changedBy: actor, changedAt: at,
    });
  }

  private extendRelease(existing: ReleaseRecord, components: readonly Measurement[], actor: string): ReleaseRecord {
    const added = components.filter((c) => !existing.components.some((e) => e.component === c.component && e.digest === c.digest));
    const merged = [...existing.components, ...added];
    this.db.transaction(() => {
      this.stmt.extendRelease.run(JSON.stringify(merged), existing.group, existing.swversion);
      this.audit.record({
        actor, action: 'group.release.extend', target: `group:${existing.group}`,
        detail: { swname: existing.swname, swversion: existing.swversion, added },
      });
    })();
    (existing as { components: Measurement[] }).components = merged;
    this.allowedByGroup.delete(existing.group);
    return existing;
  }

  private addReleaseToCache(release: ReleaseRecord): void {
    const list = this.releasesByGroup.get(release.group) ?? [];
    list.push(release);
    this.releasesByGroup.set(release.group, list);
    this.allowedByGroup.delete(release.group);
  }

  private reloadLiveCerts(): void {
    const now = this.now();
    this.liveCerts.clear();
    for (const r of this.stmt.liveCerts.all(now) as { serial: string; device_id: string; not_after: number }[]) {
      this.liveCerts.set(r.serial, { deviceId: r.device_id, notAfter: r.not_after });
    }
    this.nextCertSweep = now + 60 * 60 * 1000;
  }

  /**
   * Records a refused appraisal (attestation row, audit event, incident), quarantines the device
   * when the evidence was authentically its own, fresh, and failed on what it runs, then throws.
   * Unauthenticated refusals are anyone's to send, so they are recorded at most once per minute
   * per (device, reason) and never attributed to a device that is not claimed.
   */
  private refuse(
    err: AttestationError,
    ctx: { at: number; deviceId?: string; authentic: boolean; claims?: EvidenceClaims; quarantine?: boolean },
  ): never {
    const claim = ctx.deviceId !== undefined ? this.claims.get(ctx.deviceId) : undefined;
    const deviceId = claim ? ctx.deviceId : undefined;
    if (!ctx.authentic && !this.shouldRecordNoise(`${deviceId ?? '?'}|${err.code}`, ctx.at)) throw err;
    const quarantine = ctx.quarantine === true && ctx.authentic && claim?.state === 'claimed';
    const detail: Record<string, unknown> = {
      reason: err.code, message: err.message, authentic: ctx.authentic,
      ...(ctx.deviceId !== undefined && !claim ? { claimedDeviceId: ctx.deviceId } : {}),
      ...(ctx.claims ? { swname: ctx.claims.swname, swversion: ctx.claims.swversion, bootcount: ctx.claims.bootcount } : {}),
      ...(err.code === 'measurements_mismatch' ? { components: err.details.components } : {}),
      ...(quarantine ? { quarantined: true } : {}),
    };
    this.db.transaction(() => {
      if (deviceId !== undefined) {
        this.stmt.insertAttestation.run({
          deviceId, at: ctx.at, result: 'fail', reason: err.code, authentic: ctx.authentic ? 1 : 0,
          swversion: ctx.claims?.swversion ?? null,
          measurements: ctx.claims ? JSON.stringify(ctx.claims.measurements) : null, certSerial: null, certNotAfter: null,
        });
      }
      this.audit.record({
        actor: ctx.authentic && deviceId !== undefined ? `device:${deviceId}` : 'system',
        action: 'attestation.refused', target: deviceId !== undefined ? `device:${deviceId}` : 'attestation', detail,
      });
      if (quarantine) {
        this.stmt.setState.run('quarantined', err.code, 'system', ctx.at, deviceId);
        this.audit.record({ actor: 'system', action: 'device.quarantine', target: `device:${deviceId}`, detail: { reason: err.code } });
      }
      this.incidents.raise({
        kind: 'attestation_failed', severity: SEVERITY[err.code], reason: err.code,
        ...(deviceId !== undefined ? { deviceId } : {}),
        summary: deviceId !== undefined ? `attestation of ${deviceId} refused: ${err.message}` : `attestation refused: ${err.message}`,
        detail,
      });
    })();
    if (quarantine && claim && deviceId !== undefined) {
      this.claims.set(deviceId, { ...claim, state: 'quarantined', reason: err.code, changedBy: 'system', changedAt: ctx.at });
      this.onQuarantined?.(deviceId);
    }
    // A refused appraisal of a claimed device is its new last attestation.
    if (deviceId !== undefined) this.onChanged?.(deviceId);
    throw err;
  }

  /**
   * Runs `write` in a transaction shared with the other writes queued in this turn of the event
   * loop, resolving once it has committed: one WAL commit for a burst of enrolments instead of one each.
   */
  private commitSoon(write: () => void): Promise<void> {
    this.pendingWrites.push(write);
    this.pendingCommit ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        const batch = this.pendingWrites;
        this.pendingWrites = [];
        this.pendingCommit = undefined;
        try {
          this.db.transaction(() => {
            for (const w of batch) w();
          })();
          resolve();
        } catch (err) {
          reject(err);
        }
      });
    });
    return this.pendingCommit;
  }

  private shouldRecordNoise(key: string, now: number): boolean {
    if (now >= this.nextNoiseSweep) {
      for (const [k, t] of this.noise) if (t <= now - NOISE_WINDOW_MS) this.noise.delete(k);
      this.nextNoiseSweep = now + NOISE_WINDOW_MS;
    }
    const last = this.noise.get(key);
    if (last !== undefined && last > now - NOISE_WINDOW_MS) return false;
    this.noise.set(key, now);
    return true;
  }
}
