/**
 * A/B slots (Mender, Azure Sphere, Android A/B): each stream (platform, application) has two
 * install folders; one is *committed* (known good), a new release goes into the other and is
 * booted as a *trial*. The whole decision lives in one small state file replaced atomically
 * (write, fsync, rename), so a power cut or kill -9 at any instant leaves either the old state or
 * the new one — never a half-written slot that boots:
 *
 *   install:  write slot X (never the active or committed one)  ->  state: trial = X, active = X
 *   boot:     trial set?  bootAttempts + 1; over the limit or past its health deadline -> back to committed
 *   healthy:  state: committed = X, trial = null
 *   failed:   state: active = committed, trial = null, lastRollback = why
 *
 * The format is shared with deploy/guardian/install.sh, which writes the initial state.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ShellguardError, UPDATE_STREAMS, type UpdateStream } from '@shellguard/protocol';

export type SlotName = 'a' | 'b';

export interface TrialInfo {
  deploymentId: string;
  sequence: number;
  version: string;
  /** The version the committed slot runs: where a rollback returns to. */
  fromVersion: string;
  startedAt: number;
  /** After this (epoch ms) a trial that has not been committed is rolled back. */
  healthDeadline: number;
}

export interface StreamSlots {
  active: SlotName;
  committed: SlotName;
  trial: SlotName | null;
  /** Boots of the trial slot so far; a trial that keeps crashing is abandoned. */
  bootAttempts: number;
  /** Version installed in each slot, when known. */
  versions?: Partial<Record<SlotName, string>>;
  trialInfo?: TrialInfo;
  lastRollback?: { version: string; reason: string; at: number; deploymentId?: string; sequence?: number };
}

export interface SlotState {
  v: 1;
  streams: Record<UpdateStream, StreamSlots>;
}

export const SLOT_STATE_FILE = 'slots.json';
/** A trial that has crashed this many times before committing goes back to its committed slot. */
export const MAX_TRIAL_BOOTS = 3;

export class SlotError extends ShellguardError {}

export function initialSlotState(versions?: Partial<Record<UpdateStream, string>>): SlotState {
  const stream = (s: UpdateStream): StreamSlots => ({
    active: 'a', committed: 'a', trial: null, bootAttempts: 0, ...(versions?.[s] ? { versions: { a: versions[s] } } : {}),
  });
  return { v: 1, streams: { application: stream('application'), platform: stream('platform') } };
}

export const otherSlot = (s: SlotName): SlotName => (s === 'a' ? 'b' : 'a');

function isSlot(x: unknown): x is SlotName {
  return x === 'a' || x === 'b';
}

function parseStream(x: unknown, name: string): StreamSlots {
  if (typeof x !== 'object' || x === null) throw new SlotError('slot_state_invalid', `slot state for ${name} is missing`);
  const o = x as Record<string, unknown>;
  if (!isSlot(o.active) || !isSlot(o.committed) || !(o.trial === null || isSlot(o.trial)) || typeof o.bootAttempts !== 'number') {
    throw new SlotError('slot_state_invalid', `slot state for ${name} needs active, committed (a or b), trial (a, b or null) and bootAttempts`);
  }
  return o as unknown as StreamSlots;
}

export function parseSlotState(text: string): SlotState {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new SlotError('slot_state_invalid', 'slot state is not valid JSON');
  }
  if (typeof o !== 'object' || o === null || o.v !== 1 || typeof o.streams !== 'object' || o.streams === null) {
    throw new SlotError('slot_state_invalid', 'slot state must be {"v":1,"streams":{...}}');
  }
  const streams = o.streams as Record<string, unknown>;
  return { v: 1, streams: { application: parseStream(streams.application, 'application'), platform: parseStream(streams.platform, 'platform') } };
}

/** Write, fsync, rename, fsync the folder: the state is the old one or the new one after any crash. */
function replaceFile(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/**
 * The slot state of one installation: `<stateDir>/slots.json` and the slot folders
 * `<slotsDir>/<stream-prefix>-<a|b>` (app-a, app-b, platform-a, platform-b).
 */
export class SlotStore {
  readonly stateFile: string;

  constructor(readonly stateDir: string, readonly slotsDir: string) {
    this.stateFile = path.join(stateDir, SLOT_STATE_FILE);
  }

  static prefix(stream: UpdateStream): string {
    return stream === 'application' ? 'app' : 'platform';
  }

  slotDir(stream: UpdateStream, slot: SlotName): string {
    return path.join(this.slotsDir, `${SlotStore.prefix(stream)}-${slot}`);
  }

  /** The state; a missing file is a fresh installation on slot a. */
  read(): SlotState {
    if (!existsSync(this.stateFile)) return initialSlotState();
    return parseSlotState(readFileSync(this.stateFile, 'utf8'));
  }

  write(state: SlotState): void {
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    replaceFile(this.stateFile, `${JSON.stringify(state)}\n`);
  }

  /** Applies a change to one stream atomically and returns the new state. */
  update(stream: UpdateStream, change: (s: StreamSlots) => StreamSlots): SlotState {
    const state = this.read();
    const next: SlotState = { v: 1, streams: { ...state.streams, [stream]: change(state.streams[stream]) } };
    this.write(next);
    return next;
  }

  /** The slot a new release may be written to: never the active nor the committed one. */
  installTarget(stream: UpdateStream): { slot: SlotName; dir: string } {
    const s = this.read().streams[stream];
    if (s.trial !== null) throw new SlotError('trial_in_progress', `the ${stream} stream is already trying slot ${s.trial}; it must commit or roll back first`);
    const slot = otherSlot(s.committed);
    return { slot, dir: this.slotDir(stream, slot) };
  }

  /** Removes what an interrupted install may have left in the inactive slot. */
  clearInactive(stream: UpdateStream): void {
    const s = this.read().streams[stream];
    if (s.trial !== null) return;
    const slot = otherSlot(s.committed);
    rmSync(this.slotDir(stream, slot), { recursive: true, force: true });
    rmSync(`${this.slotDir(stream, slot)}.partial`, { recursive: true, force: true });
  }

  /** The commit point of an install: from the next boot on, the trial slot runs. */
  beginTrial(stream: UpdateStream, slot: SlotName, info: TrialInfo): SlotState {
    return this.update(stream, (s) => {
      if (slot === s.committed) throw new SlotError('slot_is_committed', `slot ${slot} holds the committed ${stream} release`);
      return { ...s, active: slot, trial: slot, bootAttempts: 0, trialInfo: info, versions: { ...s.versions, [slot]: info.version } };
    });
  }

  commitTrial(stream: UpdateStream): SlotState {
    return this.update(stream, (s) => {
      if (s.trial === null) return s;
      const { trialInfo: _done, ...rest } = s;
      return { ...rest, committed: s.trial, active: s.trial, trial: null, bootAttempts: 0 };
    });
  }

  rollBack(stream: UpdateStream, reason: string, at: number): SlotState {
    return this.update(stream, (s) => {
      if (s.trial === null) return s;
      const { trialInfo, ...rest } = s;
      return {
        ...rest, active: s.committed, trial: null, bootAttempts: 0,
        lastRollback: {
          version: trialInfo?.version ?? s.versions?.[s.trial] ?? 'unknown', reason, at,
          ...(trialInfo ? { deploymentId: trialInfo.deploymentId, sequence: trialInfo.sequence } : {}),
        },
      };
    });
  }

  /**
   * What the launcher does at every start, before any guardian code loads: counts a trial boot,
   * and abandons a trial that has crashed too often or outlived its health window.
   * Returns the slots to run.
   */
  bootSelect(at: number): { state: SlotState; rolledBack: UpdateStream[] } {
    const rolledBack: UpdateStream[] = [];
    for (const stream of UPDATE_STREAMS) {
      const s = this.read().streams[stream];
      if (s.trial === null) continue;
      if (s.bootAttempts + 1 > MAX_TRIAL_BOOTS) {
        this.rollBack(stream, `the new ${stream} release did not start: ${s.bootAttempts} boots without passing its health check`, at);
        rolledBack.push(stream);
      } else if (s.trialInfo && at > s.trialInfo.healthDeadline) {
        this.rollBack(stream, 'health window expired before the new release re-attested and streamed telemetry', at);
        rolledBack.push(stream);
      } else {
        this.update(stream, (x) => ({ ...x, bootAttempts: x.bootAttempts + 1 }));
      }
    }
    return { state: this.read(), rolledBack };
  }
}
