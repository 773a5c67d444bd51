/**
 * Deployments (ARCHITECTURE.md §4): a release × a device group, rolled out in waves under a
 * policy, with one record per device. Anchors: AWS IoT Jobs (rollout rates, abort criteria),
 * Eclipse hawkBit (rollout groups with error thresholds), Mender (phased deployments), Azure
 * Device Update (deferral), maintenance windows of the platforms above.
 */
import { UPDATE_STREAMS, type BundleManifest, type UpdateState, type UpdateStream } from '@shellguard/protocol';
import { DeploymentError } from './deployment-error.ts';
import { parseMaintenanceWindow, type MaintenanceWindow } from './maintenance-window.ts';

export type DeploymentState = 'running' | 'paused' | 'halted' | 'aborted' | 'completed';
export const DEPLOYMENT_STATES: readonly DeploymentState[] = ['running', 'paused', 'halted', 'aborted', 'completed'];

/** A deployment that still acts: it instructs devices (running) or may again (paused). */
export const ACTIVE_DEPLOYMENT_STATES: readonly DeploymentState[] = ['running', 'paused'];

export interface RolloutPolicy {
  /** Cumulative percentages of the group, ascending, ending in 100 (default 1, 10, 50, 100). */
  waves: number[];
  /** Seconds a device has after installing to prove, by attestation, that it runs the release (default 600). */
  healthWindowSeconds: number;
  /**
   * Fraction 0..1 of a wave's devices that failed, rolled back or refused at which the rollout
   * halts (default 0.1), once at least `minFailures` devices have (default 1).
   */
  failureThreshold: number;
  minFailures: number;
  /** Devices install only inside one of these; none means any time. */
  maintenanceWindows: MaintenanceWindow[];
  /**
   * Only for the platform stream (security updates): install in every maintenance window without
   * an engineer starting it. Without it, a deployment that has maintenance windows downloads
   * everywhere but installs only after an engineer starts the installs inside a window
   * (`startInstalls`); with no windows at all, creating the deployment is the start.
   */
  autoApply: boolean;
  /** Seconds a complete wave must stay healthy before the next one starts (default 0). */
  waveSoakSeconds: number;
}

export const DEFAULT_POLICY: RolloutPolicy = {
  waves: [1, 10, 50, 100], healthWindowSeconds: 600, failureThreshold: 0.1, minFailures: 1, maintenanceWindows: [], autoApply: false,
  waveSoakSeconds: 0,
};

/** The release a deployment installs, as the image repository describes it (snapshot at creation). */
export interface DeploymentTarget {
  targetName: string;
  length: number;
  sha256: string;
  manifest: BundleManifest;
}

export interface Deployment {
  id: string;
  product: string;
  stream: UpdateStream;
  version: string;
  group: string;
  target: DeploymentTarget;
  policy: RolloutPolicy;
  state: DeploymentState;
  /** 1-based: the newest wave that has been started. */
  currentWave: number;
  waveCount: number;
  waveStartedAt: number;
  /** When the current wave became complete (its soak started); undefined while it is not. */
  waveCompletedAt?: number;
  /** An engineer started installs until this time (the end of the window they started it in). */
  installsStartedUntil?: number;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  haltedReason?: string;
  /** Who paused, resumed, aborted, and why: the newest such action. */
  lastAction?: { action: 'pause' | 'resume' | 'abort' | 'start-installs'; by: string; at: number; reason?: string };
  endedAt?: number;
}

export interface DeviceRolloutEvent {
  at: number;
  state: UpdateState;
  reason?: string;
  /** The device's own status sequence, when the change came from the device. */
  sequence?: number;
}

export interface DeviceRollout {
  deploymentId: string;
  deviceId: string;
  /** 1-based wave. */
  wave: number;
  state: UpdateState;
  reason?: string;
  /** The version the device says it runs on the deployment's stream (its newest status). */
  running?: string;
  /**
   * Highest instruction sequence a status was accepted for (-1: none yet). A device answers one
   * instruction with several statuses (downloading, installed, healthy), all carrying its sequence.
   */
  sequence: number;
  /** Device time (`at`) of the newest status accepted for that sequence: orders statuses within it. */
  statusAt?: number;
  /** Newest instruction sent, and whether it said to install now. */
  instructedAt?: number;
  installNow?: boolean;
  /** When it was first told to install now: attestation evidence of the new version counts from then. */
  installOrderedAt?: number;
  /** When the device reported installed (server time): the health window starts then. */
  installedAt?: number;
  healthDeadline?: number;
  /** The device said healthy; waiting for attestation evidence of the new version. */
  healthReportedAt?: number;
  /** An engineer deferred this device until then. */
  deferredUntil?: number;
  updatedAt: number;
  history: DeviceRolloutEvent[];
}

/** Device states that end a device's part in a deployment. */
export const FAILED_STATES: readonly UpdateState[] = ['failed', 'rolled_back', 'refused'];
export const isFailed = (s: UpdateState): boolean => FAILED_STATES.includes(s);
/** Instructed (or not yet) but not installed: what pause, halt and abort leave on its old version. */
export const NOT_INSTALLED_STATES: readonly UpdateState[] = ['pending', 'downloading', 'downloaded'];

export interface DeploymentRequest {
  product: string;
  stream: UpdateStream;
  version: string;
  group: string;
  policy?: Partial<RolloutPolicy> | undefined;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const GROUP = /^[A-Za-z0-9._:-]{1,128}$/;
const VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
const MAX_WAVES = 10;
const MAX_WINDOWS = 14;
const DAY_SECONDS = 86_400;

function invalid(message: string, details: Record<string, unknown> = {}): never {
  throw new DeploymentError('deployment_invalid', message, details);
}

function integerIn(value: unknown, min: number, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) invalid(`${what} must be an integer from ${min} to ${max}`);
  return value;
}

/** Fills defaults and checks a policy; the error says which field is wrong and how. */
export function normalisePolicy(input: Partial<RolloutPolicy> | undefined, stream: UpdateStream): RolloutPolicy {
  const p = { ...DEFAULT_POLICY, ...(input ?? {}) };
  if (!Array.isArray(p.waves) || p.waves.length === 0 || p.waves.length > MAX_WAVES) invalid(`waves must list 1 to ${MAX_WAVES} cumulative percentages ending in 100`);
  p.waves.forEach((w, i) => {
    if (typeof w !== 'number' || !Number.isFinite(w) || w <= 0 || w > 100) invalid('each wave is a cumulative percentage above 0 and at most 100', { waves: p.waves });
    if (i > 0 && w <= p.waves[i - 1]!) invalid('waves must be strictly ascending cumulative percentages, e.g. [1, 10, 50, 100]', { waves: p.waves });
  });
  if (p.waves[p.waves.length - 1] !== 100) invalid('the last wave must be 100 (the whole group)', { waves: p.waves });
  integerIn(p.healthWindowSeconds, 30, DAY_SECONDS, 'healthWindowSeconds');
  integerIn(p.waveSoakSeconds, 0, 30 * DAY_SECONDS, 'waveSoakSeconds');
  integerIn(p.minFailures, 1, 1_000_000, 'minFailures');
  if (typeof p.failureThreshold !== 'number' || !(p.failureThreshold >= 0 && p.failureThreshold <= 1)) invalid('failureThreshold is a fraction from 0 to 1, e.g. 0.1 for 10 %');
  if (typeof p.autoApply !== 'boolean') invalid('autoApply must be true or false');
  // Unattended installs are for security fixes of the platform layer; application changes alter
  // what the guardian does, so an engineer starts them (in a window) and watches.
  if (p.autoApply && stream !== 'platform') invalid('autoApply is only for the platform stream; application releases are started by an engineer');
  if (!Array.isArray(p.maintenanceWindows) || p.maintenanceWindows.length > MAX_WINDOWS) invalid(`maintenanceWindows must be a list of at most ${MAX_WINDOWS}`);
  const maintenanceWindows = p.maintenanceWindows.map((w, i) => parseMaintenanceWindow(w, `maintenanceWindows[${i}]`));
  return {
    waves: [...p.waves], healthWindowSeconds: p.healthWindowSeconds, failureThreshold: p.failureThreshold, minFailures: p.minFailures,
    maintenanceWindows, autoApply: p.autoApply, waveSoakSeconds: p.waveSoakSeconds,
  };
}

export function validateRequest(r: DeploymentRequest): DeploymentRequest {
  if (typeof r.product !== 'string' || !NAME.test(r.product)) invalid('product must be a name of 1-64 characters (A-Z a-z 0-9 . _ -)');
  if (!(UPDATE_STREAMS as readonly unknown[]).includes(r.stream)) invalid(`stream must be one of ${UPDATE_STREAMS.join(', ')}`);
  if (typeof r.version !== 'string' || !VERSION.test(r.version)) invalid('version must be a semantic version such as 1.4.0');
  if (typeof r.group !== 'string' || !GROUP.test(r.group)) invalid('group must be a group id (1-128 of A-Z a-z 0-9 . _ : -)');
  return r;
}
