/** What a deployment has achieved so far: counts per state, per wave and overall. */
import { UPDATE_STATES, type UpdateState } from '@shellguard/protocol';
import { isFailed, type Deployment, type DeviceRollout } from './deployment-model.ts';

export type StateCounts = Record<UpdateState, number>;

export interface WaveProgress {
  wave: number;
  devices: number;
  started: boolean;
  /** Every device healthy, failed (or rolled back, refused) or deferred. */
  complete: boolean;
  /** Failed, rolled back or refused: what the halt threshold counts. */
  failed: number;
  states: StateCounts;
}

export interface DeploymentProgress {
  devices: number;
  healthy: number;
  failed: number;
  /** Healthy devices as a percentage of the deployment's devices, one decimal. */
  percentHealthy: number;
  states: StateCounts;
  waves: WaveProgress[];
}

const zero = (): StateCounts => Object.fromEntries(UPDATE_STATES.map((s) => [s, 0])) as StateCounts;

/** States of a device that no longer holds its wave back. A rolled-back device is done, never a success. */
export const DONE_STATES: readonly UpdateState[] = ['healthy', 'deferred', 'failed', 'rolled_back', 'refused'];
export const isDoneInWave = (d: DeviceRollout): boolean => DONE_STATES.includes(d.state);

export function deploymentProgress(deployment: Deployment, devices: readonly DeviceRollout[]): DeploymentProgress {
  const states = zero();
  const waves: WaveProgress[] = Array.from({ length: deployment.waveCount }, (_, i) => ({
    wave: i + 1, devices: 0, started: i + 1 <= deployment.currentWave, complete: true, failed: 0, states: zero(),
  }));
  for (const d of devices) {
    states[d.state]++;
    const w = waves[d.wave - 1];
    if (!w) continue;
    w.devices++;
    w.states[d.state]++;
    if (isFailed(d.state)) w.failed++;
    if (!isDoneInWave(d)) w.complete = false;
  }
  const failed = states.failed + states.rolled_back + states.refused;
  const percentHealthy = devices.length === 0 ? 0 : Math.round((1000 * states.healthy) / devices.length) / 10;
  return { devices: devices.length, healthy: states.healthy, failed, percentHealthy, states, waves };
}
