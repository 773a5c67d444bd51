/**
 * What each Andon state looks like on a panel's signal tower, and what it means in words.
 *
 * The lamps are a copy of protocol `pns.ts` ANDON_COMMANDS (the web package speaks only the API
 * and never compiles against server or protocol code); `andon.test.ts` checks the copy agrees,
 * and the DMOP browser test compares the drawn tower with the virtual tower's own state.
 */
import { ANDON_STATES, type AndonState } from '../../app/api-types.ts';
import type { Tone } from '../../app/components/badges.tsx';

/** Top to bottom, as on a Patlite LA6 / NHL tower. */
export const TOWER_LAMPS = ['red', 'amber', 'green', 'blue', 'white'] as const;
export type TowerLampColour = (typeof TOWER_LAMPS)[number];
export type TowerLamp = 'off' | 'on' | 'flash-1' | 'flash-2';
export type TowerBuzzer = 'stop' | 'pattern-1' | 'pattern-2' | 'pattern-3' | 'pattern-4';
export type TowerLook = Record<TowerLampColour, TowerLamp> & { buzzer: TowerBuzzer };

const look = (lit: Partial<TowerLook>): TowerLook => ({ red: 'off', amber: 'off', green: 'off', blue: 'off', white: 'off', buzzer: 'stop', ...lit });

export const ANDON_LOOK: Readonly<Record<AndonState, TowerLook>> = {
  idle: look({}),
  released: look({ blue: 'on' }),
  'in-progress': look({ blue: 'on', amber: 'flash-1' }),
  'step-done': look({ blue: 'on', green: 'on' }),
  deviation: look({ red: 'flash-1', buzzer: 'pattern-1' }),
  stop: look({ red: 'on', white: 'on' }),
  complete: look({ green: 'flash-2' }),
  intrusion: look({ red: 'flash-2', buzzer: 'pattern-2' }),
};

interface AndonMeaning {
  label: string;
  /** What a person at the panel should do or know. */
  meaning: string;
  tone: Tone;
}

export const ANDON_MEANING: Readonly<Record<AndonState, AndonMeaning>> = {
  idle: { label: 'Idle', meaning: 'No work order on this panel: do not open it.', tone: 'idle' },
  released: { label: 'Released', meaning: 'Work is released to this panel.', tone: 'ok' },
  'in-progress': { label: 'In progress', meaning: 'A step is being worked here.', tone: 'warn' },
  'step-done': { label: 'Step done', meaning: 'The step is done: go on to the next.', tone: 'ok' },
  deviation: { label: 'Deviation', meaning: 'Off procedure: stop and wait for a manager.', tone: 'bad' },
  stop: { label: 'Site stopped', meaning: 'Stop work and wait for the supervisor.', tone: 'bad' },
  complete: { label: 'Complete', meaning: 'The work order is complete.', tone: 'ok' },
  intrusion: { label: 'Intrusion', meaning: 'Opened or operated with no released work order.', tone: 'bad' },
};

export function isAndonState(value: unknown): value is AndonState {
  return typeof value === 'string' && (ANDON_STATES as readonly string[]).includes(value);
}

/** A state the server names but this build does not know is shown as unknown, all lamps off. */
export function andonLook(state: string): TowerLook {
  return isAndonState(state) ? ANDON_LOOK[state] : look({});
}

export function andonMeaning(state: string): AndonMeaning {
  return isAndonState(state) ? ANDON_MEANING[state] : { label: `Unknown (${state})`, meaning: 'This dashboard does not know this tower state.', tone: 'idle' };
}

export function sounding(l: TowerLook): boolean {
  return l.buzzer !== 'stop';
}
