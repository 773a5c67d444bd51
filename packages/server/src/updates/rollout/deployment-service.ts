/**
 * The rollout engine: deploys a genuine release to a device group in waves and decides, from
 * the devices' statuses and their attestation evidence, when to widen, halt or finish.
 *
 * - Waves (AWS IoT Jobs rollout rates, hawkBit rollout groups): cumulative percentages of the
 *   group, devices ordered by a hash of (deployment, device). A wave starts when the one before
 *   it is complete (every device healthy, failed or deferred) and has soaked `waveSoakSeconds`.
 * - Success is proven, not reported (Uptane + RFC 9334): a device that says healthy counts as
 *   healthy only once a passing attestation since its install measured the release's components.
 *   A rolled-back device is never a success.
 * - Abort criteria (AWS IoT Jobs, hawkBit error threshold): when a wave's failed, rolled-back or
 *   refused devices reach the threshold, the deployment halts and instructs no one else.
 * - Maintenance windows: outside them devices are told to download and wait (installNow false)
 *   and are told to install when a window opens (platform autoApply) or when an engineer starts
 *   the installs inside one.
 * - Deferral (Azure Device Update): an engineer holds one device back until a time.
 *
 * Halt, pause and abort send nothing to devices that have not installed: there is no cancel in
 * the director protocol. A device told only to download never installs without a new
 * instruction, and an instruction it waits on expires at the director (24 h); a device already
 * told to install may finish, and its statuses are still recorded and judged.
 *
 * Every operation runs one at a time in this engine, reads its records, asks the ports outside
 * any transaction, then commits the records and their audit events in one unit of work;
 * instructions are sent after that commit. Operator actions (pause, resume, abort, start
 * installs, defer) read, check and write inside their unit of work with the deployment's row
 * held, so they are atomic across replicas too; a step of the engine (`advance`) commits only if
 * the deployment is still as it read it, and otherwise leaves the step to the next tick.
 */
import {
  systemClock, type Clock, type InstructedImage, type TimerHandle, type UpdateState, type UpdateStatus, type UpdateStream,
} from '@shellguard/protocol';
import type { AuditEventInput } from '../../audit/audit-log.ts';
import type { UnitOfWork } from '../../db/unit-of-work.ts';
import { isPerDeviceComponent } from '../../fleet/reference-values.ts';
import { DeploymentError } from './deployment-error.ts';
import {
  ACTIVE_DEPLOYMENT_STATES, NOT_INSTALLED_STATES, isFailed, normalisePolicy, validateRequest,
  type Deployment, type DeploymentRequest, type DeploymentState, type DeviceRollout,
} from './deployment-model.ts';
import { DONE_STATES, deploymentProgress, isDoneInWave, type DeploymentProgress } from './deployment-progress.ts';
import type { DeploymentFilter, DeploymentStore, DeploymentUnit } from './deployment-store.ts';
import { isInsideAnyWindow, windowEndsAt } from './maintenance-window.ts';
import type { EvidenceCheck, GroupDirectory, Instructor, ReferenceValues, ReleaseCatalog } from './rollout-ports.ts';
import { planWaves } from './wave-plan.ts';

export interface DeploymentServiceDeps {
  /** Reads, and writes that need no audit event (each its own transaction). */
  store: DeploymentStore;
  /** Every state change with its audit events, in one transaction. */
  unitOfWork: UnitOfWork<DeploymentUnit>;
  catalog: ReleaseCatalog;
  groups: GroupDirectory;
  referenceValues: ReferenceValues;
  evidence: EvidenceCheck;
  instructor: Instructor;
  /** Time, and the timer that drives `tick()` after `start()` (default systemClock; its timers are unref'd). */
  clock?: Clock;
  /** How often `start()` ticks (default 30 s). */
  tickIntervalMs?: number;
  /**
   * A device still waiting (not installed) gets its instruction again after this long (default
   * 12 h), so it never holds only an expired one (the director's instructions live 24 h).
   */
  instructionRefreshMs?: number;
  /** Deployment ids (default `dep-<time>-<random>`). */
  newId?: () => string;
  /** Where a failing tick or instruction is reported (it is retried on the next tick); deploymentId '*' when the whole tick failed. */
  onTickError?: (err: unknown, deploymentId: string) => void;
}

export interface DeploymentView {
  deployment: Deployment;
  progress: DeploymentProgress;
}

export type StatusOutcome = { accepted: true; state: UpdateState } | { accepted: false; reason: string };

export interface VersionReportDevice {
  deviceId: string;
  /** The version it runs on the stream: from its newest update status, else (application) its attestation. */
  running?: string;
  source: 'status' | 'attestation' | 'unknown';
  /** Its newest passing attestation measured the target release's components. */
  attested: boolean;
  matches: boolean;
  reason?: string;
}

export interface VersionReport {
  group: string;
  stream: UpdateStream;
  /** The newest deployment of the stream that is running, paused or completed (halted and aborted ones never became the target). */
  target?: { deploymentId: string; version: string; state: DeploymentState };
  devices: VersionReportDevice[];
  mismatches: VersionReportDevice[];
}

/** Thrown inside a step's unit of work when the deployment changed since the step read it. */
class DeploymentChangedMeanwhile extends Error {}

const DAY_MS = 86_400_000;
const MAX_DEFERRAL_MS = 90 * DAY_MS;
const HISTORY_LIMIT = 50;

interface Pending {
  deployment: Deployment;
  /** The deployment as read, to find out at commit whether someone changed it meanwhile. */
  readAs: string;
  deploymentChanged: boolean;
  devices: Map<string, DeviceRollout>;
  changed: Set<string>;
  audits: AuditEventInput[];
}

export class DeploymentService {
  private readonly d: DeploymentServiceDeps;
  private readonly clock: Clock;
  private readonly refreshMs: number;
  private queue: Promise<void> = Promise.resolve();
  private timer: TimerHandle | undefined;
  private running = false;

  constructor(deps: DeploymentServiceDeps) {
    this.d = deps;
    this.clock = deps.clock ?? systemClock;
    this.refreshMs = deps.instructionRefreshMs ?? 12 * 3_600_000;
  }

  // ---------------------------------------------------------------- timer

  /** Ticks every `tickIntervalMs` until `stop()`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const every = this.d.tickIntervalMs ?? 30_000;
    const loop = () => {
      this.timer = undefined;
      void this.tick().catch((err: unknown) => this.d.onTickError?.(err, '*')).finally(() => {
        if (this.running) this.timer = this.clock.setTimeout(loop, every).unref();
      });
    };
    this.timer = this.clock.setTimeout(loop, every).unref();
  }

  stop(): void {
    this.running = false;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  // ---------------------------------------------------------------- operator actions

  /**
   * Deploys a genuine release to a group: assigns its devices to waves, lets the release pass
   * attestation in the group, and instructs the first wave.
   */
  async create(request: DeploymentRequest, actor: string): Promise<DeploymentView> {
    return this.serial(async () => {
      const { product, stream, version, group } = validateRequest(request);
      const policy = normalisePolicy(request.policy, stream);
      await this.refuseIfActive(group, stream);
      const release = await this.d.catalog.find(product, stream, version);
      if (!release) {
        throw new DeploymentError('release_not_found', `${product} ${version} is not a signed target of the ${stream} image repository; publish it there first`, { product, stream, version });
      }
      const m = release.manifest;
      if (m.product !== product || m.stream !== stream || m.version !== version) {
        throw new DeploymentError('release_mismatch', `the target ${release.targetName} describes ${m.product} ${m.stream} ${m.version}, not ${product} ${stream} ${version}; the image repository's metadata needs fixing`, {
          targetName: release.targetName,
        });
      }
      const members = await this.d.groups.devicesInGroup(group);
      if (members.length === 0) {
        throw new DeploymentError('group_empty', `group ${group} has no claimed device that is not revoked or quarantined; claim devices into it first`, { group });
      }
      const now = this.clock.now();
      const id = this.d.newId?.() ?? `dep-${now.toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
      const plan = planWaves(id, members, policy.waves);
      const deployment: Deployment = {
        id, product, stream, version, group,
        target: { targetName: release.targetName, length: release.length, sha256: release.sha256, manifest: m },
        policy, state: 'running', currentWave: 1, waveCount: plan.waveCount, waveStartedAt: now,
        createdBy: actor, createdAt: now, updatedAt: now,
      };
      const devices = [...plan.waves].map(([deviceId, wave]): DeviceRollout => ({
        deploymentId: id, deviceId, wave, state: 'pending', sequence: -1, updatedAt: now, history: [{ at: now, state: 'pending' }],
      }));
      // Before any device installs it: the new software must pass attestation, and the old one
      // (where a failing device rolls back to) stays registered.
      await this.d.referenceValues.allow(group, m, actor);
      await this.d.unitOfWork.run(async ({ deployments, audit }) => {
        // Another replica may have created one since the check above: the database refuses the second.
        if (!await deployments.insertDeployment(deployment)) {
          await this.refuseIfActive(group, stream, deployments);
          throw new DeploymentError('deployment_conflict', `deployment ${id} exists already; try again`, { deploymentId: id });
        }
        await deployments.saveDevices(devices);
        await audit.record({
          actor, action: 'deployment.create', target: `deployment:${id}`,
          detail: {
            product, stream, version, group, targetName: release.targetName, sha256: release.sha256, policy,
            devices: devices.length, waveSizes: Array.from({ length: plan.waveCount }, (_, i) => devices.filter((x) => x.wave === i + 1).length),
          },
        });
      });
      return this.view(await this.advance(id));
    });
  }

  async pause(id: string, actor: string, reason?: string): Promise<DeploymentView> {
    return this.serial(() => this.changeState(id, actor, 'pause', ['running'], 'paused', reason));
  }

  async resume(id: string, actor: string, reason?: string): Promise<DeploymentView> {
    return this.serial(async () => {
      await this.changeState(id, actor, 'resume', ['paused'], 'running', reason);
      return this.view(await this.advance(id));
    });
  }

  /** Final: devices that have not installed stay on their version. */
  async abort(id: string, actor: string, reason?: string): Promise<DeploymentView> {
    return this.serial(() => this.changeState(id, actor, 'abort', ['running', 'paused', 'halted'], 'aborted', reason));
  }

  /**
   * An engineer starts the installs of a deployment that waits for maintenance windows: inside a
   * window, until it closes. (Platform deployments with autoApply do this in every window.)
   */
  async startInstalls(id: string, actor: string): Promise<DeploymentView> {
    return this.serial(async () => {
      await this.d.unitOfWork.run(async ({ deployments, audit }) => {
        const dep = await this.require(id, deployments);
        if (dep.state !== 'running') throw new DeploymentError('deployment_state', `deployment ${id} is ${dep.state}; installs start only in a running deployment`, { state: dep.state });
        const windows = dep.policy.maintenanceWindows;
        if (windows.length === 0) throw new DeploymentError('deployment_state', `deployment ${id} has no maintenance windows: its devices install as soon as they are instructed`);
        const now = this.clock.now();
        const until = windowEndsAt(windows, now);
        if (until === undefined) {
          throw new DeploymentError('outside_maintenance_window', `it is outside every maintenance window of deployment ${id}; start the installs inside one`, { windows });
        }
        dep.installsStartedUntil = until;
        dep.lastAction = { action: 'start-installs', by: actor, at: now };
        dep.updatedAt = now;
        await deployments.saveDeployment(dep);
        await audit.record({ actor, action: 'deployment.installs.start', target: `deployment:${id}`, detail: { until } });
      });
      return this.view(await this.advance(id));
    });
  }

  /** Holds one device back until `untilMs` (Azure Device Update-style deferral). */
  async defer(deploymentId: string, deviceId: string, untilMs: number, reason: string, actor: string): Promise<DeviceRollout> {
    return this.serial(async () => {
      await this.d.unitOfWork.run(async ({ deployments, audit }) => {
        const dep = await this.require(deploymentId, deployments);
        if (!ACTIVE_DEPLOYMENT_STATES.includes(dep.state)) {
          throw new DeploymentError('deployment_state', `deployment ${deploymentId} is ${dep.state}; only a running or paused deployment defers devices`, { state: dep.state });
        }
        const dev = await deployments.getDevice(deploymentId, deviceId);
        if (!dev) throw new DeploymentError('device_not_in_deployment', `device ${deviceId} is not part of deployment ${deploymentId}`, { deviceId });
        if (!NOT_INSTALLED_STATES.includes(dev.state) && dev.state !== 'deferred') {
          throw new DeploymentError('deployment_state', `device ${deviceId} is ${dev.state}; only a device that has not installed can be deferred`, { state: dev.state });
        }
        if (dev.installNow === true) {
          throw new DeploymentError('deployment_state', `device ${deviceId} was already told to install; it can no longer be held back`, { instructedAt: dev.instructedAt });
        }
        const now = this.clock.now();
        if (!Number.isFinite(untilMs) || untilMs <= now || untilMs > now + MAX_DEFERRAL_MS) {
          throw new DeploymentError('deployment_invalid', 'until must be a time in the future, at most 90 days ahead');
        }
        const why = (reason ?? '').trim();
        if (why.length < 3 || why.length > 1000) throw new DeploymentError('deployment_invalid', 'a deferral needs a reason of 3 to 1000 characters');
        delete dev.healthReportedAt;
        dev.deferredUntil = untilMs;
        setState(dev, 'deferred', now, `deferred by ${actor} until ${new Date(untilMs).toISOString()}: ${why}`);
        await deployments.saveDevices([dev]);
        await audit.record({ actor, action: 'deployment.device.defer', target: `deployment:${deploymentId}`, detail: { deviceId, until: untilMs, reason: why } });
      });
      await this.advance(deploymentId);
      return (await this.d.store.getDevice(deploymentId, deviceId))!;
    });
  }

  // ---------------------------------------------------------------- what devices say

  /**
   * A guardian's progress on a deployment (from its `up/update` topic). Statuses of other
   * deployments, for another version, or not newer than the last one accepted are ignored.
   */
  async onDeviceStatus(deviceId: string, status: UpdateStatus): Promise<StatusOutcome> {
    return this.serial(async () => {
      const dep = await this.d.store.getDeployment(status.deploymentId);
      if (!dep) return { accepted: false, reason: `no deployment ${status.deploymentId}` };
      const dev = await this.d.store.getDevice(dep.id, deviceId);
      if (!dev) return { accepted: false, reason: `device ${deviceId} is not part of deployment ${dep.id}` };
      if (status.target !== dep.version) return { accepted: false, reason: `the status is about ${status.target}; deployment ${dep.id} installs ${dep.version}` };
      // Older instruction, or not newer than the last status for the same instruction: a redelivery.
      if (status.sequence < dev.sequence || (status.sequence === dev.sequence && status.at <= (dev.statusAt ?? Number.NEGATIVE_INFINITY))) {
        return { accepted: false, reason: `stale or duplicate status (sequence ${status.sequence} at ${status.at}; already at ${dev.sequence} at ${dev.statusAt ?? '-'})` };
      }
      const now = this.clock.now();
      dev.sequence = status.sequence;
      dev.statusAt = status.at;
      dev.running = status.running;
      dev.updatedAt = now;
      await this.applyStatus(dep, dev, status, now);
      await this.d.store.saveDevices([dev]);
      // The whole deployment is re-read only when this status may halt, widen or finish it, so
      // a status costs the same in a group of 20 and of 20 000.
      if (this.mayAdvance(dep, await this.d.store.stateCounts(dep.id), dev.wave)) await this.advance(dep.id);
      return { accepted: true, state: dev.state };
    });
  }

  private async applyStatus(dep: Deployment, dev: DeviceRollout, status: UpdateStatus, now: number): Promise<void> {
    const next = status.state;
    // A device's part ends when it fails: a later report does not make the failure a success.
    if (isFailed(dev.state) && !isFailed(next)) return;
    if (dev.state === 'healthy' && !isFailed(next)) return;
    if (isFailed(next)) {
      delete dev.healthReportedAt;
      setState(dev, next, now, status.reason ?? (next === 'rolled_back' ? 'the device rolled back' : next === 'refused' ? 'the device refused the instruction' : 'the device reported a failure'), status.sequence);
      return;
    }
    if (next === 'installed' || next === 'healthy') {
      if (dev.installedAt === undefined) {
        dev.installedAt = now;
        dev.healthDeadline = now + dep.policy.healthWindowSeconds * 1000;
      }
      if (next === 'healthy') {
        if (await this.provenHealthy(dep, dev, status.running)) {
          delete dev.healthReportedAt;
          setState(dev, 'healthy', now, undefined, status.sequence);
        } else {
          dev.healthReportedAt = now;
          setState(dev, 'installed', now, 'reported healthy; waiting for attestation evidence of the new version', status.sequence);
        }
      } else if (dev.state !== 'installed') {
        setState(dev, 'installed', now, undefined, status.sequence);
      }
      return;
    }
    // pending, downloading, downloaded, deferred (by the device itself): progress before install.
    if (dev.state === 'installed') return;
    if (dev.state === 'deferred' && dev.deferredUntil !== undefined) return;
    setState(dev, next, now, status.reason, status.sequence);
  }

  private mayAdvance(dep: Deployment, counts: readonly { wave: number; state: UpdateState; count: number }[], wave: number): boolean {
    if (dep.state !== 'running' && dep.state !== 'paused') return false;
    const inWave = (w: number) => counts.filter((c) => c.wave === w);
    const sum = (list: readonly { count: number }[]) => list.reduce((n, c) => n + c.count, 0);
    if (wave <= dep.currentWave) {
      const all = sum(inWave(wave));
      const failed = sum(inWave(wave).filter((c) => isFailed(c.state)));
      if (all > 0 && failed >= dep.policy.minFailures && failed >= dep.policy.failureThreshold * all) return true;
    }
    if (dep.state !== 'running') return false;
    const current = inWave(dep.currentWave);
    return sum(current.filter((c) => !DONE_STATES.includes(c.state))) === 0;
  }

  /** Healthy means: a passing attestation since the install measured the release's own components. */
  private async provenHealthy(dep: Deployment, dev: DeviceRollout, running: string | undefined): Promise<boolean> {
    if (running !== undefined && running !== dep.version) return false;
    const since = dev.installOrderedAt ?? dev.installedAt ?? dev.instructedAt ?? 0;
    const evidence = await this.d.evidence.attestedSince(dev.deviceId, since);
    return evidence !== undefined && measuresRelease(dep, evidence.measurements);
  }

  // ---------------------------------------------------------------- time

  /** Drives time-based transitions of every deployment still in progress. Idempotent. */
  async tick(): Promise<void> {
    return this.serial(async () => {
      const live = await this.d.store.deployments({ states: ['running', 'paused', 'halted'] });
      for (const dep of live) {
        try {
          await this.advance(dep.id);
        } catch (err) {
          this.d.onTickError?.(err, dep.id);
        }
      }
    });
  }

  /**
   * One step of a deployment: joiners, evidence, health windows, deferrals, the halt threshold,
   * waves, completion, then the instructions that are due. Safe to repeat at any time.
   */
  private async advance(id: string): Promise<Deployment> {
    const dep = await this.require(id);
    const now = this.clock.now();
    const p: Pending = {
      deployment: dep, readAs: JSON.stringify(dep), deploymentChanged: false, devices: new Map((await this.d.store.devices(id)).map((x) => [x.deviceId, x])), changed: new Set(), audits: [],
    };
    const active = dep.state === 'running' || dep.state === 'paused';
    if (active) await this.addJoiners(p, now);
    await this.judgeHealth(p, now);
    if (active) {
      this.endDeferrals(p, now);
      this.checkThreshold(p, now);
    }
    if (p.deployment.state === 'running') {
      this.promoteWaves(p, now);
      this.checkCompletion(p, now);
    }
    const due = p.deployment.state === 'running' ? this.dueInstructions(p, now) : [];
    try {
      await this.commit(p);
    } catch (err) {
      // An operator (or another replica) changed it since this step read it: what the step decided
      // may no longer hold, so none of it is stored or sent; the next tick decides afresh.
      if (err instanceof DeploymentChangedMeanwhile) return this.require(id);
      throw err;
    }
    if (due.length > 0) await this.sendInstructions(p.deployment, due, now);
    return p.deployment;
  }

  /** A device that joined the group after the deployment was created goes in its last wave. */
  private async addJoiners(p: Pending, now: number): Promise<void> {
    const members = await this.d.groups.devicesInGroup(p.deployment.group);
    for (const deviceId of members) {
      if (p.devices.has(deviceId)) continue;
      const dev: DeviceRollout = {
        deploymentId: p.deployment.id, deviceId, wave: p.deployment.waveCount, state: 'pending', sequence: -1, updatedAt: now,
        reason: 'joined the group during the rollout: in the last wave', history: [{ at: now, state: 'pending', reason: 'joined the group during the rollout' }],
      };
      p.devices.set(deviceId, dev);
      p.changed.add(deviceId);
    }
  }

  private async judgeHealth(p: Pending, now: number): Promise<void> {
    for (const dev of p.devices.values()) {
      if (dev.state !== 'installed') continue;
      if (dev.healthReportedAt !== undefined && await this.provenHealthy(p.deployment, dev, dev.running)) {
        delete dev.healthReportedAt;
        setState(dev, 'healthy', now);
        p.changed.add(dev.deviceId);
        continue;
      }
      if (dev.healthDeadline !== undefined && now >= dev.healthDeadline) {
        setState(dev, 'failed', now, dev.healthReportedAt !== undefined ? 'no attestation evidence of the new version' : 'health window expired');
        delete dev.healthReportedAt;
        p.changed.add(dev.deviceId);
      }
    }
  }

  private endDeferrals(p: Pending, now: number): void {
    for (const dev of p.devices.values()) {
      if (dev.state !== 'deferred' || dev.deferredUntil === undefined || now < dev.deferredUntil) continue;
      delete dev.deferredUntil;
      // Instructed afresh: what it was told before the deferral may have expired.
      delete dev.instructedAt;
      delete dev.installNow;
      setState(dev, 'pending', now, 'deferral ended');
      p.changed.add(dev.deviceId);
    }
  }

  private checkThreshold(p: Pending, now: number): void {
    const dep = p.deployment;
    const { failureThreshold, minFailures } = dep.policy;
    for (let wave = 1; wave <= dep.currentWave; wave++) {
      const inWave = [...p.devices.values()].filter((d) => d.wave === wave);
      const failed = inWave.filter((d) => isFailed(d.state));
      if (inWave.length === 0 || failed.length < minFailures || failed.length < failureThreshold * inWave.length) continue;
      const reasons = [...new Set(failed.map((d) => d.reason ?? d.state))].slice(0, 3).join('; ');
      dep.state = 'halted';
      dep.haltedReason = `wave ${wave}: ${failed.length} of ${inWave.length} devices failed or rolled back `
        + `(threshold ${Math.round(failureThreshold * 1000) / 10} %, at least ${minFailures}): ${reasons}. No further devices are instructed; abort the deployment and fix the release`;
      dep.updatedAt = now;
      p.deploymentChanged = true;
      for (const dev of p.devices.values()) {
        if (NOT_INSTALLED_STATES.includes(dev.state) && dev.installNow !== true) {
          dev.reason = 'not installed: the deployment halted';
          p.changed.add(dev.deviceId);
        }
      }
      p.audits.push({
        actor: 'system', action: 'deployment.halt', target: `deployment:${dep.id}`,
        detail: { wave, failed: failed.length, devices: inWave.length, failureThreshold, minFailures, reason: dep.haltedReason },
      });
      return;
    }
  }

  private promoteWaves(p: Pending, now: number): void {
    const dep = p.deployment;
    for (;;) {
      const inWave = [...p.devices.values()].filter((d) => d.wave === dep.currentWave);
      if (!inWave.every(isDoneInWave)) {
        if (dep.waveCompletedAt !== undefined) {
          delete dep.waveCompletedAt;
          p.deploymentChanged = true;
        }
        return;
      }
      if (dep.currentWave >= dep.waveCount) return;
      if (dep.waveCompletedAt === undefined) {
        dep.waveCompletedAt = now;
        p.deploymentChanged = true;
      }
      if (now < dep.waveCompletedAt + dep.policy.waveSoakSeconds * 1000) return;
      dep.currentWave++;
      dep.waveStartedAt = now;
      delete dep.waveCompletedAt;
      dep.updatedAt = now;
      p.deploymentChanged = true;
      p.audits.push({
        actor: 'system', action: 'deployment.wave.start', target: `deployment:${dep.id}`,
        detail: { wave: dep.currentWave, devices: [...p.devices.values()].filter((d) => d.wave === dep.currentWave).length },
      });
    }
  }

  /** Complete: the last wave has started and every device is done, none waiting on a deferral. */
  private checkCompletion(p: Pending, now: number): void {
    const dep = p.deployment;
    if (dep.currentWave < dep.waveCount) return;
    const devices = [...p.devices.values()];
    if (!devices.every((d) => isDoneInWave(d) && d.deferredUntil === undefined)) return;
    dep.state = 'completed';
    dep.endedAt = now;
    dep.updatedAt = now;
    p.deploymentChanged = true;
    const progress = deploymentProgress(dep, devices);
    p.audits.push({
      actor: 'system', action: 'deployment.complete', target: `deployment:${dep.id}`,
      detail: { devices: progress.devices, healthy: progress.healthy, failed: progress.failed, deferred: progress.states.deferred },
    });
  }

  private canInstallNow(dep: Deployment, now: number): boolean {
    const windows = dep.policy.maintenanceWindows;
    if (windows.length === 0) return true;
    if (!isInsideAnyWindow(windows, now)) return false;
    return dep.policy.autoApply || (dep.installsStartedUntil !== undefined && now < dep.installsStartedUntil);
  }

  private dueInstructions(p: Pending, now: number): { deviceId: string; installNow: boolean }[] {
    const dep = p.deployment;
    const installNow = this.canInstallNow(dep, now);
    const due: { deviceId: string; installNow: boolean }[] = [];
    for (const dev of p.devices.values()) {
      if (dev.wave > dep.currentWave || !NOT_INSTALLED_STATES.includes(dev.state)) continue;
      const first = dev.instructedAt === undefined;
      const nowInstall = installNow && dev.installNow !== true;
      const stale = dev.instructedAt !== undefined && now - dev.instructedAt >= this.refreshMs;
      if (first || nowInstall || stale) due.push({ deviceId: dev.deviceId, installNow: installNow || dev.installNow === true });
    }
    return due;
  }

  /** Sends after the commit; each device's record says what it was told once the director took it. */
  private async sendInstructions(dep: Deployment, due: { deviceId: string; installNow: boolean }[], now: number): Promise<void> {
    const images: InstructedImage[] = [{
      stream: dep.stream, product: dep.product, targetName: dep.target.targetName, version: dep.version, length: dep.target.length, sha256: dep.target.sha256,
    }];
    const sent: DeviceRollout[] = [];
    for (const { deviceId, installNow } of due) {
      try {
        await this.d.instructor.instruct(deviceId, { deploymentId: dep.id, images, healthWindowSeconds: dep.policy.healthWindowSeconds, installNow });
      } catch (err) {
        // Not recorded as instructed: the next tick tries again.
        this.d.onTickError?.(err, dep.id);
        continue;
      }
      const dev = await this.d.store.getDevice(dep.id, deviceId);
      if (!dev) continue;
      dev.instructedAt = now;
      if (installNow && dev.installNow !== true) dev.installOrderedAt = now;
      dev.installNow = installNow;
      dev.updatedAt = now;
      sent.push(dev);
    }
    if (sent.length > 0) await this.d.store.saveDevices(sent);
  }

  /** The step's changes and audit events in one unit of work, if the deployment is still as the step read it. */
  private async commit(p: Pending): Promise<void> {
    await this.d.unitOfWork.run(async ({ deployments, audit }) => {
      const current = await deployments.getDeployment(p.deployment.id, { forUpdate: true });
      if (!current || JSON.stringify(current) !== p.readAs) throw new DeploymentChangedMeanwhile();
      if (!p.deploymentChanged && p.changed.size === 0 && p.audits.length === 0) return;
      if (p.deploymentChanged) await deployments.saveDeployment(p.deployment);
      if (p.changed.size > 0) await deployments.saveDevices([...p.changed].map((id) => p.devices.get(id)!));
      for (const a of p.audits) await audit.record(a);
    });
  }

  // ---------------------------------------------------------------- reads

  async get(id: string): Promise<DeploymentView> {
    return this.view(await this.require(id));
  }

  async list(filter: DeploymentFilter = {}): Promise<Deployment[]> {
    return this.d.store.deployments(filter);
  }

  async devices(id: string): Promise<DeviceRollout[]> {
    await this.require(id);
    return this.d.store.devices(id);
  }

  /**
   * For each device of the group: the version it runs on the stream against the group's target
   * (the newest running, paused or completed deployment), and whether its newest passing
   * attestation measured the target's components. After a good release reaches 100 %, nothing
   * is listed under mismatches.
   */
  async versionReport(group: string, stream: UpdateStream): Promise<VersionReport> {
    const [targetDeployment] = await this.d.store.deployments({ group, stream, states: ['running', 'paused', 'completed'], limit: 1 });
    const reports = new Map((await this.d.store.latestReports(group, stream)).map((r) => [r.deviceId, r]));
    const devices: VersionReportDevice[] = [];
    for (const deviceId of await this.d.groups.devicesInGroup(group)) {
      const evidence = await this.d.evidence.attestedSince(deviceId, 0);
      const reported = reports.get(deviceId)?.running;
      const running = reported ?? (stream === 'application' ? evidence?.swversion : undefined);
      const source = reported !== undefined ? 'status' : running !== undefined ? 'attestation' : 'unknown';
      const attested = targetDeployment !== undefined && evidence !== undefined && measuresRelease(targetDeployment, evidence.measurements);
      const entry: VersionReportDevice = { deviceId, ...(running !== undefined ? { running } : {}), source, attested, matches: true };
      if (targetDeployment) {
        if (running !== targetDeployment.version) {
          entry.matches = false;
          entry.reason = running === undefined ? `version unknown; the target is ${targetDeployment.version}` : `runs ${running}; the target is ${targetDeployment.version}`;
        } else if (!attested) {
          entry.matches = false;
          entry.reason = `reports ${running}, but no passing attestation measured the release's components`;
        }
      }
      devices.push(entry);
    }
    return {
      group, stream,
      ...(targetDeployment ? { target: { deploymentId: targetDeployment.id, version: targetDeployment.version, state: targetDeployment.state } } : {}),
      devices, mismatches: devices.filter((x) => !x.matches),
    };
  }

  // ---------------------------------------------------------------- helpers

  private async view(dep: Deployment): Promise<DeploymentView> {
    return { deployment: dep, progress: deploymentProgress(dep, await this.d.store.devices(dep.id)) };
  }

  /** The deployment; inside a unit of work (`within`) with its row held until the commit. */
  private async require(id: string, within?: DeploymentStore): Promise<Deployment> {
    const dep = within ? await within.getDeployment(id, { forUpdate: true }) : await this.d.store.getDeployment(id);
    if (!dep) throw new DeploymentError('deployment_not_found', `no deployment ${id}`, { id });
    return dep;
  }

  private async refuseIfActive(group: string, stream: UpdateStream, store: DeploymentStore = this.d.store): Promise<void> {
    const [active] = await store.deployments({ group, stream, states: ACTIVE_DEPLOYMENT_STATES, limit: 1 });
    if (active) {
      throw new DeploymentError('deployment_conflict', `deployment ${active.id} of ${active.product} ${active.version} is ${active.state} in group ${group} on the ${stream} stream; abort it or let it complete first`, {
        deploymentId: active.id,
      });
    }
  }

  private async changeState(
    id: string, actor: string, action: 'pause' | 'resume' | 'abort', from: readonly DeploymentState[], to: DeploymentState, reason: string | undefined,
  ): Promise<DeploymentView> {
    const changed = await this.d.unitOfWork.run(async ({ deployments, audit }) => {
      const dep = await this.require(id, deployments);
      if (!from.includes(dep.state)) {
        throw new DeploymentError('deployment_state', `deployment ${id} is ${dep.state}; ${action} needs it ${from.join(' or ')}`, { state: dep.state });
      }
      const now = this.clock.now();
      const why = reason?.trim() || undefined;
      const previous = dep.state;
      dep.state = to;
      dep.updatedAt = now;
      dep.lastAction = { action, by: actor, at: now, ...(why ? { reason: why } : {}) };
      if (to === 'aborted') dep.endedAt = now;
      const devices = await deployments.devices(id);
      const left = to === 'aborted' ? devices.filter((d) => NOT_INSTALLED_STATES.includes(d.state) || d.state === 'deferred') : [];
      for (const dev of left) {
        dev.reason = 'not installed: the deployment was aborted';
        dev.updatedAt = now;
      }
      await deployments.saveDeployment(dep);
      if (left.length > 0) await deployments.saveDevices(left);
      await audit.record({
        actor, action: `deployment.${action}`, target: `deployment:${id}`,
        detail: { from: previous, to, ...(why ? { reason: why } : {}), ...(to === 'aborted' ? { leftOnTheirVersion: left.length } : {}) },
      });
      return dep;
    });
    return this.view(changed);
  }

  /** Runs engine operations one after another, so a status, a tick and an action never interleave. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn, fn);
    this.queue = result.then(() => undefined, () => undefined);
    return result;
  }
}

/** Every component of the release that is the same on every device was measured with the release's digest. */
function measuresRelease(dep: Deployment, measurements: readonly { component: string; digest: string }[]): boolean {
  const required = dep.target.manifest.components.filter((c) => !isPerDeviceComponent(c.component));
  return required.every((c) => measurements.some((m) => m.component === c.component && m.digest === c.digest));
}

function setState(dev: DeviceRollout, state: UpdateState, at: number, reason?: string, sequence?: number): void {
  dev.state = state;
  if (reason !== undefined) dev.reason = reason;
  else delete dev.reason;
  dev.updatedAt = at;
  dev.history.push({ at, state, ...(reason !== undefined ? { reason } : {}), ...(sequence !== undefined ? { sequence } : {}) });
  if (dev.history.length > HISTORY_LIMIT) dev.history.splice(0, dev.history.length - HISTORY_LIMIT);
}

/** The composition root's factory; see the module comment of index.ts for the wiring. */
export function createDeploymentService(deps: DeploymentServiceDeps): DeploymentService {
  return new DeploymentService(deps);
}
