/**
 * Which assets are panels, read from the site registry and cached: the supervisor asks for every
 * stored batch, which must not cost a query. The cache is read once at start (`refresh`), again in
 * the background once older than `maxAgeMs`, and a birth this replica records updates it at once
 * (`assetBorn`), so a panel is known from its first samples on. A birth recorded by another
 * replica shows here within `maxAgeMs` of the next question.
 */
import type { PanelDirectory } from './panel-supervisor.ts';

export interface AssetListing {
  site: string;
  id: string;
  type: string;
}

const key = (site: string, asset: string) => `${site}\0${asset}`;

export class CachedPanelDirectory implements PanelDirectory {
  private panelsBySite = new Map<string, string[]>();
  private assets = new Set<string>();
  private panelSet = new Set<string>();
  private loadedAt = -Infinity;
  private loading: Promise<void> | undefined;
  /** Births seen while a refresh reads: applied over what it read, which may predate them. */
  private bornWhileLoading: AssetListing[] = [];

  constructor(
    private readonly listAssets: () => Promise<readonly AssetListing[]>,
    private readonly now: () => number,
    private readonly maxAgeMs = 5_000,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  panels(site: string): string[] {
    this.fresh();
    return this.panelsBySite.get(site) ?? [];
  }

  isPanel(site: string, asset: string): boolean {
    this.fresh();
    return this.panelSet.has(key(site, asset));
  }

  assetExists(site: string, asset: string): boolean {
    this.fresh();
    return this.assets.has(key(site, asset));
  }

  /** Reads the registry again soon (at the next question). */
  invalidate(): void {
    this.loadedAt = -Infinity;
  }

  /** An asset born (or re-born with another type) on this replica: known at once. */
  assetBorn(asset: AssetListing): void {
    this.apply(asset);
    if (this.loading) this.bornWhileLoading.push(asset);
  }

  /** Reads the registry now; awaited once at start so the first questions are answered. */
  refresh(): Promise<void> {
    this.loading ??= (async () => {
      try {
        const startedAt = this.now();
        const listed = await this.listAssets();
        const bySite = new Map<string, string[]>();
        const assets = new Set<string>();
        const panels = new Set<string>();
        for (const a of listed) {
          assets.add(key(a.site, a.id));
          if (a.type !== 'panel') continue;
          panels.add(key(a.site, a.id));
          let list = bySite.get(a.site);
          if (!list) bySite.set(a.site, (list = []));
          list.push(a.id);
        }
        for (const list of bySite.values()) list.sort(byPanelName);
        this.panelsBySite = bySite;
        this.assets = assets;
        this.panelSet = panels;
        this.loadedAt = startedAt;
        for (const a of this.bornWhileLoading) this.apply(a);
      } finally {
        this.loading = undefined;
        this.bornWhileLoading = [];
      }
    })();
    return this.loading;
  }

  private fresh(): void {
    if (this.now() - this.loadedAt < this.maxAgeMs || this.loading) return;
    this.refresh().catch(this.onError);
  }

  private apply(a: AssetListing): void {
    const k = key(a.site, a.id);
    this.assets.add(k);
    const list = this.panelsBySite.get(a.site) ?? [];
    const listed = list.includes(a.id);
    if (a.type === 'panel') {
      this.panelSet.add(k);
      if (!listed) this.panelsBySite.set(a.site, [...list, a.id].sort(byPanelName));
    } else {
      this.panelSet.delete(k);
      if (listed) this.panelsBySite.set(a.site, list.filter((id) => id !== a.id));
    }
  }
}

function byPanelName(x: string, y: string): number {
  return x.localeCompare(y, 'en', { numeric: true });
}
