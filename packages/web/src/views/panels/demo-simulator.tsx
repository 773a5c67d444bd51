/**
 * The simulator's controls, for the demo only: open and close a panel's door and operate its
 * breakers, as a technician would at the real panel. They exist only when the server runs under
 * `shellguard demo` (GET /demo/panels answers 200, a 404 otherwise), and say so plainly, so nobody
 * mistakes them for a remote control of real equipment — Shellguard never writes to the plant.
 */
import { useEffect, useState } from 'react';
import { api, ApiError, messageOf } from '../../app/api-client.ts';
import type { DemoPanels, PanelView, Role } from '../../app/api-types.ts';
import { mayDmop } from './dmop-roles.ts';
import { breakerName, sortedBreakers } from './panel-contacts.tsx';

export type DemoSimulator = { available: false } | { available: true; site: string | undefined; panels: ReadonlySet<string> };

/** Asks once whether this server is a demo, and which panels its simulator operates. */
export function useDemoSimulator(): DemoSimulator {
  const [sim, setSim] = useState<DemoSimulator>({ available: false });
  useEffect(() => {
    const controller = new AbortController();
    api.get<DemoPanels>('/demo/panels', { signal: controller.signal }).then((body) => {
      setSim({ available: true, site: body.site, panels: new Set(Array.isArray(body.panels) ? body.panels : []) });
    }, (err: unknown) => {
      // 404: not a demo. Anything else: no controls either — they are a convenience, not a feature.
      if (!(err instanceof ApiError) || err.status !== 404) console.debug('demo simulator unavailable', err);
    });
    return () => controller.abort();
  }, []);
  return sim;
}

/** Whether to offer the controls for this panel: a simulated one, to a role the demo lets work it. */
export function simulatesPanel(sim: DemoSimulator, site: string, panel: string, role: Role | null): boolean {
  return sim.available && mayDmop(role, 'demo.simulate') && (sim.site === undefined || sim.site === site) && sim.panels.has(panel);
}

const seg = encodeURIComponent;

export interface SimulatorControlsProps {
  panel: Pick<PanelView, 'site' | 'panel' | 'door' | 'breakers'>;
  /** Called after the simulator took a change (the view re-reads at once). */
  onChanged?(): void;
  /** Small buttons and no explanation (the panel board's cards). */
  compact?: boolean;
}

export function SimulatorControls({ panel, onChanged, compact = false }: SimulatorControlsProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const base = `/demo/panels/${seg(panel.site)}/${seg(panel.panel)}`;
  const send = async (path: string, body: Record<string, boolean>) => {
    setBusy(true);
    setError(null);
    try {
      await api.post(path, body);
      onChanged?.();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  const doorOpen = panel.door === true;
  const breakers = sortedBreakers(panel.breakers);
  return (
    <fieldset className={`dmop-sim${compact ? ' compact' : ''}`} data-testid="sim-controls" data-panel={panel.panel}>
      <legend>Simulator (demo only): {panel.panel}</legend>
      <div className="sim-buttons">
        <button type="button" className={compact ? 'small' : undefined} disabled={busy} data-testid="sim-door" data-open={String(doorOpen)}
          onClick={() => void send(`${base}/door`, { open: !doorOpen })}>
          {doorOpen ? 'Close the door' : 'Open the door'}
        </button>
        {breakers.map(([point, closed]) => (
          <button key={point} type="button" className={compact ? 'small' : undefined} disabled={busy} data-testid="sim-breaker" data-point={point} data-closed={String(closed)}
            onClick={() => void send(`${base}/breakers/${seg(point)}`, { closed: !closed })}>
            {closed ? `Open ${breakerName(point)}` : `Close ${breakerName(point)}`}
          </button>
        ))}
      </div>
      {compact ? null : <p className="muted">Acts on the simulated panel only, the way a person at the panel would; the server judges it like any real change.</p>}
      {error ? <p className="form-error" role="alert">{error}</p> : null}
    </fieldset>
  );
}
