/** A link to an asset's page (the asset view's path, `/assets/:site/:asset`). */
import { Link } from '../../app/router.tsx';

export function assetPath(site: string, asset: string): string {
  return `/assets/${encodeURIComponent(site)}/${encodeURIComponent(asset)}`;
}

export function AssetLink({ site, asset, withSite = false }: { site: string; asset: string; withSite?: boolean }) {
  return <Link to={assetPath(site, asset)}>{withSite ? `${site} / ${asset}` : asset}</Link>;
}
