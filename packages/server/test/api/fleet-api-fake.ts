/** A FleetApi that records what the routes asked for and answers with canned values. */
import { generateKeyPairSync, sign } from 'node:crypto';
import {
  encodeChallengeRequest, type AttestationRefusal, type ChallengeRequest, type ChallengeResponse, type EnrolmentResponse,
} from '@shellguard/protocol';
import { AttestationError } from '../../src/fleet/fleet-error.ts';
import type { FleetApi } from '../../src/api/fleet-api.ts';
import type {
  BulkClaimItem, BulkClaimResult, ClaimRecord, DeviceClaim, FleetDevice, GroupDefinition, GroupRecord, ReleaseManifest,
  ReleaseRecord, StoredReport, VersionDrift,
} from '../../src/api/fleet-schemas.ts';

export const DEVICE = 'd'.repeat(64);
export const OTHER_DEVICE = 'e'.repeat(64);

const challengeKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
/** A well-formed, signed challenge request (the fake does not verify it; the real service does). */
export const CHALLENGE_REQUEST: ChallengeRequest = encodeChallengeRequest(
  { publicKey: challengeKey.publicKey, issuedAt: 1_750_000_000_000, requestId: 'r'.repeat(22) },
  (data) => sign('sha256', data, challengeKey.privateKey),
);

export interface FleetCall {
  method: string;
  args: unknown[];
}

const record = (c: DeviceClaim, actor: string, state: ClaimRecord['state'] = 'claimed'): ClaimRecord => ({
  ...c, state, claimedBy: actor, claimedAt: 1, changedBy: actor, changedAt: 2,
});

export class FakeFleet implements FleetApi {
  readonly calls: FleetCall[] = [];
  /** When set, the next call throws it. */
  failWith: Error | undefined;
  devices: FleetDevice[] = [{
    deviceId: DEVICE, site: 'site-a', group: 'ahu-gw', state: 'claimed', stateChangedAt: 1,
    lastAttestation: { at: 1, result: 'pass' }, swversion: '1.2.0', measurements: [], certificateNotAfter: 2,
    reportCount: 1, reportsDropped: 0,
  }];

  private note(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
    const err = this.failWith;
    this.failWith = undefined;
    if (err) throw err;
  }

  claim(claim: DeviceClaim, actor: string): ClaimRecord {
    this.note('claim', claim, actor);
    return record(claim, actor);
  }
  claimMany(claims: BulkClaimItem[], actor: string): BulkClaimResult {
    this.note('claimMany', claims, actor);
    const result: BulkClaimResult = { claimed: [], errors: [] };
    claims.forEach((c, i) => {
      if (c.deviceId === OTHER_DEVICE) {
        result.errors.push({ line: c.line ?? i + 1, deviceId: c.deviceId, code: 'device_already_claimed', reason: 'already claimed' });
      } else {
        result.claimed.push(record(c, actor));
      }
    });
    return result;
  }
  defineGroup(group: GroupDefinition, actor: string): GroupRecord {
    this.note('defineGroup', group, actor);
    return { ...group, updatedBy: actor, updatedAt: 3 };
  }
  registerRelease(release: ReleaseManifest & { group: string }, actor: string): ReleaseRecord {
    this.note('registerRelease', release, actor);
    return { ...release, registeredBy: actor, registeredAt: 4 };
  }
  challenge(request: ChallengeRequest): ChallengeResponse {
    this.note('challenge', request);
    return { nonce: 'bm9uY2U', expiresAt: 60_000 };
  }
  async appraise(evidence: string): Promise<EnrolmentResponse> {
    this.note('appraise', evidence);
    return { certificatePem: 'LEAF\nISSUING\n', caPems: ['ROOT'], notAfter: 86_400_000 };
  }
  revoke(deviceId: string, actor: string, reason: string): ClaimRecord {
    this.note('revoke', deviceId, actor, reason);
    return { ...record({ deviceId, site: 'site-a', group: 'ahu-gw' }, actor, 'revoked'), reason };
  }
  releaseQuarantine(deviceId: string, actor: string, reason?: string): ClaimRecord {
    this.note('releaseQuarantine', deviceId, actor, reason);
    return record({ deviceId, site: 'site-a', group: 'ahu-gw' }, actor);
  }
  async crls(): Promise<string[]> {
    this.note('crls');
    return ['-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----', '-----BEGIN X509 CRL-----\nBBBB\n-----END X509 CRL-----\n'];
  }
  fleetView(): FleetDevice[] {
    this.note('fleetView');
    return this.devices;
  }
  versionReport(): VersionDrift[] {
    this.note('versionReport');
    return [{
      deviceId: DEVICE, site: 'site-a', group: 'ahu-gw', swversion: '1.2.0', measuredAt: 1,
      target: { swname: 'shellguard-guardian', swversion: '1.3.0' },
      differences: [{ component: 'runtime', expected: 'a'.repeat(64), measured: 'b'.repeat(64) }],
    }];
  }
  reports(deviceId: string): StoredReport[] {
    this.note('reports', deviceId);
    return [{ deviceId, receivedAt: 6, at: 5, kind: 'crash', message: 'boom', detail: 'stack' }];
  }
}

export const refusal = (code: AttestationRefusal) => new AttestationError(code, `refused: ${code}`);
