/**
 * A guardian's panel controller (issue 10): one per configured panel. It reads the panel's door
 * contact and breakers from the equipment's fast path, drives the panel's signal tower through
 * the guardian's one output path (outputs/: only the configured tower), and shows what the
 * server decides — released, step n, deviation, stop, complete.
 *
 * It also decides one thing on its own, so the bumpers hold without the server: a door opened or
 * a breaker operated while no released work order covers this panel (as the server last said)
 * sounds the klaxon at once (`intrusion`), whether or not the server is reachable. That alarm is
 * latched: closing the door does not silence it. Only the server clears it (`clearLocal`), after a
 * person silenced it with a reason or released work for this panel.
 */
import type { Logger } from 'pino';
import { errorMessage, type AndonInstruction, type AndonState, type Sample } from '@shellguard/protocol';

/** The part of a tower client the controller uses (outputs/PnsTowerClient). */
export interface AndonTower {
  setAndon(state: AndonState): Promise<void>;
}

export interface PanelControllerOptions {
  panel: string;
  tower: AndonTower;
  logger: Logger;
  now?: () => number;
}

export interface LocalAlarm {
  at: number;
  reason: 'door-opened-uncovered' | 'breaker-operated-uncovered';
  point: string;
}

export interface PanelControllerState {
  panel: string;
  shown: AndonState;
  doorOpen: boolean | null;
  /** The last instruction from the server, if any since start. */
  instruction: AndonInstruction | null;
  localAlarm: LocalAlarm | null;
  towerErrors: number;
}

const DOOR = 'door_open';
const isBreaker = (point: string) => /^(main_)?breaker(_\d+)?_closed$/.test(point);

export class PanelController {
  readonly panel: string;
  private readonly tower: AndonTower;
  private readonly logger: Logger;
  private readonly now: () => number;
  private instruction: AndonInstruction | null = null;
  private localAlarm: LocalAlarm | null = null;
  private readonly last = new Map<string, Sample['value']>();
  private shown: AndonState | null = null;
  private sending: Promise<void> = Promise.resolve();
  private towerErrors = 0;

  constructor(opts: PanelControllerOptions) {
    this.panel = opts.panel;
    this.tower = opts.tower;
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
  }

  /** Shows the start state (idle, or the klaxon if the door is found open uncovered). */
  start(): void {
    this.apply();
  }

  /** What the server decided for this panel. Older instructions than the last applied are ignored. */
  onInstruction(i: AndonInstruction): void {
    if (i.panel !== this.panel) return;
    if (this.instruction && i.seq <= this.instruction.seq && i.at <= this.instruction.at) return;
    this.instruction = i;
    if (this.localAlarm && (i.clearLocal === true)) {
      this.logger.info({ panel: this.panel, since: this.localAlarm.at }, 'local klaxon cleared by the server');
      this.localAlarm = null;
    }
    this.apply();
  }

  /** Samples read from the panel (every poll, fast or slow): edges of the door and breakers. */
  onSamples(samples: readonly Sample[]): void {
    for (const s of samples) {
      if (s.value === null || typeof s.value !== 'boolean') continue;
      const before = this.last.get(s.point);
      this.last.set(s.point, s.value);
      if (before === undefined || before === s.value) {
        // The first reading: a door found open at start with nothing covering it is an alarm too.
        if (before === undefined && s.point === DOOR && s.value && !this.covered()) this.raise('door-opened-uncovered', s.point);
        continue;
      }
      if (s.point === DOOR && s.value && !this.covered()) this.raise('door-opened-uncovered', s.point);
      else if (isBreaker(s.point) && !this.covered()) this.raise('breaker-operated-uncovered', s.point);
    }
  }

  state(): PanelControllerState {
    const door = this.last.get(DOOR);
    return {
      panel: this.panel, shown: this.shown ?? 'idle', doorOpen: typeof door === 'boolean' ? door : null,
      instruction: this.instruction, localAlarm: this.localAlarm, towerErrors: this.towerErrors,
    };
  }

  /** Sends the current state again (a tower that restarted shows it within one refresh). */
  refresh(): void {
    this.shown = null;
    this.apply();
  }

  private covered(): boolean {
    return this.instruction?.covered === true;
  }

  private raise(reason: LocalAlarm['reason'], point: string): void {
    if (this.localAlarm) return;
    this.localAlarm = { at: this.now(), reason, point };
    this.logger.warn({ panel: this.panel, reason, point }, 'no released work order covers this panel: klaxon on');
    this.apply();
  }

  private desired(): AndonState {
    if (this.localAlarm) return 'intrusion';
    return this.instruction?.state ?? 'idle';
  }

  private apply(): void {
    const state = this.desired();
    if (state === this.shown) return;
    this.shown = state;
    // One command at a time, in order; the tower client coalesces a backlog to the newest.
    this.sending = this.sending.then(() => this.tower.setAndon(state)).catch((err: unknown) => {
      this.towerErrors++;
      // Shown again on the next refresh or change.
      if (this.shown === state) this.shown = null;
      this.logger.error({ panel: this.panel, state, err: errorMessage(err) }, 'could not set the signal tower');
    });
  }
}
