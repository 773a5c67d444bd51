import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Alarm, AlarmEvent } from '@shellguard/server';
import { ApiClientError, createApiClient, type ApiClient } from '../../src/api-client.ts';
import {
  acknowledgeAlarm, defineAlarmRules, listAlarmRules, listAlarms, parseAlarmId, parseAlarmRuleFile, removeAlarmFromService,
  returnAlarmToService, setAssetMode, shelveAlarm, showAlarm, unshelveAlarm,
} from '../../src/commands/alarms.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-api-server.ts';

class Buffered {
  text = '';
  write(s: string) { this.text += s; }
}

const AT = Date.UTC(2026, 0, 2, 3, 4, 5);
const ALARM: Alarm = {
  id: 7, key: 'dc1/AHU-1/supply_air_temp/ahu.sat:h', ruleId: 'ahu.sat', kind: 'limit', level: 'h', site: 'dc1', asset: 'AHU-1',
  point: 'supply_air_temp', priority: 'high', description: 'Supply air temperature', state: 'unack-active', active: true,
  acknowledged: false, shelved: null, suppressed: false, outOfService: null, annunciated: true, activeSince: AT, changedAt: AT,
  value: 31.5, pending: null, retired: false,
};
const RULE = {
  id: 'ahu.sat', kind: 'limit', profile: 'ahu-generic', point: 'supply_air_temp', priority: 'medium', description: '',
  h: 27, hh: 32, deadband: 0.5, onDelayMs: 60000, offDelayMs: 0, maxShelveMs: 28_800_000, enabled: true, levelPriority: {},
};

describe('parseAlarmId', () => {
  it('reads a whole number above 0 and refuses anything else', () => {
    expect(parseAlarmId('42')).toBe(42);
    for (const bad of ['0', '-1', '1.5', 'abc', '', '7x']) expect(() => parseAlarmId(bad), bad).toThrow(/is not an alarm id/);
  });
});

describe('parseAlarmRuleFile', () => {
  it('reads one rule, a list, or {rules: [...]} from YAML or JSON', () => {
    expect(parseAlarmRuleFile(JSON.stringify(RULE))).toEqual([RULE]);
    expect(parseAlarmRuleFile('- { id: a, kind: binary }\n- { id: b, kind: stale }\n').map((r) => r.id)).toEqual(['a', 'b']);
    expect(parseAlarmRuleFile('rules:\n  - id: a\n    kind: limit\n    h: 27\n')).toEqual([{ id: 'a', kind: 'limit', h: 27 }]);
  });

  it('refuses a file that is not rules, saying which', () => {
    expect(() => parseAlarmRuleFile('{ nope', 'r.yaml')).toThrow(/r.yaml is neither YAML nor JSON/);
    expect(() => parseAlarmRuleFile('rules: []\n', 'r.yaml')).toThrow(/r.yaml holds no rules/);
    expect(() => parseAlarmRuleFile('- { id: a }\n- 42\n', 'r.yaml')).toThrow(/r.yaml: rule 2 must be a mapping/);
    expect(() => parseAlarmRuleFile('just text', 'r.yaml')).toThrow(/rule 1 must be a mapping/);
  });
});

describe('alarm commands over the API', () => {
  let api: FakeApiServer;
  let client: ApiClient;
  let out: Buffered;

  beforeAll(async () => {
    api = await startFakeApiServer();
    client = createApiClient({ server: api.url, token: `sgt_0123456789abcdef_${'A'.repeat(43)}`, ca: api.caFile });
  });
  afterAll(async () => api.close());
  beforeEach(() => {
    api.requests.length = 0;
    out = new Buffered();
  });

  it('lists alarms as a table, passing the filters as the query', async () => {
    api.respond = () => ({ status: 200, body: { alarms: [{ ...ALARM, shelved: { kind: 'timed', by: 'token:x', at: AT, until: AT + 3_600_000, comment: '' } }] } });
    await listAlarms(client, out, { state: 'unack-active', site: 'dc1', priority: 'high' });
    expect(api.requests[0]).toMatchObject({ method: 'GET', url: '/api/v1/alarms?state=unack-active&site=dc1&priority=high' });
    const [header, row] = out.text.trimEnd().split('\n');
    expect(header).toMatch(/^ID\s+PRIORITY\s+STATE\s+ALARM\s+VALUE\s+CHANGED\s+DESCRIPTION\s+NOTES$/);
    expect(row).toMatch(/^7\s+high\s+unack-active\s+dc1\/AHU-1 supply_air_temp ahu.sat:h\s+31.5\s+2026-01-02T03:04:05Z/);
    expect(row).toContain('shelved timed until 2026-01-02T04:04:05Z');
  });

  it('lists alarms as JSON, and says so when none match', async () => {
    api.respond = () => ({ status: 200, body: { alarms: [ALARM] } });
    await listAlarms(client, out, { json: true });
    expect(api.requests[0]!.url).toBe('/api/v1/alarms');
    expect(JSON.parse(out.text)).toEqual([ALARM]);
    api.respond = () => ({ status: 200, body: { alarms: [] } });
    out = new Buffered();
    await listAlarms(client, out);
    expect(out.text).toBe('no alarms match\n');
  });

  it('shows an alarm with its history', async () => {
    const events: AlarmEvent[] = [
      { seq: 1, alarmId: 7, at: AT, kind: 'activate', actor: 'system', comment: '', state: 'unack-active', annunciated: true, value: 31.5, detail: {} },
      { seq: 2, alarmId: 7, at: AT + 60_000, kind: 'acknowledge', actor: 'token:abc', comment: 'on it', state: 'ack-active', annunciated: true, value: 31.5, detail: {} },
    ];
    api.respond = (req) => ({ status: 200, body: req.url.endsWith('/history') ? { events } : { alarm: ALARM } });
    await showAlarm(client, out, 7);
    expect(api.requests.map((r) => r.url)).toEqual(['/api/v1/alarms/7', '/api/v1/alarms/7/history']);
    expect(out.text).toContain('alarm 7: dc1/AHU-1 supply_air_temp ahu.sat:h (Supply air temperature)');
    expect(out.text).toContain('active     since 2026-01-02T03:04:05Z');
    expect(out.text).toMatch(/AT\s+EVENT\s+STATE\s+VALUE\s+BY\s+COMMENT/);
    expect(out.text).toMatch(/2026-01-02T03:05:05Z\s+acknowledge\s+ack-active\s+31.5\s+token:abc\s+on it/);
  });

  it('acknowledges, unshelves, takes out of and returns to service with the comment in the body', async () => {
    api.respond = () => ({ status: 200, body: { alarm: { ...ALARM, state: 'ack-active' } } });
    await acknowledgeAlarm(client, out, 7, { comment: 'on it' });
    await unshelveAlarm(client, out, 7);
    await removeAlarmFromService(client, out, 7, { comment: 'transmitter broken' });
    await returnAlarmToService(client, out, 7);
    expect(api.requests.map((r) => [r.method, r.url, r.body])).toEqual([
      ['POST', '/api/v1/alarms/7/ack', { comment: 'on it' }],
      ['POST', '/api/v1/alarms/7/unshelve', {}],
      ['POST', '/api/v1/alarms/7/remove-from-service', { comment: 'transmitter broken' }],
      ['POST', '/api/v1/alarms/7/return-to-service', {}],
    ]);
    expect(out.text.split('\n')[0]).toBe('acknowledged alarm 7 (dc1/AHU-1 supply_air_temp ahu.sat:h): now ack-active');
    expect(out.text).toContain('shellguard alarms rts 7');
  });

  it('shelves for minutes, sent as durationMs', async () => {
    api.respond = () => ({ status: 200, body: { alarm: { ...ALARM, shelved: { kind: 'timed', by: 'token:x', at: AT, until: AT + 1_800_000, comment: '' } } } });
    await shelveAlarm(client, out, 7, { kind: 'timed', minutes: 30, comment: 'crew on site' });
    expect(api.requests[0]).toMatchObject({ method: 'POST', url: '/api/v1/alarms/7/shelve', body: { kind: 'timed', durationMs: 1_800_000, comment: 'crew on site' } });
    expect(out.text).toBe('shelved alarm 7 (dc1/AHU-1 supply_air_temp ahu.sat:h) until 2026-01-02T03:34:05Z\n');
  });

  it('refuses timed shelving without --minutes and unknown kinds before asking the server', async () => {
    await expect(shelveAlarm(client, out, 7, { kind: 'timed' })).rejects.toThrow(/timed shelving needs --minutes/);
    await expect(shelveAlarm(client, out, 7, { kind: 'forever' })).rejects.toThrow(/--kind must be one-shot .* or timed/);
    expect(api.requests).toEqual([]);
  });

  it('passes on the server\'s refusal with its code (e.g. shelving beyond the rule\'s maximum)', async () => {
    api.respond = () => ({ status: 400, body: { error: { code: 'shelve_too_long', message: 'alarms of this rule may be shelved for at most 28800000 ms' } } });
    const err = await shelveAlarm(client, out, 7, { kind: 'timed', minutes: 600 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiClientError);
    expect((err as ApiClientError).describe()).toBe('shelve_too_long: alarms of this rule may be shelved for at most 28800000 ms');
    expect((err as ApiClientError).status).toBe(400);
  });

  it('lists rules with their conditions, filtered by profile', async () => {
    api.respond = () => ({ status: 200, body: { rules: [RULE, { ...RULE, id: 'ahu.fault', kind: 'binary', point: 'fan_fault', alarmWhen: true, onDelayMs: 0 }] } });
    await listAlarmRules(client, out, { profile: 'ahu-generic' });
    expect(api.requests[0]!.url).toBe('/api/v1/alarm-rules?profile=ahu-generic');
    const lines = out.text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+PROFILE\s+POINT\s+KIND\s+PRIORITY\s+CONDITION\s+ON DELAY\s+ENABLED$/);
    expect(lines[1]).toMatch(/^ahu.sat\s+ahu-generic\s+supply_air_temp\s+limit\s+medium\s+hh=32 h=27 deadband=0.5\s+60s\s+yes$/);
    expect(lines[2]).toMatch(/when true/);
  });

  it('defines the rules of a file in order and stops at the first the server refuses', async () => {
    api.respond = (req) => ((req.body as { id: string }).id === 'bad'
      ? { status: 400, body: { error: { code: 'rule_invalid', message: 'rule: h: must be below hh' } } }
      : { status: 201, body: { rule: { ...RULE, ...(req.body as object) } } });
    const rules = parseAlarmRuleFile('rules:\n  - { id: a, kind: limit, h: 1 }\n  - { id: bad }\n  - { id: c }\n');
    await expect(defineAlarmRules(client, out, rules)).rejects.toThrow(/h: must be below hh/);
    expect(api.requests.map((r) => (r.body as { id: string }).id)).toEqual(['a', 'bad']);
    expect(out.text).toBe('defined limit rule a on ahu-generic/supply_air_temp (medium)\n');
  });

  it('sets an asset\'s mode with PUT, and checks the mode first', async () => {
    const puts: [string, unknown][] = [];
    const withPut = Object.assign(Object.create(client) as ApiClient, {
      put: async <T>(path: string, body: unknown): Promise<T> => {
        puts.push([path, body]);
        return { site: 'dc1', asset: 'AHU 1', mode: (body as { mode: string }).mode } as T;
      },
    });
    await setAssetMode(withPut, out, 'dc1', 'AHU 1', 'maintenance', { comment: 'filter change' });
    expect(puts).toEqual([['/assets/dc1/AHU%201/mode', { mode: 'maintenance', comment: 'filter change' }]]);
    expect(out.text).toContain('asset dc1/AHU 1 is in maintenance: its alarms are suppressed');
    await expect(setAssetMode(withPut, out, 'dc1', 'AHU-1', 'off')).rejects.toThrow(/normal or maintenance, not "off"/);
    expect(puts).toHaveLength(1);
  });
});
