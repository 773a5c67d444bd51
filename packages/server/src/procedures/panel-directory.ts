/**
 * Which assets are panels, read from the site registry and cached: the supervisor asks for every
 * stored batch, which must not cost a query. The cache refreshes on a timer and whenever an asset
 * is born or changes (`invalidate`), so a panel is known from its first samples on.
 */
import type { PanelDirectory } from './panel-supervisor.ts';

export interface AssetListing {
  site: string;
  id: string;
  type: string;
}

export class CachedPanelDirectory implements PanelDirectory {
  private panelsBySite = new Map<string, string[]>();
  private assets = new Set<string>();
  private panelSet = new Set<string>();
  private loadedAt = -Infinity;

  constructor(
    private readonly listAssets: () => readonly AssetListing[],
    private readonly now: () => number,
    private readonly maxAgeMs = 5_000,
  ) {}

  panels(site: string): string[] {
    this.fresh();
    return this.panelsBySite.get(site) ?? [];
  }

  isPanel(site: string, asset: string): boolean {
    this.fresh();
    return this.panelSet.has(`${site}\0${asset}`);
  }

  assetExists(site: string, asset: string): boolean {
    this.fresh();
    return this.assets.has(`${site}\0${asset}`);
  }

  invalidate(): void {
    this.loadedAt = -Infinity;
  }

  private fresh(): void {
    const now = this.now();
    if (now - this.loadedAt < this.maxAgeMs) return;
    this.loadedAt = now;
    const bySite = new Map<string, string[]>();
    const assets = new Set<string>();
    const panels = new Set<string>();
    for (const a of this.listAssets()) {
      assets.add(`${a.site}\0${a.id}`);
      if (a.type !== 'panel') continue;
      panels.add(`${a.site}\0${a.id}`);
      let list = bySite.get(a.site);
      if (!list) bySite.set(a.site, (list = []));
      list.push(a.id);
    }
    for (const list of bySite.values()) list.sort((x, y) => x.localeCompare(y, 'en', { numeric: true }));
    this.panelsBySite = bySite;
    this.assets = assets;
    this.panelSet = panels;
  }
}
