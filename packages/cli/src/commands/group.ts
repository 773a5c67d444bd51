/** `shellguard group create|release`: device groups and their reference releases. */
import { ShellguardError } from '@shellguard/protocol';
import type { ApiClient } from '../api-client.ts';
import type { Output } from './fleet.ts';

export class ManifestError extends ShellguardError<'manifest_invalid'> {}

export interface ReleaseManifest {
  swname: string;
  swversion: string;
  components: { component: string; digest: string }[];
}

/** Reads a release manifest {swname, swversion, components: [{component, digest}]}; the server checks the details. */
export function parseReleaseManifest(text: string, file = 'the manifest'): ReleaseManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ManifestError('manifest_invalid', `${file} is not JSON: ${(err as Error).message}`);
  }
  const m = value as Partial<ReleaseManifest> | null;
  if (!m || typeof m !== 'object' || typeof m.swname !== 'string' || typeof m.swversion !== 'string' || !Array.isArray(m.components)) {
    throw new ManifestError('manifest_invalid', `${file} must hold {"swname", "swversion", "components": [{"component", "digest"}]}`);
  }
  return { swname: m.swname, swversion: m.swversion, components: m.components };
}

export async function createGroup(client: ApiClient, out: Output, id: string, opts: { site: string; minVersion: string }): Promise<void> {
  const { group } = await client.post<{ group: { id: string; site: string; minSecureVersion: string } }>(
    '/groups', { id, site: opts.site, minSecureVersion: opts.minVersion });
  out.write(`group ${group.id} in site ${group.site}: minimum secure version ${group.minSecureVersion}\n`);
}

export async function registerRelease(client: ApiClient, out: Output, group: string, manifest: ReleaseManifest): Promise<void> {
  const { release } = await client.post<{ release: ReleaseManifest & { group: string } }>(
    `/groups/${encodeURIComponent(group)}/releases`, manifest);
  out.write(`registered ${release.swname} ${release.swversion} for group ${release.group} (${release.components.length} components)\n`);
}
