/**
 * `shellguard deploy …`: roll a signed release out to a device group and watch it — waves, health
 * window, failure threshold, maintenance windows, pause / resume / abort, deferral — and the
 * per-stream "right version everywhere" report.
 */
import { ShellguardError, UPDATE_STREAMS, type UpdateStream } from '@shellguard/protocol';
import type { ApiClient } from '../api-client.ts';
import { formatTable, isoTime, type Output } from './fleet.ts';

export class DeployArgumentError extends ShellguardError<'deploy_argument'> {}

interface WaveProgress { wave: number; devices: number; started: boolean; complete: boolean; failed: number; states: Record<string, number> }
interface Progress { devices: number; healthy: number; failed: number; percentHealthy: number; states: Record<string, number>; waves: WaveProgress[] }
interface Deployment {
  id: string; product: string; stream: UpdateStream; version: string; group: string; state: string; currentWave: number; waveCount: number;
  haltedReason?: string; createdBy: string; createdAt: number;
}
interface DeviceRollout { deviceId: string; wave: number; state: string; reason?: string; running?: string; updatedAt: number }
interface VersionReport {
  group: string; stream: UpdateStream; target?: { deploymentId: string; version: string; state: string };
  devices: { deviceId: string; running?: string; attested: boolean; matches: boolean; reason?: string }[];
  mismatches: { deviceId: string; running?: string; attested: boolean; reason?: string }[];
}

export interface CreateDeploymentOptions {
  product: string;
  stream: string;
  version: string;
  group: string;
  waves?: string;
  healthWindow?: number;
  failureThreshold?: number;
  minFailures?: number;
  soak?: number;
  window?: string[];
  autoApply?: boolean;
  json?: boolean;
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/**
 * A maintenance window as people write it: `[days ]HH:MM-HH:MM[ zone]`, days as `mon-fri`,
 * `sat,sun` or omitted (every day), zone an IANA name or UTC (default UTC).
 */
export function parseWindow(text: string): { days?: number[]; start: string; end: string; timeZone: string } {
  const m = /^(?:([a-z,-]+)\s+)?(\d{2}:\d{2})-(\d{2}:\d{2})(?:\s+(\S+))?$/i.exec(text.trim());
  if (!m) throw new DeployArgumentError('deploy_argument', `maintenance window "${text}" must look like "mon-fri 02:00-04:00 Europe/Amsterdam" (days and zone optional)`);
  const [, daysText, start, end, zone] = m as unknown as [string, string | undefined, string, string, string | undefined];
  let days: number[] | undefined;
  if (daysText) {
    days = [];
    for (const part of daysText.toLowerCase().split(',')) {
      const [a, b] = part.split('-');
      const from = DAYS.indexOf(a ?? '');
      const to = b === undefined ? from : DAYS.indexOf(b);
      if (from < 0 || to < 0) throw new DeployArgumentError('deploy_argument', `"${part}" in "${text}" is not a day (use mon, tue, …, sun)`);
      for (let d = from; ; d = (d + 1) % 7) {
        if (!days.includes(d)) days.push(d);
        if (d === to) break;
      }
    }
    days.sort((x, y) => x - y);
  }
  return { ...(days ? { days } : {}), start, end, timeZone: zone ?? 'UTC' };
}

function stream(s: string): UpdateStream {
  if (!(UPDATE_STREAMS as readonly string[]).includes(s)) throw new DeployArgumentError('deploy_argument', `--stream must be ${UPDATE_STREAMS.join(' or ')}`);
  return s as UpdateStream;
}

function progressLine(d: Deployment, p: Progress): string {
  const waves = p.waves.map((w) => `${w.wave}:${w.complete ? 'done' : w.started ? 'running' : 'waiting'}(${w.devices}${w.failed ? `, ${w.failed} failed` : ''})`).join(' ');
  return `${d.id}  ${d.product} ${d.stream} ${d.version} -> ${d.group}  ${d.state}  wave ${d.currentWave}/${d.waveCount}  ${p.healthy}/${p.devices} healthy (${p.percentHealthy} %), ${p.failed} failed  [${waves}]`
    + (d.haltedReason ? `\n  halted: ${d.haltedReason}` : '');
}

export async function createDeployment(client: ApiClient, out: Output, o: CreateDeploymentOptions): Promise<void> {
  const policy: Record<string, unknown> = {};
  if (o.waves !== undefined) {
    const waves = o.waves.split(',').map((x) => Number(x.trim()));
    if (waves.some((x) => !Number.isFinite(x))) throw new DeployArgumentError('deploy_argument', '--waves must be cumulative percentages such as 1,10,50,100');
    policy.waves = waves;
  }
  if (o.healthWindow !== undefined) policy.healthWindowSeconds = o.healthWindow;
  if (o.failureThreshold !== undefined) policy.failureThreshold = o.failureThreshold;
  if (o.minFailures !== undefined) policy.minFailures = o.minFailures;
  if (o.soak !== undefined) policy.waveSoakSeconds = o.soak;
  if (o.window?.length) policy.maintenanceWindows = o.window.map(parseWindow);
  if (o.autoApply) policy.autoApply = true;
  const view = await client.post<{ deployment: Deployment; progress: Progress }>('/deployments', {
    product: o.product, stream: stream(o.stream), version: o.version, group: o.group, policy,
  });
  if (o.json) out.write(`${JSON.stringify(view, null, 2)}\n`);
  else out.write(`${progressLine(view.deployment, view.progress)}\n`);
}

export async function listDeployments(client: ApiClient, out: Output, o: { group?: string; json?: boolean }): Promise<void> {
  const q = o.group ? `?group=${encodeURIComponent(o.group)}` : '';
  const { deployments } = await client.get<{ deployments: Deployment[] }>(`/deployments${q}`);
  if (o.json) {
    out.write(`${JSON.stringify(deployments, null, 2)}\n`);
    return;
  }
  out.write(formatTable(['ID', 'RELEASE', 'GROUP', 'STATE', 'WAVE', 'CREATED'], deployments.map((d) => [
    d.id, `${d.product} ${d.stream} ${d.version}`, d.group, d.state, `${d.currentWave}/${d.waveCount}`, `${isoTime(d.createdAt)} by ${d.createdBy}`,
  ])));
}

/** Prints a deployment's progress and the devices that are not healthy (all with --all). */
export async function showDeployment(client: ApiClient, out: Output, id: string, o: { all?: boolean; json?: boolean }): Promise<void> {
  const view = await client.get<{ deployment: Deployment; progress: Progress }>(`/deployments/${encodeURIComponent(id)}`);
  const { devices } = await client.get<{ devices: DeviceRollout[] }>(`/deployments/${encodeURIComponent(id)}/devices`);
  if (o.json) {
    out.write(`${JSON.stringify({ ...view, devices }, null, 2)}\n`);
    return;
  }
  out.write(`${progressLine(view.deployment, view.progress)}\n`);
  const shown = o.all ? devices : devices.filter((d) => d.state !== 'healthy' && d.state !== 'pending');
  if (shown.length > 0) {
    out.write(formatTable(['DEVICE', 'WAVE', 'STATE', 'RUNNING', 'UPDATED', 'REASON'], shown.map((d) => [
      d.deviceId, String(d.wave), d.state, d.running ?? '-', isoTime(d.updatedAt), d.reason ?? '',
    ])));
  }
}

export async function actOnDeployment(client: ApiClient, out: Output, id: string, action: 'pause' | 'resume' | 'abort' | 'start-installs', o: { reason?: string }): Promise<void> {
  const view = await client.post<{ deployment: Deployment; progress: Progress }>(`/deployments/${encodeURIComponent(id)}/${action}`,
    action === 'start-installs' ? {} : { ...(o.reason ? { reason: o.reason } : {}) });
  out.write(`${progressLine(view.deployment, view.progress)}\n`);
}

export async function deferDevice(client: ApiClient, out: Output, id: string, deviceId: string, o: { until: string; reason: string }): Promise<void> {
  const { device } = await client.post<{ device: DeviceRollout & { deferredUntil?: number } }>(
    `/deployments/${encodeURIComponent(id)}/devices/${encodeURIComponent(deviceId)}/defer`, { until: o.until, reason: o.reason });
  out.write(`${device.deviceId} deferred until ${isoTime(device.deferredUntil)}: ${device.reason ?? o.reason}\n`);
}

/** Returns the number of mismatches (the CLI exits 1 when there are any). */
export async function printStreamVersionReport(client: ApiClient, out: Output, group: string, o: { stream: string; json?: boolean }): Promise<number> {
  const r = await client.get<VersionReport>(`/groups/${encodeURIComponent(group)}/version-report?stream=${stream(o.stream)}`);
  if (o.json) {
    out.write(`${JSON.stringify(r, null, 2)}\n`);
    return r.mismatches.length;
  }
  out.write(r.target
    ? `group ${r.group}, ${r.stream}: target ${r.target.version} (deployment ${r.target.deploymentId}, ${r.target.state}); ${r.devices.length} devices, ${r.mismatches.length} mismatches\n`
    : `group ${r.group}, ${r.stream}: no deployment yet; ${r.devices.length} devices\n`);
  if (r.mismatches.length > 0) {
    out.write(formatTable(['DEVICE', 'RUNNING', 'ATTESTED', 'REASON'], r.mismatches.map((d) => [d.deviceId, d.running ?? '-', d.attested ? 'yes' : 'no', d.reason ?? ''])));
  }
  return r.mismatches.length;
}
