/**
 * Moving an asset to another guardian: an operator action, audited (ARCHITECTURE.md §2: an asset
 * belongs to exactly one guardian; only an operator rebinds it). The move and its audit event
 * commit in one transaction, or neither does — there is no moved asset without its record.
 */
import type { AuditRecorder } from '../audit/audit-log.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import { RegistryError } from './registry-error.ts';
import type { AssetMove, SiteRegistry } from './site-registry.ts';

/** What a move's unit of work hands out: the registry and the audit recorder of one transaction. */
export interface AssetMoveTx {
  registry: Pick<SiteRegistry, 'moveAsset'>;
  audit: AuditRecorder;
}

export interface AssetMovesOptions {
  uow: UnitOfWork<AssetMoveTx>;
  /**
   * The site a guardian is claimed into, when claims are in use: an asset moves only to a
   * guardian of its own site (least privilege: a guardian speaks only for its site).
   */
  claimedSite?: (deviceId: string) => Promise<string | undefined>;
}

export interface AssetMoveRequest {
  site: string;
  asset: string;
  /** The guardian that reports the asset from now on. */
  toDeviceId: string;
  /** Who asks, as the audit log names actors (`user:alice`, `token:<id>`). */
  actor: string;
  /** Why, kept in the audit log. */
  reason: string;
}

export class AssetMoves {
  constructor(private readonly options: AssetMovesOptions) {}

  /**
   * Rebinds the asset and records `asset.move`; from the commit on, the old guardian's data for
   * it is refused. Rejects with a RegistryError (`guardian_not_in_site`, `asset_not_found`,
   * `asset_already_bound`) and changes nothing then.
   */
  async move(request: AssetMoveRequest): Promise<AssetMove> {
    const { site, asset, toDeviceId, actor, reason } = request;
    const { claimedSite } = this.options;
    if (claimedSite) {
      const targetSite = await claimedSite(toDeviceId);
      if (targetSite !== site) {
        throw new RegistryError('guardian_not_in_site', targetSite === undefined
          ? `guardian ${toDeviceId} is not claimed; claim it into site ${site} first`
          : `guardian ${toDeviceId} is claimed into site ${targetSite}, not ${site}`, { site, asset, deviceId: toDeviceId, claimedSite: targetSite ?? null });
      }
    }
    return this.options.uow.run(async (tx) => {
      const move = await tx.registry.moveAsset(site, asset, toDeviceId);
      // Last in the transaction: the audit chain stays locked from here to the commit.
      await tx.audit.record({ actor, action: 'asset.move', target: `asset:${site}/${asset}`, detail: { from: move.from, to: move.to, reason } });
      return move;
    });
  }
}
