/**
 * Genuine images from the server's image repositories: one TUF client per (product, stream),
 * its trusted metadata kept in the guardian's data folder, refreshed before every download.
 *
 * Uptane's image check: the director names a target by name, length and hash; the image
 * repository's offline-signed targets metadata must list that same target with that same length
 * and hash, or the instruction is refused — a compromised server (director) can only pick among
 * genuine releases, never make one.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isValidId, type BundleManifest, type InstructedImage } from '@shellguard/protocol';
import { parseBundleManifest } from './bundle-archive.ts';
import type { MetadataFetcher } from './fetcher.ts';
import { TufClient, type TufClientLimits } from './tuf-client.ts';
import { UpdateRefused, type ImageSource } from './updater.ts';

export interface TufImageSourceOptions {
  /** https://host:port of the server's API; repositories live under /api/v1/tuf/<product>/<stream>/. */
  apiUrl: string;
  /** Trusted metadata per repository: <dataDir>/tuf/<product>/<stream>/. */
  metadataRoot: string;
  /**
   * Where the initial trusted roots are installed (shipped out of band, TUF §5.1):
   * `<product>.<stream>.root.json`.
   */
  trustedRootsDir: string;
  fetcher: MetadataFetcher;
  now?: () => Date;
  limits?: Partial<TufClientLimits>;
  log?: (message: string) => void;
}

export class TufImageSource implements ImageSource {
  private readonly clients = new Map<string, TufClient>();

  constructor(private readonly opts: TufImageSourceOptions) {}

  private client(product: string, stream: string): TufClient {
    const key = `${product}/${stream}`;
    let client = this.clients.get(key);
    if (client) return client;
    if (!isValidId(product)) throw new UpdateRefused('image_unknown', `"${product}" is not a product name`);
    const metadataDir = path.join(this.opts.metadataRoot, product, stream);
    if (!existsSync(path.join(metadataDir, 'root.json'))) {
      const shipped = path.join(this.opts.trustedRootsDir, `${product}.${stream}.root.json`);
      if (!existsSync(shipped)) {
        throw new UpdateRefused('no_trusted_root', `no trusted root for ${product} ${stream} at ${shipped}; install the repository's root.json there`);
      }
      TufClient.init(metadataDir, readFileSync(shipped));
    }
    const base = `${this.opts.apiUrl.replace(/\/+$/, '')}/api/v1/tuf/${encodeURIComponent(product)}/${stream}`;
    client = new TufClient({
      metadataDir, metadataBaseUrl: `${base}/metadata/`, targetBaseUrl: `${base}/targets/`, fetcher: this.opts.fetcher,
      ...(this.opts.now ? { now: this.opts.now } : {}), ...(this.opts.limits ? { limits: this.opts.limits } : {}),
      ...(this.opts.log ? { log: this.opts.log } : {}),
    });
    this.clients.set(key, client);
    return client;
  }

  async fetchVerified(image: InstructedImage, destFile: string): Promise<BundleManifest> {
    const client = this.client(image.product, image.stream);
    // A fresh refresh every time: the director's choice is checked against today's metadata.
    await client.refresh();
    const info = await client.getTargetInfo(image.targetName);
    if (info.length !== image.length || info.hashes.sha256 !== image.sha256) {
      throw new UpdateRefused('director_image_mismatch', `the director names ${image.targetName} with length ${image.length} and sha256 ${image.sha256.slice(0, 12)}…, the image repository signs length ${info.length} and sha256 ${(info.hashes.sha256 ?? 'none').slice(0, 12)}…`);
    }
    let manifest: BundleManifest;
    try {
      manifest = parseBundleManifest(info.custom);
    } catch (err) {
      throw new UpdateRefused('manifest_mismatch', `target ${image.targetName} has no valid signed manifest: ${(err as Error).message}`);
    }
    await client.downloadTarget(info, destFile);
    return manifest;
  }
}
