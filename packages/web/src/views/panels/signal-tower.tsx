/**
 * A panel's signal tower as drawn on the dashboard: five lamps (red, amber, green, blue, white,
 * top to bottom) lit or flashing as the real tower is told to, the klaxon when it sounds, and the
 * state in words beside it — never colour alone (WCAG 1.4.1). Flashing is a CSS animation that
 * stops under prefers-reduced-motion; a flashing lamp is then drawn with a ring and says "flashing".
 */
import type { PanelSignal } from '../../app/api-types.ts';
import { andonLook, andonMeaning, sounding, TOWER_LAMPS, type TowerLamp } from './andon.ts';
import './dmop.css';

const LAMP_WORD: Record<TowerLamp, string> = { off: 'off', on: 'on', 'flash-1': 'flashing', 'flash-2': 'flashing fast' };

export interface SignalTowerProps {
  signal: PanelSignal;
  /** The panel's name, for the picture's text alternative. */
  panel: string;
  size?: 'small' | 'large';
  /** Shows the meaning under the label (the technician's view). */
  explain?: boolean;
}

export function SignalTower({ signal, panel, size = 'small', explain = false }: SignalTowerProps) {
  const lamps = andonLook(signal.state);
  const meaning = andonMeaning(signal.state);
  const lit = TOWER_LAMPS.filter((c) => lamps[c] !== 'off').map((c) => `${c} ${LAMP_WORD[lamps[c]]}`);
  const klaxon = sounding(lamps);
  const description = `Signal tower of ${panel}: ${meaning.label}. ${lit.length > 0 ? `Lamps: ${lit.join(', ')}` : 'All lamps off'}${klaxon ? '; klaxon sounding' : ''}.`;
  const data = Object.fromEntries(TOWER_LAMPS.map((c) => [`data-${c}`, lamps[c]]));
  return (
    <div className={`signal-tower tower-${size} tower-tone-${meaning.tone}`} data-testid="signal-tower" data-panel={panel} data-state={signal.state} data-buzzer={lamps.buzzer} {...data}>
      <div className="tower-graphic" role="img" aria-label={description}>
        {TOWER_LAMPS.map((c) => <span key={c} className={`tower-lamp lamp-${c} lamp-${lamps[c]}`} />)}
        <span className="tower-pole" />
        <span className="tower-base" />
      </div>
      <div className="tower-text">
        <strong className="tower-label" data-testid="signal-tower-label">{meaning.label}</strong>
        {klaxon ? <span className="tower-klaxon" data-testid="signal-tower-klaxon"><span aria-hidden="true">♫ </span>Klaxon sounding</span> : null}
        {explain ? <span className="tower-meaning">{meaning.meaning}</span> : null}
        <span className="tower-lamps muted">{lit.length > 0 ? lit.join(', ') : 'all lamps off'}</span>
      </div>
    </div>
  );
}
