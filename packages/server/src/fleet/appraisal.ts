/**
 * Attestation: challenge → evidence → verdict → certificate. The verifier turns fresh, authentic,
 * matching evidence into a short-lived operational certificate (ARCHITECTURE.md §2).
 *
 * RFC 9334 roles, background-check model (§5.2): the guardian (Attester) sends Evidence to the
 * server (Relying Party), which hands it to this Verifier and acts on the result itself by
 * issuing, or not issuing, a certificate.
 */
import {
  compareSemver,
  type AttestationRefusal, type ChallengeRequest, type ChallengeResponse, type EnrolmentResponse, type EvidenceClaims,
} from '@shellguard/protocol';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { IncidentInput } from '../incidents/incident-log.ts';
import { normaliseSerial, type CertificateIssuer } from './certificate-issuer.ts';
import type { ChallengeNonces } from './challenge-nonces.ts';
import { ChallengeVerifier } from './challenge-verifier.ts';
import { EvidenceVerifier, type VerifiedEvidence } from './evidence-verifier.ts';
import { AttestationError } from './fleet-error.ts';
import type { FleetStores, FleetTx, FleetUnitOfWork } from './fleet-stores.ts';
import type { AttestationRecord, ClaimRecord } from './fleet-types.ts';
import type { ReleaseRegistry } from './releases.ts';
import { unmatchedMeasurements } from './reference-values.ts';

/** Unauthenticated refusals of one kind for one device are recorded at most once per window. */
const NOISE_WINDOW_MS = 60_000;

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

export interface AppraisalOptions {
  stores: Pick<FleetStores, 'claims' | 'groups' | 'attestations'>;
  /** Refusals: the attestation row, a quarantine, audit events and the incident commit together. */
  uow: FleetUnitOfWork;
  /** Passes: certificate, attestation row and audit event; may share a transaction with other passes (coalescing-unit-of-work.ts). */
  passes: UnitOfWork<FleetTx>;
  nonces: ChallengeNonces;
  releases: Pick<ReleaseRegistry, 'referenceValues'>;
  issuer: CertificateIssuer;
  now: () => number;
  /** Lifetime of operational certificates (hours). */
  certificateValidityHours: number;
  /** How far a challenge request's issuedAt may be from `now` (default protocol's CHALLENGE_MAX_SKEW_MS). */
  challengeMaxSkewMs?: number;
  /** Called after a device is quarantined by a failed appraisal: disconnect it. */
  onQuarantined?: (deviceId: string) => void;
  /** Called after a device's last attestation changed. */
  onChanged?: (deviceId: string) => void;
}

interface RefusalContext {
  at: number;
  deviceId?: string;
  /** The device's claim when the caller has read it already (null: read, and there is none). */
  claim?: ClaimRecord | null;
  authentic: boolean;
  claims?: EvidenceClaims;
  quarantine?: boolean;
}

export class Appraisal {
  private readonly stores: AppraisalOptions['stores'];
  private readonly uow: FleetUnitOfWork;
  private readonly passes: UnitOfWork<FleetTx>;
  private readonly nonces: ChallengeNonces;
  private readonly releases: AppraisalOptions['releases'];
  private readonly issuer: CertificateIssuer;
  private readonly now: () => number;
  private readonly validityHours: number;
  private readonly onQuarantined: ((deviceId: string) => void) | undefined;
  private readonly onChanged: ((deviceId: string) => void) | undefined;
  private readonly verifier = new EvidenceVerifier();
  private readonly challengeVerifier: ChallengeVerifier;
  /** Per replica: a rate limit on recording noise, not a security decision. */
  private readonly noise = new Map<string, number>();
  private nextNoiseSweep = 0;

  constructor(options: AppraisalOptions) {
    this.stores = options.stores;
    this.uow = options.uow;
    this.passes = options.passes;
    this.nonces = options.nonces;
    this.releases = options.releases;
    this.issuer = options.issuer;
    this.now = options.now;
    this.validityHours = options.certificateValidityHours;
    this.onQuarantined = options.onQuarantined;
    this.onChanged = options.onChanged;
    this.challengeVerifier = new ChallengeVerifier(
      options.challengeMaxSkewMs !== undefined ? { maxSkewMs: options.challengeMaxSkewMs } : {},
    );
  }

  /**
   * Issues a nonce (RFC 9334 §10.2) to the holder of a device key: the request must carry a valid
   * proof of possession (protocol/challenge-proof.ts), else challenge_proof_invalid,
   * challenge_stale or challenge_replayed. A proven request gets the same answer whatever the
   * device's claim state, so the challenge tells nobody whether an id is claimed, revoked or
   * quarantined; appraisal gives the truth, to evidence signed by the key. Devices with a claim
   * record get a stored nonce (their appraisal needs it to reach the state check); others an
   * unrecorded one, so minted keys cannot grow the store.
   */
  async challenge(request: ChallengeRequest): Promise<ChallengeResponse> {
    let claimed = false;
    const { deviceId, requestId } = await this.challengeVerifier.verify(request, this.now(), async (id) => {
      claimed = (await this.stores.claims.get(id)) !== undefined;
      return claimed;
    });
    return claimed ? this.nonces.issue(deviceId) : this.nonces.unrecorded(deviceId, requestId);
  }

  /**
   * Appraises evidence (an EAT, RFC 9711) and, when it passes, issues an operational
   * certificate. Order matters: nothing the evidence says is believed before its signature and
   * key binding verified, and only evidence authentically from the device, fresh, can quarantine it.
   */
  async appraise(evidenceJws: string): Promise<EnrolmentResponse> {
    const at = this.now();
    let verified: VerifiedEvidence;
    try {
      verified = this.verifier.verify(evidenceJws);
    } catch (err) {
      if (err instanceof AttestationError) {
        const claimed = err.details.claimedDeviceId;
        throw await this.refusal(err, { at, authentic: false, ...(typeof claimed === 'string' ? { deviceId: claimed } : {}) });
      }
      throw err;
    }
    const { deviceId, publicKey, claims } = verified;

    // RFC 9334 §8.5 (appraisal policy): unclaimed devices are not appraised at all. Checked before
    // the nonce so the refusal says what the operator must do; it never changes any state.
    const claim = await this.stores.claims.get(deviceId);
    if (!claim) {
      throw await this.refusal(new AttestationError('device_unclaimed', 'this device is not claimed; claim it into a site and group first', { deviceId }), {
        at, deviceId, claim: null, authentic: false, claims,
      });
    }

    // RFC 9334 §10.2: freshness. The nonce must be ours, for this device, unused and in time.
    const nonce = await this.nonces.consume(claims.eat_nonce, deviceId);
    if (nonce !== 'ok') {
      const message = nonce === 'nonce_replayed' ? 'this nonce has already been used'
        : nonce === 'nonce_expired' ? 'this nonce has expired; ask for a new challenge'
          : 'this nonce was not issued to this device';
      // Signed by the device, but possibly captured and replayed by someone else: not proof of
      // what the device runs now, so it never quarantines.
      throw await this.refusal(new AttestationError(nonce, message, { deviceId }), { at, deviceId, claim, authentic: false, claims });
    }

    // A revoked or quarantined device is refused even with fresh, authentic evidence.
    if (claim.state === 'revoked') {
      throw await this.refusal(new AttestationError('device_revoked', 'this device has been revoked', { deviceId }), { at, deviceId, claim, authentic: true, claims });
    }
    if (claim.state === 'quarantined') {
      throw await this.refusal(new AttestationError('device_quarantined', 'this device is quarantined until an operator releases it', {
        deviceId, quarantinedFor: claim.reason,
      }), { at, deviceId, claim, authentic: true, claims });
    }

    // RFC 9334 §8.3: compare the measured components with the reference values of the group.
    const group = (await this.stores.groups.get(claim.group))!;
    const { releases, allowed } = await this.releases.referenceValues(group.id);
    if (releases.length === 0) {
      throw await this.refusal(new AttestationError('no_reference_values', `group ${group.id} has no registered release to compare with`, {
        deviceId, group: group.id,
      }), { at, deviceId, claim, authentic: true, claims });
    }
    const unmatched = unmatchedMeasurements(claims.measurements, allowed);
    if (unmatched.length > 0) {
      throw await this.refusal(new AttestationError('measurements_mismatch', `measured software is not a registered release of group ${group.id}: ${unmatched.map((u) => u.component).join(', ')}`, {
        deviceId, group: group.id, components: unmatched,
      }), { at, deviceId, claim, authentic: true, claims, quarantine: true });
    }
    // RFC 9711 §4.2.7: swversion against the group's minimum secure version.
    if (compareSemver(claims.swversion, group.minSecureVersion) < 0) {
      throw await this.refusal(new AttestationError('version_below_minimum', `swversion ${claims.swversion} is below the minimum secure version ${group.minSecureVersion}`, {
        deviceId, swversion: claims.swversion, minSecureVersion: group.minSecureVersion,
      }), { at, deviceId, claim, authentic: true, claims, quarantine: true });
    }

    const issued = await this.issuer.signOperationalCertificate({ deviceId, publicKey }, { validityHours: this.validityHours, now: at });
    const serial = normaliseSerial(issued.serial);
    const done = this.now();
    // The records commit before the certificate leaves. The claim is read held (a row lock on
    // PostgreSQL), so a revoke or quarantine that ran while the certificate was being signed, on
    // any replica, is seen here, and one that runs after this commits revokes this certificate too.
    const state = await this.passes.run(async (tx) => {
      const current = await tx.claims.getForUpdate(deviceId);
      await tx.certificates.record({ serial, deviceId, issuedAt: done, notAfter: issued.notAfter });
      if (current?.state !== 'claimed') {
        await tx.certificates.revoke(serial, done);
        return current?.state ?? 'unclaimed';
      }
      await tx.attestations.record({
        deviceId, at, result: 'pass', authentic: true, swversion: claims.swversion,
        measurements: claims.measurements, certSerial: serial, certNotAfter: issued.notAfter,
      });
      await tx.audit.record({
        actor: `device:${deviceId}`, action: 'attestation.pass', target: `device:${deviceId}`,
        detail: { swversion: claims.swversion, bootcount: claims.bootcount, certSerial: serial, certNotAfter: issued.notAfter },
      });
      return 'claimed';
    });
    if (state !== 'claimed') {
      const code = state === 'quarantined' ? 'device_quarantined' : 'device_revoked';
      throw new AttestationError(code, `this device was ${state} during the appraisal`, { deviceId });
    }
    this.onChanged?.(deviceId);
    return {
      certificatePem: `${issued.chainPem.trim()}\n`,
      caPems: [this.issuer.rootPem()],
      notAfter: issued.notAfter,
    };
  }

  /** A device's appraisals, newest first. */
  attestations(deviceId: string, limit = 50): Promise<AttestationRecord[]> {
    return this.stores.attestations.list(deviceId, Math.max(1, Math.min(1000, Math.trunc(limit))));
  }

  /**
   * Records a refused appraisal (attestation row, audit event, incident), quarantines the device
   * when the evidence was authentically its own, fresh, and failed on what it runs, and returns
   * the error to throw. Unauthenticated refusals are anyone's to send, so they are recorded at
   * most once per minute per (device, reason) and never attributed to a device that is not claimed.
   */
  private async refusal(err: AttestationError, ctx: RefusalContext): Promise<AttestationError> {
    const claim = ctx.claim !== undefined ? ctx.claim ?? undefined
      : ctx.deviceId !== undefined ? await this.stores.claims.get(ctx.deviceId) : undefined;
    const deviceId = claim?.deviceId;
    if (!ctx.authentic && !this.shouldRecordNoise(`${deviceId ?? '?'}|${err.code}`, ctx.at)) return err;
    const wantsQuarantine = ctx.quarantine === true && ctx.authentic && claim?.state === 'claimed';
    const quarantined = await this.uow.run(async (tx) => {
      // Only from `claimed`: an operator's revoke that committed meanwhile stays.
      const held = wantsQuarantine && deviceId !== undefined
        && (await tx.claims.changeState(deviceId, { to: 'quarantined', from: ['claimed'], reason: err.code, by: 'system', at: ctx.at })) !== undefined;
      const detail: Record<string, unknown> = {
        reason: err.code, message: err.message, authentic: ctx.authentic,
        ...(ctx.deviceId !== undefined && !claim ? { claimedDeviceId: ctx.deviceId } : {}),
        ...(ctx.claims ? { swname: ctx.claims.swname, swversion: ctx.claims.swversion, bootcount: ctx.claims.bootcount } : {}),
        ...(err.code === 'measurements_mismatch' ? { components: err.details.components } : {}),
        ...(held ? { quarantined: true } : {}),
      };
      if (deviceId !== undefined) {
        await tx.attestations.record({
          deviceId, at: ctx.at, result: 'fail', reason: err.code, authentic: ctx.authentic,
          ...(ctx.claims ? { swversion: ctx.claims.swversion, measurements: ctx.claims.measurements } : {}),
        });
      }
      await tx.audit.record({
        actor: ctx.authentic && deviceId !== undefined ? `device:${deviceId}` : 'system',
        action: 'attestation.refused', target: deviceId !== undefined ? `device:${deviceId}` : 'attestation', detail,
      });
      if (held) await tx.audit.record({ actor: 'system', action: 'device.quarantine', target: `device:${deviceId}`, detail: { reason: err.code } });
      await tx.incidents.raise({
        kind: 'attestation_failed', severity: SEVERITY[err.code], reason: err.code,
        ...(deviceId !== undefined ? { deviceId } : {}),
        summary: deviceId !== undefined ? `attestation of ${deviceId} refused: ${err.message}` : `attestation refused: ${err.message}`,
        detail,
      });
      return held;
    });
    if (quarantined && deviceId !== undefined) this.onQuarantined?.(deviceId);
    // A refused appraisal of a claimed device is its new last attestation.
    if (deviceId !== undefined) this.onChanged?.(deviceId);
    return err;
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
