import { describe, expect, it } from 'vitest';
import type { Alarm, AlarmEvent } from '../../app/api-types.ts';
import { actionBody, ACTION_SPECS, shelveDurations } from './alarm-actions.ts';
import { consoleList, latestAcknowledgement, needsAttention, summarise } from './alarm-console.ts';

function alarm(id: number, over: Partial<Alarm> = {}): Alarm {
  return {
    id, key: `s/a/p/r${id}`, ruleId: 'r', kind: 'limit', level: 'h', site: 'dc1', asset: 'crah-1', point: 'temp', priority: 'medium',
    description: 'too warm', state: 'normal', active: false, acknowledged: true, shelved: null, suppressed: false, outOfService: null,
    annunciated: true, activeSince: null, changedAt: 1000, value: null, pending: null, retired: false, ...over,
  };
}
const unackActive = (id: number, over: Partial<Alarm> = {}) => alarm(id, { state: 'unack-active', active: true, acknowledged: false, activeSince: 1000, ...over });
const ackActive = (id: number, over: Partial<Alarm> = {}) => alarm(id, { state: 'ack-active', active: true, acknowledged: true, activeSince: 1000, ...over });
const ids = (list: Alarm[]) => list.map((a) => a.id);
const all = { filter: 'all' as const, place: '', priority: null };

describe('consoleList', () => {
  it('puts unacknowledged first, then priority, then the newest', () => {
    const list = consoleList([
      ackActive(1, { priority: 'critical' }),
      unackActive(2, { priority: 'low', activeSince: 5000 }),
      unackActive(3, { priority: 'high', activeSince: 1000 }),
      unackActive(4, { priority: 'high', activeSince: 9000 }),
      alarm(5, { state: 'unack-rtn', acknowledged: false, priority: 'critical', changedAt: 2000 }),
    ], all);
    expect(ids(list)).toEqual([5, 4, 3, 2, 1]);
  });

  it('shows by default what needs attention or was set aside, not alarms at rest', () => {
    const shelved = alarm(2, { shelved: { kind: 'timed', by: 'user:bob', at: 1, until: 2, comment: 'noisy' } });
    const oos = alarm(3, { outOfService: { by: 'user:bob', at: 1, comment: 'broken' } });
    const list = consoleList([alarm(1), shelved, oos, unackActive(4)], { filter: 'attention', place: '', priority: null });
    expect(ids(list).sort()).toEqual([2, 3, 4]);
    expect(needsAttention(alarm(1))).toBe(false);
  });

  it('filters by site or asset text and by priority', () => {
    const list = [unackActive(1, { site: 'dc1', asset: 'ups-2', priority: 'high' }), unackActive(2, { site: 'dc2', asset: 'crah-1' })];
    expect(ids(consoleList(list, { ...all, place: 'UPS' }))).toEqual([1]);
    expect(ids(consoleList(list, { ...all, place: 'dc2/' }))).toEqual([2]);
    expect(ids(consoleList(list, { ...all, priority: 'high' }))).toEqual([1]);
  });

  it('sorts a flood of thousands quickly', () => {
    const many = Array.from({ length: 5000 }, (_, i) => unackActive(i + 1, { priority: (['critical', 'high', 'medium', 'low'] as const)[i % 4], activeSince: i }));
    const started = performance.now();
    const list = consoleList(many, all);
    expect(performance.now() - started).toBeLessThan(200);
    expect(list[0]!.priority).toBe('critical');
    expect(list[0]!.activeSince).toBe(4996);
  });
});

describe('summarise', () => {
  it('counts active alarms by priority, unacknowledged and shelved, and names flooding sites', () => {
    const s = summarise([
      unackActive(1, { priority: 'critical' }),
      ackActive(2, { priority: 'low', shelved: { kind: 'one-shot', by: 'user:bob', at: 1, until: 2, comment: 'x' } }),
      unackActive(3, { kind: 'flood', site: 'dc1', asset: '', point: '', priority: 'high', value: 37, activeSince: 500 }),
      alarm(4, { state: 'unack-rtn', acknowledged: false }),
    ]);
    expect(s.activeByPriority).toEqual({ critical: 1, high: 1, medium: 0, low: 1 });
    expect(s.unacknowledged).toBe(3);
    expect(s.shelved).toBe(1);
    expect(s.floods).toEqual([{ site: 'dc1', since: 500, recent: 37, active: 2, description: 'too warm' }]);
  });
});

describe('latestAcknowledgement', () => {
  const event = (seq: number, kind: string, actor: string): AlarmEvent => ({
    seq, alarmId: 1, at: seq, kind, actor, comment: '', state: 'ack-active', annunciated: true, value: null, detail: {},
  });
  it('is the newest acknowledge event of the history', () => {
    const history = [event(1, 'activate', 'system'), event(2, 'acknowledge', 'user:alice'), event(3, 'clear', 'system'), event(4, 'activate', 'system'), event(5, 'acknowledge', 'token:ab12'), event(6, 'shelve', 'user:bob')];
    expect(latestAcknowledgement(history)?.actor).toBe('token:ab12');
    expect(latestAcknowledgement(history.slice(0, 1))).toBeNull();
  });
});

describe('alarm actions', () => {
  it('offers shelving durations only up to the rule maximum, and the maximum itself', () => {
    expect(shelveDurations(2 * 3_600_000)).toEqual([15 * 60_000, 3_600_000, 2 * 3_600_000]);
    expect(shelveDurations(5 * 60_000)).toEqual([5 * 60_000]);
    expect(shelveDurations(null)).toContain(8 * 3_600_000);
  });

  it('sends the bodies alarm-schemas.ts describes', () => {
    expect(actionBody('shelve', 'noisy', { kind: 'timed', durationMs: 900_000 })).toEqual({ kind: 'timed', durationMs: 900_000, comment: 'noisy' });
    expect(actionBody('shelve', 'noisy', { kind: 'one-shot', durationMs: 900_000 })).toEqual({ kind: 'one-shot', comment: 'noisy' });
    expect(actionBody('acknowledge', '', { kind: 'timed', durationMs: 1 })).toEqual({});
  });

  it('offers an action only where it applies', () => {
    expect(ACTION_SPECS.acknowledge.applies(unackActive(1))).toBe(true);
    expect(ACTION_SPECS.acknowledge.applies(ackActive(1))).toBe(false);
    expect(ACTION_SPECS.unshelve.applies(ackActive(1))).toBe(false);
    expect(ACTION_SPECS['return-to-service'].applies(alarm(1, { outOfService: { by: 'u', at: 1, comment: 'c' } }))).toBe(true);
  });
});
