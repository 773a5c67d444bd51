/** A panel's door and breakers in words and shapes (an open door is worth noticing; a breaker says on or off). */
import { StatusBadge } from '../../app/components/badges.tsx';

/** "main breaker", "breaker 1" from main_breaker_closed, breaker_1_closed. */
export function breakerName(point: string): string {
  return point.replace(/_closed$/, '').replace(/_/g, ' ');
}

export function DoorBadge({ open }: { open: boolean | null }) {
  if (open === null) return <span data-testid="panel-door" data-open="unknown"><StatusBadge tone="idle" label="Door not reported yet" /></span>;
  return (
    <span data-testid="panel-door" data-open={String(open)}>
      <StatusBadge tone={open ? 'warn' : 'ok'} label={open ? 'Door open' : 'Door closed'} />
    </span>
  );
}

export function BreakerBadge({ point, closed }: { point: string; closed: boolean }) {
  return (
    <span data-testid="panel-breaker" data-point={point} data-closed={String(closed)}>
      <StatusBadge tone={closed ? 'ok' : 'idle'} label={`${breakerName(point)} ${closed ? 'closed (on)' : 'open (off)'}`} />
    </span>
  );
}

/** Main breaker first, then the branches in number order. */
export function sortedBreakers(breakers: Record<string, boolean>): [string, boolean][] {
  return Object.entries(breakers).sort(([a], [b]) => {
    if (a.startsWith('main') !== b.startsWith('main')) return a.startsWith('main') ? -1 : 1;
    return a.localeCompare(b, undefined, { numeric: true });
  });
}

/**
 * Every breaker, or with `summarise` the main breaker, the open ones and a count of the closed
 * rest (the panel board's cards: what is unusual stands out).
 */
export function BreakerList({ breakers, summarise = false }: { breakers: Record<string, boolean>; summarise?: boolean }) {
  const list = sortedBreakers(breakers);
  if (list.length === 0) return <span className="muted">no breakers reported</span>;
  const shown = summarise ? list.filter(([point, closed]) => point.startsWith('main') || !closed) : list;
  const rest = list.length - shown.length;
  return (
    <ul className="contact-list" aria-label="Breakers">
      {shown.map(([point, closed]) => <li key={point}><BreakerBadge point={point} closed={closed} /></li>)}
      {rest > 0 ? <li className="muted fine" data-testid="panel-breakers-closed-rest">{shown.length > 1 ? `the other ${rest}` : `all ${rest} branch breakers`} closed (on)</li> : null}
    </ul>
  );
}
