/**
 * What the alarm console shows and in which order, as plain functions of the alarm list (no React),
 * so a list of thousands is filtered, sorted and counted once per store version.
 */
import { ALARM_PRIORITIES, type Alarm, type AlarmEvent, type AlarmPriority } from '../../app/api-types.ts';

export const ALARM_FILTERS = ['attention', 'all', 'unacknowledged', 'active', 'shelved', 'out-of-service'] as const;
export type AlarmFilter = (typeof ALARM_FILTERS)[number];

export const FILTER_LABEL: Record<AlarmFilter, string> = {
  attention: 'Needs attention',
  all: 'All',
  unacknowledged: 'Unacknowledged',
  active: 'Active',
  shelved: 'Shelved',
  'out-of-service': 'Out of service',
};

export function parseFilter(value: string | null): AlarmFilter {
  return (ALARM_FILTERS as readonly string[]).includes(value ?? '') ? (value as AlarmFilter) : 'attention';
}

export function parsePriority(value: string | null): AlarmPriority | null {
  return (ALARM_PRIORITIES as readonly string[]).includes(value ?? '') ? (value as AlarmPriority) : null;
}

/**
 * An alarm an operator should see (ISA-18.2 §11: active or unacknowledged), or one taken out of
 * the operator's view on purpose (shelved, out of service), so nothing is hidden without a trace.
 */
export function needsAttention(a: Alarm): boolean {
  return a.state !== 'normal' || a.shelved !== null || a.outOfService !== null;
}

function matchesFilter(a: Alarm, filter: AlarmFilter): boolean {
  switch (filter) {
    case 'attention': return needsAttention(a);
    case 'all': return true;
    case 'unacknowledged': return !a.acknowledged;
    case 'active': return a.active;
    case 'shelved': return a.shelved !== null;
    case 'out-of-service': return a.outOfService !== null;
  }
}

export interface ConsoleQuery {
  filter: AlarmFilter;
  /** Part of the site or asset id, any case. */
  place: string;
  priority: AlarmPriority | null;
}

const PRIORITY_RANK: Record<AlarmPriority, number> = { critical: 0, high: 1, medium: 2, low: 3 };
const newestOf = (a: Alarm) => a.activeSince ?? a.changedAt;

/** Unacknowledged first, then by priority, then the newest first (id breaks ties, so the order is stable). */
export function compareForConsole(x: Alarm, y: Alarm): number {
  return Number(x.acknowledged) - Number(y.acknowledged)
    || PRIORITY_RANK[x.priority] - PRIORITY_RANK[y.priority]
    || newestOf(y) - newestOf(x)
    || y.id - x.id;
}

export function consoleList(alarms: Iterable<Alarm>, q: ConsoleQuery): Alarm[] {
  const place = q.place.trim().toLowerCase();
  const out: Alarm[] = [];
  for (const a of alarms) {
    if (!matchesFilter(a, q.filter)) continue;
    if (q.priority !== null && a.priority !== q.priority) continue;
    if (place !== '' && !`${a.site}/${a.asset}`.toLowerCase().includes(place)) continue;
    out.push(a);
  }
  return out.sort(compareForConsole);
}

export interface AlarmSummary {
  activeByPriority: Record<AlarmPriority, number>;
  unacknowledged: number;
  shelved: number;
  outOfService: number;
  /** Sites in an alarm flood (ISA-18.2 §16.5): the site's summary alarm is active. */
  floods: { site: string; since: number | null; recent: number; active: number; description: string }[];
}

export function summarise(alarms: Iterable<Alarm>): AlarmSummary {
  const activeByPriority: Record<AlarmPriority, number> = { critical: 0, high: 0, medium: 0, low: 0 };
  const activeBySite = new Map<string, number>();
  const floodAlarms: Alarm[] = [];
  let unacknowledged = 0;
  let shelved = 0;
  let outOfService = 0;
  for (const a of alarms) {
    if (a.active) {
      activeByPriority[a.priority]++;
      if (a.kind === 'flood') floodAlarms.push(a);
      else activeBySite.set(a.site, (activeBySite.get(a.site) ?? 0) + 1);
    }
    if (!a.acknowledged) unacknowledged++;
    if (a.shelved) shelved++;
    if (a.outOfService) outOfService++;
  }
  const floods = floodAlarms
    .map((a) => ({
      site: a.site,
      since: a.activeSince,
      recent: typeof a.value === 'number' ? a.value : 0,
      active: activeBySite.get(a.site) ?? 0,
      description: a.description,
    }))
    .sort((x, y) => x.site.localeCompare(y.site));
  return { activeByPriority, unacknowledged, shelved, outOfService, floods };
}

/** The newest acknowledgement in an alarm's history (the server lists it oldest first). */
export function latestAcknowledgement(events: readonly AlarmEvent[]): AlarmEvent | null {
  for (let i = events.length - 1; i >= 0; i--) {
    if (events[i]!.kind === 'acknowledge') return events[i]!;
  }
  return null;
}
