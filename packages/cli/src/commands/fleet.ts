/** `shellguard fleet report`: devices whose measured software differs from their group's release. */
import type { VersionDrift } from '@shellguard/server';
import type { ApiClient } from '../api-client.ts';

/** Where a command writes what a person reads (stdout in the CLI, a buffer in tests). */
export interface Output {
  write(text: string): unknown;
}

/** Left-aligned columns separated by two spaces; the header row first. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function isoTime(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}


/** Returns the number of devices off their group's release (the CLI exits 1 when there are any). */
export async function printVersionReport(client: ApiClient, out: Output, opts: { json?: boolean } = {}): Promise<number> {
  const { devices } = await client.get<{ devices: VersionDrift[] }>('/fleet/version-report');
  if (opts.json) {
    out.write(`${JSON.stringify(devices, null, 2)}\n`);
    return devices.length;
  }
  if (devices.length === 0) {
    out.write('every attested device runs its group\'s release\n');
    return 0;
  }
  out.write(formatTable(
    ['DEVICE', 'SITE', 'GROUP', 'MEASURED', 'TARGET', 'MEASURED AT', 'DIFFERING COMPONENTS'],
    devices.map((d) => [
      d.deviceId, d.site, d.group, d.swversion || '-', `${d.target.swname} ${d.target.swversion}`, isoTime(d.measuredAt),
      d.differences.map((c) => c.component).join(','),
    ]),
  ));
  out.write(`${devices.length} device(s) differ from their group's release\n`);
  return devices.length;
}
