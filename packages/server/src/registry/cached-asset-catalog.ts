/**
 * The registry's assets in memory, for lookups on paths that cannot wait for a query: which
 * equipment profile an asset has, asked by alarm evaluation, the condition-point check of the
 * maintenance detector and the fleet peers ranking.
 *
 * What it answers is descriptive (name, type, profile), never who may write an asset — ownership
 * is decided in the database (see ingest.ts). It is refreshed in the background once older than
 * `maxAgeMs` and updated at once by the births this replica records; a birth recorded by another
 * replica shows here within `maxAgeMs` of the next lookup.
 */
import type { AssetBirth } from '@shellguard/protocol';
import type { AssetRecord, SiteRegistry } from './site-registry.ts';

export interface CachedAssetCatalogOptions {
  now: () => number;
  /** How old the copy may get before a lookup starts a refresh (default 5 s). */
  maxAgeMs?: number;
  /** A background refresh failed (the previous copy is kept). */
  onError?: (err: unknown) => void;
}

const key = (site: string, asset: string) => `${site}\0${asset}`;

export class CachedAssetCatalog {
  private assets = new Map<string, AssetRecord>();
  private loadedAt = -Infinity;
  private loading: Promise<void> | undefined;
  /** Births recorded while a refresh reads: applied over what it read, which may predate them. */
  private bornWhileLoading: AssetRecord[] = [];
  private readonly maxAgeMs: number;

  constructor(private readonly registry: Pick<SiteRegistry, 'listAssets'>, private readonly options: CachedAssetCatalogOptions) {
    this.maxAgeMs = options.maxAgeMs ?? 5_000;
  }

  /** Reads the registry now (awaited once at start, so the first lookups are answered). */
  refresh(): Promise<void> {
    this.loading ??= (async () => {
      try {
        const startedAt = this.options.now();
        const assets = new Map<string, AssetRecord>();
        for (const a of await this.registry.listAssets()) assets.set(key(a.site, a.id), a);
        for (const a of this.bornWhileLoading) assets.set(key(a.site, a.id), a);
        this.assets = assets;
        this.loadedAt = startedAt;
      } finally {
        this.loading = undefined;
        this.bornWhileLoading = [];
      }
    })();
    return this.loading;
  }

  /** The asset as last read or born here; starts a refresh when the copy is old. */
  find(site: string, asset: string): AssetRecord | undefined {
    if (this.options.now() - this.loadedAt >= this.maxAgeMs && !this.loading) {
      this.refresh().catch((err: unknown) => this.options.onError?.(err));
    }
    return this.assets.get(key(site, asset));
  }

  profileOf(site: string, asset: string): string | undefined {
    return this.find(site, asset)?.profile;
  }

  /** A birth this replica recorded: known from now on, before the next refresh. */
  assetBorn(deviceId: string, site: string, birth: AssetBirth, at: number): void {
    const record: AssetRecord = {
      site, id: birth.asset, name: birth.name, type: birth.type, profile: birth.profile, area: birth.area, deviceId, updatedAt: at,
    };
    this.assets.set(key(site, birth.asset), record);
    if (this.loading) this.bornWhileLoading.push(record);
  }
}
