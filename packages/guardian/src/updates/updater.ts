/**
 * The guardian's updater: acts on the director's signed instructions, installs genuine images
 * into the inactive A/B slot, restarts into them, and commits or rolls back by itself.
 *
 * Trust (Uptane's split): the director's instruction says *what this device should run*; the
 * image repository (TUF, offline-signed targets) says *what is genuine*. An image is installed only
 * when the instruction verifies against the site PKI, it is newer than any instruction seen, the
 * TUF client finds the named target with the same length and hash, and the bundle's own signed
 * manifest names the same product, stream and version and fits this device's platform. Never older
 * than what runs (rollback protection on top of TUF's metadata rollback checks).
 *
 * Phases of an install, each safe to interrupt (kill -9) — see slots.ts for why:
 *   verified -> downloading -> downloaded -> unpacking -> unpacked -> trial-begun -> restart
 *   -> (boot) trial -> healthy: commit | unhealthy: roll back
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import {
  DIRECTOR_CERT_NAME, ShellguardError, errorMessage, verifyDirectorInstruction, type BundleManifest, type DirectorInstruction, type InstructedImage,
  type UpdateState, type UpdateStatus, type UpdateStream,
} from '@shellguard/protocol';
import { writeFileAtomically } from '../attestation/boot-counter.ts';
import type { SlotStore } from './slots.ts';

export class UpdateRefused extends ShellguardError {}

/** Where genuine images come from: the TUF client over the server's image repositories. */
export interface ImageSource {
  /**
   * Refreshes the image repository of (image.product, image.stream) and downloads the named target
   * to `destFile`, verified against TUF metadata; throws when it is not a genuine target or its
   * length or hash differs from the instruction's. Returns the target's signed manifest.
   */
  fetchVerified(image: InstructedImage, destFile: string): Promise<BundleManifest>;
}

/** Unpacks a downloaded bundle into a fresh folder and returns the manifest inside it. */
export type BundleUnpacker = (archiveFile: string, dir: string) => Promise<BundleManifest>;

export type UpdatePhase = 'verified' | 'downloading' | 'downloaded' | 'unpacking' | 'unpacked' | 'trial-begun' | 'health-check' | 'committed' | 'rolled-back';

export interface HealthProbe {
  /**
   * Resolves when the running software has re-attested with its new measurements and the server
   * has stored telemetry it sent, or rejects with the reason it could not before `deadline`.
   */
  (deadline: number): Promise<void>;
}

export interface UpdaterOptions {
  deviceId: string;
  slots: SlotStore;
  images: ImageSource;
  unpack: BundleUnpacker;
  /** The site root (PEM) the director's certificate must chain to. */
  rootCaPem: string;
  /** Where downloads are staged and the last instruction sequence is kept. */
  workDir: string;
  /** This device's platform (e.g. linux-x64) and Node ABI: a platform image must match them. */
  platform: { platform: string; nodeAbi: string };
  report: (status: Omit<UpdateStatus, 'v'>) => void;
  /** Ask to be restarted into the trial slot (the process exits; systemd or the test starts it again). */
  restart: (reason: string) => void;
  now?: () => number;
  logger: Logger;
  /** Called as each phase is reached (progress for the log; tests kill the process here). */
  onPhase?: (phase: UpdatePhase, stream: UpdateStream) => void | Promise<void>;
}

const SEQUENCE_FILE = 'director-sequence.json';
/** Errors that say nothing against the image: the network, the disk. */
const RETRYABLE_CODES: ReadonlySet<string> = new Set(['update_failed', 'fetch_failed', 'not_found', 'disk_full']);
const CERT_CN_DIRECTOR = /CN=([^\n,]+)/;

/** Semantic version order (major.minor.patch, pre-release lower than release). */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string): [number[], string | undefined] => {
    const [core = '', pre] = v.split('-', 2) as [string, string | undefined];
    return [core.split('.').map((n) => Number(n)), pre];
  };
  const [ca, pa] = parse(a);
  const [cb, pb] = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (ca[i] ?? 0) - (cb[i] ?? 0);
    if (d !== 0) return d;
  }
  if (pa === pb) return 0;
  if (pa === undefined) return 1;
  if (pb === undefined) return -1;
  return pa < pb ? -1 : 1;
}

/**
 * Checks the director's chain against the site root: each certificate signed by the next, the
 * last by the root, all valid now. Returns the leaf's key.
 */
export function directorKeyFromChain(rootCaPem: string, now: () => number): (chain: X509Certificate[]) => KeyObject {
  const root = new X509Certificate(rootCaPem);
  return (chain) => {
    const at = new Date(now());
    const all = [...chain, root];
    for (let i = 0; i < chain.length; i++) {
      const cert = all[i] as X509Certificate;
      const issuer = all[i + 1] as X509Certificate;
      if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) {
        throw new UpdateRefused('director_untrusted', 'the director\'s certificate does not chain to the site root');
      }
      if (new Date(cert.validFrom) > at || new Date(cert.validTo) < at) {
        throw new UpdateRefused('director_untrusted', `the director's certificate ${CERT_CN_DIRECTOR.exec(cert.subject)?.[1] ?? ''} is not valid now`);
      }
    }
    if (chain.slice(1).some((c) => !c.ca)) throw new UpdateRefused('director_untrusted', 'a certificate above the director\'s is not a CA');
    // Certified for this purpose only: the server's TLS certificate cannot sign instructions.
    if ((chain[0] as X509Certificate).checkHost(DIRECTOR_CERT_NAME, { wildcards: false }) === undefined) {
      throw new UpdateRefused('director_untrusted', `the signing certificate is not issued to ${DIRECTOR_CERT_NAME}`);
    }
    return (chain[0] as X509Certificate).publicKey;
  };
}

export class Updater {
  private readonly now: () => number;
  private busy: Promise<void> = Promise.resolve();
  private readonly directorKey: (chain: X509Certificate[]) => KeyObject;

  constructor(private readonly opts: UpdaterOptions) {
    this.now = opts.now ?? Date.now;
    this.directorKey = directorKeyFromChain(opts.rootCaPem, this.now);
    mkdirSync(opts.workDir, { recursive: true, mode: 0o700 });
  }

  /** The version each stream runs now (its active slot). */
  running(stream: UpdateStream): string {
    const s = this.opts.slots.read().streams[stream];
    return s.versions?.[s.active] ?? '0.0.0';
  }

  /** Instructions are handled one at a time, in arrival order. */
  onInstruction(bytes: Uint8Array): Promise<void> {
    const next = this.busy.then(() => this.handle(bytes));
    this.busy = next.catch(() => undefined);
    return next;
  }

  private lastSequence(): number {
    try {
      return (JSON.parse(readFileSync(path.join(this.opts.workDir, SEQUENCE_FILE), 'utf8')) as { sequence: number }).sequence;
    } catch {
      return 0;
    }
  }

  private status(instr: Pick<DirectorInstruction, 'deploymentId' | 'sequence'>, stream: UpdateStream, state: UpdateState, target: string, reason?: string): void {
    this.opts.report({
      deploymentId: instr.deploymentId, sequence: instr.sequence, state, running: this.running(stream), target, at: this.now(),
      ...(reason !== undefined ? { reason } : {}),
    });
  }

  private async handle(bytes: Uint8Array): Promise<void> {
    const log = this.opts.logger;
    let instr: DirectorInstruction;
    try {
      instr = verifyDirectorInstruction(bytes, this.directorKey);
    } catch (err) {
      // Nothing in an unverified message can be trusted, not even its deployment id to report on.
      log.warn({ err: errorMessage(err) }, 'update instruction refused: not signed by the site\'s director');
      return;
    }
    if (instr.deviceId !== this.opts.deviceId) {
      log.warn({ for: instr.deviceId }, 'update instruction refused: it is for another device');
      return;
    }
    const last = this.lastSequence();
    if (instr.sequence < last) {
      log.warn({ sequence: instr.sequence, last }, 'update instruction refused: older than one already seen (replay)');
      return;
    }
    const replay = instr.sequence === last;
    if (instr.expiresAt < this.now()) {
      for (const image of instr.images) this.status(instr, image.stream, 'refused', image.version, 'instruction expired before it arrived');
      return;
    }
    if (!replay) writeFileAtomically(path.join(this.opts.workDir, SEQUENCE_FILE), JSON.stringify({ sequence: instr.sequence }));
    for (const image of instr.images) {
      try {
        await this.apply(instr, image);
      } catch (err) {
        const code = err instanceof ShellguardError ? err.code : 'update_failed';
        log.warn({ err: errorMessage(err), code, stream: image.stream, version: image.version }, 'update not installed; still on the committed release');
        // Refused: the image is not genuine, not newer, or not for this device. Failed: it could not be fetched or written (worth retrying).
        const state = RETRYABLE_CODES.has(code) ? 'failed' : 'refused';
        this.status(instr, image.stream, state, image.version, `${code}: ${errorMessage(err)}`);
        this.opts.slots.clearInactive(image.stream);
      }
    }
  }

  private async phase(p: UpdatePhase, stream: UpdateStream): Promise<void> {
    this.opts.logger.info({ phase: p, stream }, 'update phase');
    await this.opts.onPhase?.(p, stream);
  }

  private async apply(instr: DirectorInstruction, image: InstructedImage): Promise<void> {
    const { slots } = this.opts;
    const stream = image.stream;
    const state = slots.read().streams[stream];
    const running = this.running(stream);
    if (state.trial !== null) {
      // Already trying this very release (a re-sent instruction after the restart): nothing to do.
      if (state.trialInfo?.version === image.version) return;
      throw new UpdateRefused('trial_in_progress', `still trying ${state.trialInfo?.version ?? 'a release'} on the ${stream} stream`);
    }
    const cmp = compareVersions(image.version, running);
    if (cmp === 0) {
      this.status(instr, stream, state.lastRollback?.version === image.version ? 'rolled_back' : 'healthy', image.version, state.lastRollback?.version === image.version ? state.lastRollback.reason : undefined);
      return;
    }
    if (cmp < 0) throw new UpdateRefused('older_version', `instructed ${image.version} is older than the running ${running}; downgrades are refused`);
    if (state.lastRollback?.version === image.version) {
      // The device already tried this release and it failed here: say so again, do not loop.
      this.status(instr, stream, 'rolled_back', image.version, state.lastRollback.reason);
      return;
    }
    await this.phase('verified', stream);
    const staged = path.join(this.opts.workDir, `${stream}-${image.sha256}.bundle`);
    if (!existsSync(staged)) {
      this.status(instr, stream, 'downloading', image.version);
      await this.phase('downloading', stream);
      const manifest = await this.opts.images.fetchVerified(image, staged);
      this.checkManifest(manifest, image);
    }
    await this.phase('downloaded', stream);
    if (!instr.installNow) {
      this.status(instr, stream, 'downloaded', image.version, 'waiting for a maintenance window to install');
      return;
    }
    const { slot, dir } = slots.installTarget(stream);
    slots.clearInactive(stream);
    const partial = `${dir}.partial`;
    mkdirSync(path.dirname(dir), { recursive: true, mode: 0o755 });
    await this.phase('unpacking', stream);
    const manifest = await this.opts.unpack(staged, partial);
    this.checkManifest(manifest, image);
    renameSync(partial, dir);
    await this.phase('unpacked', stream);
    const at = this.now();
    slots.beginTrial(stream, slot, {
      deploymentId: instr.deploymentId, sequence: instr.sequence, version: image.version, fromVersion: running,
      startedAt: at, healthDeadline: at + instr.healthWindowSeconds * 1000,
    });
    rmSync(staged, { force: true });
    this.status(instr, stream, 'installed', image.version);
    await this.phase('trial-begun', stream);
    this.opts.restart(`installed ${stream} ${image.version} in slot ${slot}`);
  }

  private checkManifest(m: BundleManifest, image: InstructedImage): void {
    if (m.product !== image.product || m.stream !== image.stream || m.version !== image.version) {
      throw new UpdateRefused('manifest_mismatch', `the bundle says it is ${m.product} ${m.stream} ${m.version}, the instruction ${image.product} ${image.stream} ${image.version}`);
    }
    if (image.stream === 'platform' && (m.platform !== this.opts.platform.platform || m.nodeAbi !== this.opts.platform.nodeAbi)) {
      throw new UpdateRefused('platform_mismatch', `the platform bundle is built for ${m.platform} (Node ABI ${m.nodeAbi}); this device is ${this.opts.platform.platform} (ABI ${this.opts.platform.nodeAbi})`);
    }
  }

  /**
   * After a start: report a rollback the launcher did, and health-check a trial. Healthy within the
   * window: commit. Otherwise: roll back to the committed slot, say why, and restart into it.
   */
  async afterBoot(probe: HealthProbe): Promise<void> {
    const { slots } = this.opts;
    for (const stream of ['platform', 'application'] as const) {
      const s = slots.read().streams[stream];
      if (s.trial === null) {
        const rb = s.lastRollback;
        if (rb && rb.deploymentId !== undefined && rb.sequence !== undefined) {
          this.opts.report({ deploymentId: rb.deploymentId, sequence: rb.sequence, state: 'rolled_back', running: this.running(stream), target: rb.version, reason: rb.reason, at: this.now() });
        }
        continue;
      }
      const info = s.trialInfo;
      if (!info) {
        slots.rollBack(stream, 'trial without a record of what was installed', this.now());
        this.opts.restart('rolled back an unrecorded trial');
        return;
      }
      await this.phase('health-check', stream);
      try {
        await probe(info.healthDeadline);
      } catch (err) {
        const reason = `health check failed: ${errorMessage(err)}`;
        slots.rollBack(stream, reason, this.now());
        this.opts.report({ deploymentId: info.deploymentId, sequence: info.sequence, state: 'rolled_back', running: info.fromVersion, target: info.version, reason, at: this.now() });
        await this.phase('rolled-back', stream);
        this.opts.restart(`rolled back ${stream} ${info.version}: ${reason}`);
        return;
      }
      // The other slot keeps the previous release until the next install overwrites it.
      slots.commitTrial(stream);
      this.opts.report({ deploymentId: info.deploymentId, sequence: info.sequence, state: 'healthy', running: info.version, target: info.version, at: this.now() });
      await this.phase('committed', stream);
    }
  }
}
