import { ShellguardError } from '@shellguard/protocol';
import { startSimulatedSite, type FaultKind, type FaultSpec } from '@shellguard/sim';
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

export async function runSim(opts: { site: string; assets: number; basePort: number; seed: number; fault?: string[] }): Promise<void> {
  const site = await startSimulatedSite({
    site: opts.site, assets: opts.assets, basePort: opts.basePort, seed: opts.seed, faults: parseFaults(opts.fault),
    onWrite: (asset) => process.stderr.write(`WARNING: a client tried to WRITE to ${asset}\n`),
  });
  for (const a of site.assets) process.stdout.write(`${a.id.padEnd(10)} ${a.type.padEnd(10)} ${a.profile.padEnd(20)} ${a.area.padEnd(14)} modbus://${a.host}:${a.port} unit ${a.unitId}\n`);
  process.stdout.write(`${site.assets.length} simulated assets running; Ctrl-C to stop\n`);
  await untilSignalled();
  await site.stop();
}
