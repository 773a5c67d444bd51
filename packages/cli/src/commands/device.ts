/**
 * `shellguard device claim|revoke|release|list`: claiming devices into a site and group (one, or
 * many from a CSV), revoking them, lifting a quarantine, and the fleet view.
 */
import { DEVICE_ID_PATTERN, isValidId } from '@shellguard/protocol';
import type { ApiClient } from '../api-client.ts';
import { formatTable, isoTime, type Output } from './fleet.ts';

export interface ClaimLine {
  deviceId: string;
  site: string;
  group: string;
  /** The CSV line it came from (1 = the header). */
  line: number;
}

export interface CsvProblem {
  line: number;
  message: string;
}

const COLUMNS = ['device_id', 'site', 'group'] as const;

/** One CSV record (RFC 4180 quoting, no line breaks inside fields). */
function splitCsvLine(text: string): string[] | undefined {
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    let cell = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) return undefined; // unterminated quote
        if (text[i] === '"') {
          if (text[i + 1] === '"') { cell += '"'; i += 2; continue; }
          i++;
          break;
        }
        cell += text[i++];
      }
      while (text[i] === ' ' || text[i] === '\t') i++;
      if (i < text.length && text[i] !== ',') return undefined;
    } else {
      const end = text.indexOf(',', i);
      cell = end === -1 ? text.slice(i) : text.slice(i, end);
      if (cell.includes('"')) return undefined;
      i = end === -1 ? text.length : end;
    }
    cells.push(cell.trim());
    if (i >= text.length) return cells;
    i++; // the comma
  }
}

/**
 * Parses a claims CSV: a header naming the columns device_id, site and group (any order), then one
 * claim per line. Blank lines and lines starting with # are skipped. Every bad line is reported
 * with its line number; device ids are lowercased.
 */
export function parseClaimsCsv(text: string): { claims: ClaimLine[]; problems: CsvProblem[] } {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const claims: ClaimLine[] = [];
  const problems: CsvProblem[] = [];
  const headerIndex = lines.findIndex((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  if (headerIndex === -1) return { claims, problems: [{ line: 1, message: 'the file is empty: expected a header device_id,site,group' }] };
  const header = splitCsvLine(lines[headerIndex]!)?.map((h) => h.toLowerCase());
  const position = new Map(header?.map((h, i) => [h, i]));
  const missing = COLUMNS.filter((c) => !position.has(c));
  const unknown = (header ?? []).filter((h) => !(COLUMNS as readonly string[]).includes(h));
  if (!header || missing.length > 0 || unknown.length > 0) {
    const what = [missing.length ? `missing ${missing.join(', ')}` : '', unknown.length ? `unknown ${unknown.join(', ')}` : '']
      .filter(Boolean).join('; ');
    return { claims, problems: [{ line: headerIndex + 1, message: `the header must name the columns device_id,site,group (${what || 'unreadable'})` }] };
  }
  const seen = new Map<string, number>();
  for (let i = headerIndex + 1; i < lines.length; i++) {
    const raw = lines[i]!;
    const line = i + 1;
    if (raw.trim() === '' || raw.trim().startsWith('#')) continue;
    const cells = splitCsvLine(raw);
    if (!cells) { problems.push({ line, message: 'unbalanced quotes' }); continue; }
    if (cells.length !== header.length) {
      problems.push({ line, message: `expected ${header.length} columns, found ${cells.length}` });
      continue;
    }
    const deviceId = cells[position.get('device_id')!]!.toLowerCase();
    const site = cells[position.get('site')!]!;
    const group = cells[position.get('group')!]!;
    const wrong: string[] = [];
    if (!DEVICE_ID_PATTERN.test(deviceId)) wrong.push(`device_id "${deviceId}" is not 64 hex characters (SHA-256 of the device key)`);
    if (!isValidId(site)) wrong.push(`site "${site}" must be 1-128 of A-Z a-z 0-9 . _ : -`);
    if (!isValidId(group)) wrong.push(`group "${group}" must be 1-128 of A-Z a-z 0-9 . _ : -`);
    if (wrong.length === 0 && seen.has(deviceId)) wrong.push(`device ${deviceId} is already on line ${seen.get(deviceId)}`);
    if (wrong.length > 0) { problems.push({ line, message: wrong.join('; ') }); continue; }
    seen.set(deviceId, line);
    claims.push({ deviceId, site, group, line });
  }
  if (claims.length === 0 && problems.length === 0) problems.push({ line: headerIndex + 1, message: 'no claims after the header' });
  return { claims, problems };
}

interface ClaimRecord { deviceId: string; site: string; group: string; state: string }
interface BulkResult {
  claimed: ClaimRecord[];
  errors: { line: number; deviceId?: string; code: string; reason: string }[];
}

export async function claimDevice(client: ApiClient, out: Output, deviceId: string, opts: { site: string; group: string }): Promise<void> {
  const { claim } = await client.post<{ claim: ClaimRecord }>('/claims', { deviceId: deviceId.toLowerCase(), site: opts.site, group: opts.group });
  out.write(`claimed ${claim.deviceId} into site ${claim.site}, group ${claim.group}\n`);
}

/**
 * Claims every line of a CSV. A file with bad lines claims nothing (fix it and run again); lines the
 * server refuses (e.g. already claimed) are reported by line. Returns how many lines failed.
 */
export async function claimDevicesFromCsv(client: ApiClient, out: Output, csvText: string, file = 'the file'): Promise<number> {
  const { claims, problems } = parseClaimsCsv(csvText);
  if (problems.length > 0) {
    for (const p of problems) out.write(`${file}:${p.line}: ${p.message}\n`);
    out.write(`nothing claimed: ${problems.length} bad line(s) in ${file}\n`);
    return problems.length;
  }
  const result = await client.post<BulkResult>('/claims/bulk', { claims });
  for (const e of result.errors) out.write(`${file}:${e.line}: ${e.code}: ${e.reason}\n`);
  out.write(`claimed ${result.claimed.length} of ${claims.length} device(s)\n`);
  return result.errors.length;
}

export async function revokeDevice(client: ApiClient, out: Output, deviceId: string, opts: { reason: string }): Promise<void> {
  const { claim } = await client.post<{ claim: ClaimRecord }>(`/fleet/${encodeURIComponent(deviceId.toLowerCase())}/revoke`, { reason: opts.reason });
  out.write(`revoked ${claim.deviceId}: its certificates are revoked and it is disconnected\n`);
}

export async function releaseDevice(client: ApiClient, out: Output, deviceId: string, opts: { reason?: string }): Promise<void> {
  const body = opts.reason ? { reason: opts.reason } : {};
  const { claim } = await client.post<{ claim: ClaimRecord }>(`/fleet/${encodeURIComponent(deviceId.toLowerCase())}/release`, body);
  out.write(`released ${claim.deviceId} from quarantine: it may attest again\n`);
}

interface FleetDevice {
  deviceId: string;
  site: string;
  group: string;
  state: string;
  stateReason?: string;
  lastAttestation?: { at: number; result: 'pass' | 'fail'; reason?: string };
  swversion?: string;
  certificateNotAfter?: number;
  reportCount: number;
}

export async function listDevices(client: ApiClient, out: Output, opts: { json?: boolean } = {}): Promise<void> {
  const { devices } = await client.get<{ devices: FleetDevice[] }>('/fleet');
  if (opts.json) {
    out.write(`${JSON.stringify(devices, null, 2)}\n`);
    return;
  }
  if (devices.length === 0) {
    out.write('no claimed devices yet: shellguard device claim <id> --site S --group G\n');
    return;
  }
  out.write(formatTable(
    ['DEVICE', 'SITE', 'GROUP', 'STATE', 'VERSION', 'LAST ATTESTATION', 'CERT EXPIRES', 'REPORTS'],
    devices.map((d) => [
      d.deviceId, d.site, d.group, d.stateReason ? `${d.state} (${d.stateReason})` : d.state, d.swversion ?? '-',
      d.lastAttestation
        ? `${d.lastAttestation.result}${d.lastAttestation.reason ? ` ${d.lastAttestation.reason}` : ''} ${isoTime(d.lastAttestation.at)}`
        : 'never',
      isoTime(d.certificateNotAfter), String(d.reportCount),
    ]),
  ));
}
