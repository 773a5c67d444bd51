/**
 * Groups and claims: which site and group each device belongs to, and its standing — claimed,
 * quarantined (by a failed appraisal, until an operator releases it) or revoked (for good).
 * Every change commits with its audit event in one unit of work.
 */
import { DEVICE_ID_PATTERN, isSemver, isValidId } from '@shellguard/protocol';
import type { ClaimStore } from './claim-store.ts';
import { FleetError } from './fleet-error.ts';
import type { FleetStores, FleetTx, FleetUnitOfWork } from './fleet-stores.ts';
import type { ClaimInput, ClaimManyResult, ClaimRecord, GroupInput, GroupRecord } from './fleet-types.ts';
import type { GroupStore } from './group-store.ts';

export interface ClaimsAndGroupsOptions {
  stores: Pick<FleetStores, 'groups' | 'claims'>;
  uow: FleetUnitOfWork;
  now: () => number;
  /** Called after a device is revoked: disconnect it from the broker now. */
  onRevoked?: (deviceId: string) => void;
  /** Called after a claim was made or changed. */
  onChanged?: (deviceId: string) => void;
}

/** The group, or group_unknown with what to do about it. */
export async function requireGroup(groups: GroupStore, id: string): Promise<GroupRecord> {
  const group = typeof id === 'string' ? await groups.get(id) : undefined;
  if (!group) {
    throw new FleetError('group_unknown', `no group ${String(id)}: create it first with \`shellguard group create ${String(id)} --site <site> --min-version <version>\``, { group: id });
  }
  return group;
}

function requireDeviceId(deviceId: string): void {
  if (typeof deviceId !== 'string' || !DEVICE_ID_PATTERN.test(deviceId)) {
    throw new FleetError('device_id_invalid', 'a device id is 64 lowercase hex characters', { deviceId });
  }
}

function claimedAlready(existing: ClaimRecord): FleetError {
  if (existing.state === 'revoked') {
    return new FleetError('device_revoked', `device ${existing.deviceId} was revoked and cannot be claimed again`, { deviceId: existing.deviceId });
  }
  return new FleetError('device_already_claimed', `device ${existing.deviceId} is already claimed into ${existing.site}/${existing.group}`, {
    deviceId: existing.deviceId, site: existing.site, group: existing.group,
  });
}

export class ClaimsAndGroups {
  private readonly groups: GroupStore;
  private readonly claims: ClaimStore;
  private readonly uow: FleetUnitOfWork;
  private readonly now: () => number;
  private readonly onRevoked: ((deviceId: string) => void) | undefined;
  private readonly onChanged: ((deviceId: string) => void) | undefined;

  constructor(options: ClaimsAndGroupsOptions) {
    this.groups = options.stores.groups;
    this.claims = options.stores.claims;
    this.uow = options.uow;
    this.now = options.now;
    this.onRevoked = options.onRevoked;
    this.onChanged = options.onChanged;
  }

  // ---------------------------------------------------------------- groups

  /** Creates a group, or changes its minimum secure version. A group never moves to another site. */
  async defineGroup(input: GroupInput, actor: string): Promise<GroupRecord> {
    const { id, site, minSecureVersion } = input;
    if (typeof id !== 'string' || !isValidId(id)) throw new FleetError('invalid_input', 'group id must be 1-128 of A-Z a-z 0-9 . _ : -', { id });
    if (typeof site !== 'string' || !isValidId(site)) throw new FleetError('invalid_input', 'site id must be 1-128 of A-Z a-z 0-9 . _ : -', { site });
    if (typeof minSecureVersion !== 'string' || !isSemver(minSecureVersion)) {
      throw new FleetError('invalid_input', 'minSecureVersion must be a semantic version such as 1.4.0', { minSecureVersion });
    }
    const record: GroupRecord = { id, site, minSecureVersion, updatedBy: actor, updatedAt: this.now() };
    return this.uow.run(async (tx) => {
      const defined = await tx.groups.define(record);
      if (defined.outcome === 'site_mismatch') {
        throw new FleetError('group_site_mismatch', `group ${id} belongs to site ${defined.existing.site}`, { group: id, site: defined.existing.site });
      }
      await tx.audit.record({
        actor, action: 'group.define', target: `group:${id}`,
        detail: { site, minSecureVersion, ...(defined.outcome === 'updated' ? { previousMinSecureVersion: defined.previous.minSecureVersion } : {}) },
      });
      return defined.group;
    });
  }

  listGroups(): Promise<GroupRecord[]> {
    return this.groups.list();
  }

  getGroup(id: string): Promise<GroupRecord | undefined> {
    return this.groups.get(id);
  }

  // ---------------------------------------------------------------- claims

  /** Claims a device into a site and an existing group of that site. */
  async claim(input: ClaimInput, actor: string): Promise<ClaimRecord> {
    const record = await this.uow.run((tx) => this.insertClaim(tx, input, actor));
    this.onChanged?.(record.deviceId);
    return record;
  }

  /** Claims a list (a CSV import) in one unit of work; each entry succeeds or fails on its own. */
  async claimMany(list: readonly (ClaimInput & { line?: number })[], actor: string): Promise<ClaimManyResult> {
    const result = await this.uow.run(async (tx) => {
      const out: ClaimManyResult = { claimed: [], errors: [] };
      for (const [i, entry] of list.entries()) {
        const line = entry?.line ?? i + 1;
        try {
          out.claimed.push(await this.insertClaim(tx, entry, actor));
        } catch (err) {
          if (!(err instanceof FleetError)) throw err;
          out.errors.push({
            line, code: err.code, reason: err.message,
            ...(typeof entry?.deviceId === 'string' ? { deviceId: entry.deviceId } : {}),
          });
        }
      }
      return out;
    });
    for (const c of result.claimed) this.onChanged?.(c.deviceId);
    return result;
  }

  getClaim(deviceId: string): Promise<ClaimRecord | undefined> {
    return this.claims.get(deviceId);
  }

  /**
   * Revokes a device for good: its certificates are revoked (CRL), the broker refuses it from
   * now on and `onRevoked` disconnects it.
   */
  async revoke(deviceId: string, actor: string, reason: string): Promise<ClaimRecord> {
    requireDeviceId(deviceId);
    const at = this.now();
    const why = typeof reason === 'string' && reason.length > 0 ? reason.slice(0, 500) : 'revoked by an operator';
    const { claim, changed } = await this.uow.run(async (tx) => {
      const before = await tx.claims.getForUpdate(deviceId);
      if (!before) throw new FleetError('device_unclaimed', `device ${deviceId} is not claimed`, { deviceId });
      if (before.state === 'revoked') return { claim: before, changed: false };
      const after = await tx.claims.changeState(deviceId, { to: 'revoked', from: ['claimed', 'quarantined'], reason: why, by: actor, at });
      // The claim is held: the certificates revoked here include one an appraisal is committing.
      const certs = await tx.certificates.revokeAllOf(deviceId, at);
      await tx.audit.record({
        actor, action: 'device.revoke', target: `device:${deviceId}`,
        detail: { reason: why, previousState: before.state, certificatesRevoked: certs },
      });
      return { claim: after!, changed: true };
    });
    if (changed) {
      this.onRevoked?.(deviceId);
      this.onChanged?.(deviceId);
    }
    return claim;
  }

  /** An operator lifts a quarantine; the device may attest again. */
  async releaseQuarantine(deviceId: string, actor: string): Promise<ClaimRecord> {
    requireDeviceId(deviceId);
    const at = this.now();
    const updated = await this.uow.run(async (tx) => {
      const before = await tx.claims.getForUpdate(deviceId);
      if (!before) throw new FleetError('device_unclaimed', `device ${deviceId} is not claimed`, { deviceId });
      const after = await tx.claims.changeState(deviceId, { to: 'claimed', from: ['quarantined'], by: actor, at });
      if (!after) {
        throw new FleetError('device_not_quarantined', `device ${deviceId} is ${before.state}, not quarantined`, { deviceId, state: before.state });
      }
      await tx.audit.record({
        actor, action: 'device.quarantine.release', target: `device:${deviceId}`, detail: { quarantinedFor: before.reason ?? null },
      });
      return after;
    });
    this.onChanged?.(deviceId);
    return updated;
  }

  // ---------------------------------------------------------------- internals

  private async validateClaim(tx: FleetTx, input: ClaimInput): Promise<ClaimInput> {
    const { deviceId, site, group } = (input ?? {}) as Partial<ClaimInput>;
    if (typeof deviceId !== 'string' || !DEVICE_ID_PATTERN.test(deviceId)) {
      throw new FleetError('device_id_invalid', 'a device id is 64 lowercase hex characters (SHA-256 of its public key)', { deviceId });
    }
    if (typeof site !== 'string' || !isValidId(site)) throw new FleetError('invalid_input', 'site id must be 1-128 of A-Z a-z 0-9 . _ : -', { site });
    const g = await requireGroup(tx.groups, group as string);
    if (g.site !== site) {
      throw new FleetError('group_site_mismatch', `group ${g.id} belongs to site ${g.site}, not ${site}`, { group: g.id, site: g.site });
    }
    const existing = await tx.claims.get(deviceId);
    if (existing) throw claimedAlready(existing);
    return { deviceId, site, group: g.id };
  }

  private async insertClaim(tx: FleetTx, input: ClaimInput, actor: string): Promise<ClaimRecord> {
    const valid = await this.validateClaim(tx, input);
    const at = this.now();
    const record: ClaimRecord = { ...valid, state: 'claimed', claimedBy: actor, claimedAt: at, changedBy: actor, changedAt: at };
    if (!(await tx.claims.insert(record))) {
      // Claimed by someone else (another replica) since the check above.
      const existing = await tx.claims.get(valid.deviceId);
      throw existing ? claimedAlready(existing) : new FleetError('device_already_claimed', `device ${valid.deviceId} is already claimed`, { deviceId: valid.deviceId });
    }
    await tx.audit.record({ actor, action: 'device.claim', target: `device:${valid.deviceId}`, detail: { site: valid.site, group: valid.group } });
    return record;
  }
}
