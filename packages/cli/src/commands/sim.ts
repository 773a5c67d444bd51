import { ShellguardError } from '@shellguard/protocol';
import { startSimulatedSite, type FaultKind, type FaultSpec, type SimulatedAsset, type SiteProtocols } from '@shellguard/sim';
import { untilSignalled } from '../logging.ts';

const FAULT_KINDS: readonly FaultKind[] = ['fan-bearing', 'coolant-drift'];

export function parseFaults(specs: string[] | undefined): FaultSpec[] {
  return (specs ?? []).map((spec) => {
    const [asset, kind] = spec.split(':');
    if (!asset || !kind || !(FAULT_KINDS as readonly string[]).includes(kind)) {
      throw new ShellguardError('invalid_option', `--fault ${spec}: write ASSET:KIND with KIND one of ${FAULT_KINDS.join(', ')}`);
    }
    return { asset, kind: kind as FaultKind };
  });
}

/** Where an asset answers, as an operator would write it down. */
export function describeEndpoint(a: SimulatedAsset): string {
  switch (a.protocol) {
    case 'modbus': return `modbus://${a.host}:${a.port} unit ${a.unitId}`;
    case 'bacnet': return `bacnet://${a.host}:${a.port} device ${a.access.bacnet?.deviceInstance ?? '?'}`;
    case 'snmp': return `snmp://${a.host}:${a.port} v3 user ${a.access.snmp?.user.name ?? '?'}`;
    case 'redfish': return `https://${a.host}:${a.port}/redfish/v1 chassis ${a.access.redfish?.chassis ?? '?'}`;
  }
}

export async function runSim(opts: { site: string; assets: number; basePort: number; seed: number; fault?: string[]; protocols?: SiteProtocols; json?: boolean }): Promise<void> {
  const site = await startSimulatedSite({
    site: opts.site, assets: opts.assets, basePort: opts.basePort, seed: opts.seed, faults: parseFaults(opts.fault), protocols: opts.protocols ?? 'modbus',
    onWrite: (asset, attempt) => process.stderr.write(`WARNING: a client tried to WRITE to ${asset} (${attempt.protocol}: ${attempt.request})\n`),
  });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(site.assets)}\n`);
  } else {
    for (const a of site.assets) process.stdout.write(`${a.id.padEnd(10)} ${a.type.padEnd(10)} ${a.profile.padEnd(22)} ${a.area.padEnd(14)} ${describeEndpoint(a)}\n`);
    process.stdout.write(`${site.assets.length} simulated assets running; Ctrl-C to stop\n`);
  }
  await untilSignalled();
  await site.stop();
}
