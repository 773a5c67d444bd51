import { describe, expect, it } from 'vitest';
import { parseProfile } from '@shellguard/protocol';
import { applyRuleOverride, checkRuleAgainstProfile, parseAlarmRule } from '../../src/alarms/alarm-rule.ts';

const base = { id: 'ahu.sat', profile: 'ahu-test', point: 'supply_air_temp', priority: 'high' };
const invalid = (input: unknown) => {
  try {
    parseAlarmRule(input);
  } catch (err) {
    return { code: (err as { code: string }).code, message: (err as Error).message };
  }
  throw new Error('accepted');
};

describe('parseAlarmRule', () => {
  it('fills in defaults for a single high limit', () => {
    expect(parseAlarmRule({ ...base, kind: 'limit', h: 30 })).toEqual({
      ...base, kind: 'limit', h: 30, deadband: 0, levelPriority: {}, description: '', onDelayMs: 0, offDelayMs: 0,
      maxShelveMs: 8 * 3_600_000, enabled: true,
    });
  });

  it.each([
    [{ ...base, kind: 'limit' }, 'rule: (root): a limit rule needs at least one of hh, h, l, ll'],
    [{ ...base, kind: 'limit', hh: 30, h: 35 }, 'rule: h: must be below hh (h 35, hh 30)'],
    [{ ...base, kind: 'limit', h: 30, l: 31 }, 'rule: l: must be below h (l 31, h 30)'],
    [{ ...base, kind: 'limit', h: 30, deadband: -1 }, 'rule: deadband: must be >= 0 (got -1)'],
    [{ ...base, kind: 'limit', h: 30, levelPriority: { hh: 'high' } }, 'rule: levelPriority.hh: gives a priority to a level without a limit'],
    [{ ...base, kind: 'limit', h: '30' }, 'rule: h: must be a finite number'],
    [{ ...base, kind: 'limit', h: 30, priority: 'urgent' }, 'rule: priority: must be one of critical, high, medium, low (got "urgent")'],
    [{ ...base, kind: 'limit', h: 30, id: 'has space' }, 'rule: id: must be 1-64 letters'],
    [{ ...base, kind: 'limit', h: 30, point: 'Supply' }, 'rule: point: must be a snake_case point name'],
    [{ ...base, kind: 'limit', h: 30, onDelayMs: -1 }, 'rule: onDelayMs: must be >= 0'],
    [{ ...base, kind: 'limit', h: 30, timeoutMs: 5 }, 'rule: timeoutMs: is not a field of a limit rule'],
    [{ ...base, kind: 'threshold' }, 'rule: kind: must be one of limit, rate-of-change, stale, binary, anomaly'],
    [{ ...base, kind: 'rate-of-change', ratePerMinute: 0 }, 'rule: ratePerMinute: must be > 0'],
    [{ ...base, kind: 'rate-of-change', ratePerMinute: 2, deadband: 2 }, 'rule: deadband: must be below ratePerMinute (2)'],
    [{ ...base, kind: 'stale' }, 'rule: timeoutMs: must be a finite number'],
    [{ ...base, kind: 'binary', alarmWhen: 'yes' }, 'rule: alarmWhen: must be true or false'],
    [{ ...base, kind: 'anomaly', threshold: 1.5 }, 'rule: threshold: must be <= 1 (got 1.5)'],
    [{ ...base, kind: 'anomaly', threshold: 0.5, maxShelveMs: 0 }, 'rule: maxShelveMs: must be > 0'],
    ['limit', 'rule: (root): must be an object'],
  ])('refuses %j', (input, message) => {
    const err = invalid(input);
    expect(err.code).toBe('rule_invalid');
    expect(err.message.startsWith(message)).toBe(true);
  });
});

describe('applyRuleOverride', () => {
  const rule = parseAlarmRule({ ...base, kind: 'limit', hh: 35, h: 30, levelPriority: { hh: 'critical' } });

  it('replaces parameters and removes a level given as null', () => {
    const eff = applyRuleOverride(rule, { h: 28, hh: null, onDelayMs: 5000 });
    expect(eff).toMatchObject({ h: 28, onDelayMs: 5000, levelPriority: {} });
    expect(eff).not.toHaveProperty('hh');
  });

  it('refuses to change the rule id, profile, point or kind', () => {
    for (const key of ['id', 'profile', 'point', 'kind']) {
      expect(() => applyRuleOverride(rule, { [key]: 'x' })).toThrow(`override: ${key}: cannot be overridden per asset`);
    }
  });
});

describe('checkRuleAgainstProfile', () => {
  const profile = parseProfile(`
id: ahu-test
type: ahu
points:
  - { name: supply_air_temp, table: input, address: 0, unit: degC }
  - { name: fan_fault, table: discrete, address: 0 }
`);

  it('refuses a point the profile does not have, naming the points it has', () => {
    const rule = parseAlarmRule({ ...base, kind: 'limit', h: 30, point: 'supply_temp' });
    expect(() => checkRuleAgainstProfile(rule, profile)).toThrow('profile ahu-test has no point supply_temp (points: supply_air_temp, fan_fault)');
  });

  it('refuses a limit on a binary point and a binary rule on an analog point', () => {
    expect(() => checkRuleAgainstProfile(parseAlarmRule({ ...base, kind: 'limit', h: 1, point: 'fan_fault' }), profile))
      .toThrow('a limit rule applies only to analog points; fan_fault is binary');
    expect(() => checkRuleAgainstProfile(parseAlarmRule({ ...base, kind: 'binary' }), profile))
      .toThrow('a binary rule applies only to binary points; supply_air_temp is analog');
    expect(() => checkRuleAgainstProfile(parseAlarmRule({ ...base, kind: 'stale', timeoutMs: 1000, point: 'fan_fault' }), profile)).not.toThrow();
  });
});
