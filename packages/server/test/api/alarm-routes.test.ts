import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Quality, systemClock } from '@shellguard/protocol';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { sqliteTelemetryStore } from '../../src/testing/index.ts';
import { SqlSiteRegistry } from '../../src/registry/sql-site-registry.ts';
import { openTestApiTokens } from '../auth/test-api-tokens.ts';
import type { Role } from '../../src/auth/roles.ts';
import type { AuditEvent, AuditEventInput, AuditLog } from '../../src/audit/audit-log.ts';
import { AlarmEngine } from '../../src/alarms/alarm-engine.ts';
import { ALARM_MIGRATIONS } from '../../src/alarms/alarm-schema.ts';
import { SqlAlarmStore } from '../../src/alarms/sql-alarm-store.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import { buildApi } from '../../src/api/build-api.ts';

const T0 = 1_750_000_000_000;
const SITE = 'dc1';
const AHU = 'AHU-1';
const HOUR = 3_600_000;

/** The audit log at the edge: kept in memory, to see what the engine recorded. */
class MemoryAuditLog implements AuditLog {
  readonly events: AuditEvent[] = [];
  async record(event: AuditEventInput): Promise<AuditEvent> {
    const stored = { ...event, seq: this.events.length + 1, at: clock, prevHash: '', hash: '' };
    this.events.push(stored);
    return stored;
  }
  async list(): Promise<AuditEvent[]> {
    return [...this.events];
  }
  async verify() {
    return { ok: true, events: this.events.length, problems: [], anchors: { checked: 0 } };
  }
}

let db: SqliteDatabase;
let app: FastifyInstance;
let engine: AlarmEngine;
let audit: MemoryAuditLog;
let clock: number;
const token: Partial<Record<Role, { value: string; id: string }>> = {};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

async function call(method: Method, url: string, role: Role | null, payload?: unknown): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = role ? { authorization: `Bearer ${token[role]!.value}` } : {};
  return app.inject({ method, url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });
}
const json = (res: LightMyRequestResponse) => res.json<Json>();

const SAT_RULE = {
  id: 'ahu.sat', kind: 'limit', profile: 'ahu-test', point: 'supply_air_temp', priority: 'medium',
  description: 'Supply air temperature', h: 30, hh: 35, deadband: 1, maxShelveMs: 2 * HOUR, levelPriority: { hh: 'critical' },
};

function feed(value: number): void {
  clock += 1000;
  engine.evaluate(SITE, AHU, 'supply_air_temp', { point: 'supply_air_temp', value, ts: clock, quality: Quality.good });
}

beforeAll(async () => {
  clock = T0;
  db = openDatabase(':memory:');
  const tokens = await openTestApiTokens(db);
  for (const role of ['admin', 'engineer', 'technician', 'manager', 'viewer'] as const) {
    const created = await tokens.create(`${role} token`, role);
    token[role] = { value: created.token, id: created.tokenId };
  }
  audit = new MemoryAuditLog();
  const database = openSqliteSqlDatabase(db);
  await runSqlMigrations(database, 'alarms', ALARM_MIGRATIONS);
  engine = new AlarmEngine({
    store: new SqlAlarmStore(database.db),
    unitOfWork: sqlUnitOfWork(database, (tx) => ({ alarms: new SqlAlarmStore(tx), audit })),
    clock: { ...systemClock, now: () => clock },
    assetProfile: (site, asset) => (site === SITE && asset.startsWith('AHU-') ? 'ahu-test' : undefined),
  });
  await engine.load();
  app = buildApi({
    store: await sqliteTelemetryStore(database), registry: new SqlSiteRegistry(openSqliteSqlDatabase(db).db, 'sqlite'), tokens, logger: pino({ level: 'silent' }),
    alarms: engine, now: () => clock,
  });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await engine.stop();
  db.close();
});

/** The H alarm of the supply air temperature rule on AHU-1 (bound once a sample was evaluated). */
const hAlarm = () => engine.find(SITE, AHU, 'supply_air_temp', 'ahu.sat', 'h')!;

describe('alarm routes: authentication and roles', () => {
  it.each([
    ['GET', '/api/v1/alarms'], ['GET', '/api/v1/alarms/1'], ['GET', '/api/v1/alarms/1/history'], ['GET', '/api/v1/alarm-rules'],
    ['POST', '/api/v1/alarms/1/ack'], ['POST', '/api/v1/alarms/1/shelve'], ['POST', '/api/v1/alarm-rules'],
    ['PUT', `/api/v1/assets/${SITE}/${AHU}/mode`], ['DELETE', `/api/v1/assets/${SITE}/${AHU}/alarm-rules/ahu.sat/override`],
  ] as const)('refuses %s %s without a token (401)', async (method, url) => {
    const res = await call(method, url, null, method === 'GET' || method === 'DELETE' ? undefined : {});
    expect(res.statusCode).toBe(401);
    expect(json(res).error.code).toBe('unauthorized');
  });

  it('refuses a technician defining a rule (403), and no rule is defined', async () => {
    const res = await call('POST', '/api/v1/alarm-rules', 'technician', SAT_RULE);
    expect(res.statusCode).toBe(403);
    expect(json(res).error).toEqual({ code: 'forbidden', message: expect.stringContaining('role technician') });
    expect(engine.rules()).toEqual([]);
  });

  it('lets an engineer define a rule (201), the engine recording it as token:<id>', async () => {
    const res = await call('POST', '/api/v1/alarm-rules', 'engineer', SAT_RULE);
    expect(res.statusCode).toBe(201);
    expect(json(res).rule).toMatchObject({ id: 'ahu.sat', kind: 'limit', h: 30, hh: 35, deadband: 1, enabled: true });
    const recorded = audit.events.filter((e) => e.action === 'alarm.rule.define');
    expect(recorded).toEqual([expect.objectContaining({ actor: `token:${token.engineer!.id}`, target: 'alarm-rule:ahu.sat' })]);
  });

  it('refuses an invalid rule (400) naming the field', async () => {
    const res = await call('POST', '/api/v1/alarm-rules', 'admin', { ...SAT_RULE, id: 'ahu.bad', h: 40 });
    expect(res.statusCode).toBe(400);
    expect(json(res).error).toEqual({ code: 'rule_invalid', message: expect.stringContaining('h: must be below hh') });
  });

  it('lists rules to any token, filtered by profile', async () => {
    expect(json(await call('GET', '/api/v1/alarm-rules', 'viewer')).rules.map((r: Json) => r.id)).toEqual(['ahu.sat']);
    expect(json(await call('GET', '/api/v1/alarm-rules?profile=ahu-test', 'viewer')).rules).toHaveLength(1);
    expect(json(await call('GET', '/api/v1/alarm-rules?profile=ups-generic', 'viewer')).rules).toEqual([]);
  });
});

describe('alarm routes: an alarm raised by the engine, over the API', () => {
  it('lists the alarm a sample past the limit raised', async () => {
    feed(20);
    expect(json(await call('GET', '/api/v1/alarms?state=unack-active', 'viewer')).alarms).toEqual([]);
    feed(31);
    const res = await call('GET', `/api/v1/alarms?state=unack-active&site=${SITE}`, 'viewer');
    expect(res.statusCode).toBe(200);
    expect(json(res).alarms).toEqual([expect.objectContaining({
      id: hAlarm().id, key: `${SITE}/${AHU}/supply_air_temp/ahu.sat:h`, level: 'h', priority: 'medium', state: 'unack-active',
      active: true, acknowledged: false, value: 31, shelved: null, outOfService: null, annunciated: true,
    })]);
    expect(json(await call('GET', '/api/v1/alarms?priority=critical', 'viewer')).alarms.map((a: Json) => a.level)).toEqual(['hh']);
    expect(json(await call('GET', '/api/v1/alarms?asset=AHU-9', 'viewer')).alarms).toEqual([]);
  });

  it('refuses an unknown filter value (400)', async () => {
    expect((await call('GET', '/api/v1/alarms?state=angry', 'viewer')).statusCode).toBe(400);
  });

  it('refuses a viewer acknowledging (403), and the alarm stays unacknowledged', async () => {
    const res = await call('POST', `/api/v1/alarms/${hAlarm().id}/ack`, 'viewer', {});
    expect(res.statusCode).toBe(403);
    expect(hAlarm().state).toBe('unack-active');
  });

  it('lets a technician acknowledge: the alarm becomes ack-active, acted on by token:<id>', async () => {
    const res = await call('POST', `/api/v1/alarms/${hAlarm().id}/ack`, 'technician', { comment: 'damper stuck, on it' });
    expect(res.statusCode).toBe(200);
    expect(json(res).alarm).toMatchObject({ id: hAlarm().id, state: 'ack-active', acknowledged: true });
    const history = json(await call('GET', `/api/v1/alarms/${hAlarm().id}/history`, 'viewer')).events;
    expect(history.map((e: Json) => e.kind)).toEqual(['activate', 'acknowledge']);
    expect(history[1]).toMatchObject({ actor: `token:${token.technician!.id}`, comment: 'damper stuck, on it', state: 'ack-active' });
    // Recorded once, by the engine.
    expect(audit.events.filter((e) => e.action === 'alarm.acknowledge')).toHaveLength(1);
  });

  it('refuses acknowledging twice (409), also when the POST has no body', async () => {
    const res = await call('POST', `/api/v1/alarms/${hAlarm().id}/ack`, 'technician');
    expect(res.statusCode).toBe(409);
    expect(json(res).error.code).toBe('alarm_not_unacknowledged');
  });

  it('shows one alarm', async () => {
    const res = await call('GET', `/api/v1/alarms/${hAlarm().id}`, 'manager');
    expect(res.statusCode).toBe(200);
    expect(json(res).alarm).toMatchObject({ id: hAlarm().id, ruleId: 'ahu.sat', state: 'ack-active' });
  });

  it('refuses timed shelving beyond the rule\'s maximum (400) and without a duration (400)', async () => {
    const tooLong = await call('POST', `/api/v1/alarms/${hAlarm().id}/shelve`, 'technician', { kind: 'timed', durationMs: 3 * HOUR });
    expect(tooLong.statusCode).toBe(400);
    expect(json(tooLong).error.code).toBe('shelve_too_long');
    const noDuration = await call('POST', `/api/v1/alarms/${hAlarm().id}/shelve`, 'technician', { kind: 'timed' });
    expect(noDuration.statusCode).toBe(400);
    expect(json(noDuration).error.code).toBe('shelve_duration_invalid');
    const badKind = await call('POST', `/api/v1/alarms/${hAlarm().id}/shelve`, 'technician', { kind: 'forever' });
    expect(badKind.statusCode).toBe(400);
    expect(hAlarm().shelved).toBeNull();
  });

  it('shelves for a time, refuses shelving twice (409), and unshelves', async () => {
    const res = await call('POST', `/api/v1/alarms/${hAlarm().id}/shelve`, 'technician', { kind: 'timed', durationMs: HOUR, comment: 'maintenance crew' });
    expect(res.statusCode).toBe(200);
    expect(json(res).alarm).toMatchObject({ annunciated: false, shelved: { kind: 'timed', until: clock + HOUR, by: `token:${token.technician!.id}` } });
    expect(json(await call('GET', '/api/v1/alarms?state=shelved', 'viewer')).alarms.map((a: Json) => a.id)).toEqual([hAlarm().id]);
    expect((await call('POST', `/api/v1/alarms/${hAlarm().id}/shelve`, 'technician', { kind: 'timed', durationMs: HOUR })).statusCode).toBe(409);
    const back = await call('POST', `/api/v1/alarms/${hAlarm().id}/unshelve`, 'technician', {});
    expect(back.statusCode).toBe(200);
    // ISA-18.2: a still-active condition comes back unacknowledged.
    expect(json(back).alarm).toMatchObject({ shelved: null, annunciated: true, state: 'unack-active' });
    expect((await call('POST', `/api/v1/alarms/${hAlarm().id}/unshelve`, 'technician', {})).statusCode).toBe(409);
  });

  it('takes an alarm out of service and back for an engineer only', async () => {
    const id = hAlarm().id;
    expect((await call('POST', `/api/v1/alarms/${id}/remove-from-service`, 'technician', {})).statusCode).toBe(403);
    const oos = await call('POST', `/api/v1/alarms/${id}/remove-from-service`, 'engineer', { comment: 'transmitter broken' });
    expect(oos.statusCode).toBe(200);
    expect(json(oos).alarm.outOfService).toMatchObject({ by: `token:${token.engineer!.id}`, comment: 'transmitter broken' });
    expect((await call('POST', `/api/v1/alarms/${id}/remove-from-service`, 'engineer', {})).statusCode).toBe(409);
    const rts = await call('POST', `/api/v1/alarms/${id}/return-to-service`, 'engineer', {});
    expect(rts.statusCode).toBe(200);
    expect(json(rts).alarm.outOfService).toBeNull();
  });

  it('answers 404 for an unknown alarm, on reads and actions alike', async () => {
    for (const [method, url] of [
      ['GET', '/api/v1/alarms/9999'], ['GET', '/api/v1/alarms/9999/history'], ['POST', '/api/v1/alarms/9999/ack'],
      ['POST', '/api/v1/alarms/9999/unshelve'], ['POST', '/api/v1/alarms/9999/return-to-service'],
    ] as const) {
      const res = await call(method, url, 'admin', method === 'POST' ? {} : undefined);
      expect(res.statusCode, url).toBe(404);
      expect(json(res).error.code, url).toBe('alarm_not_found');
    }
    expect((await call('GET', '/api/v1/alarms/not-a-number', 'admin')).statusCode).toBe(400);
  });
});

describe('alarm routes: per-asset overrides and asset mode', () => {
  const overrideUrl = `/api/v1/assets/${SITE}/${AHU}/alarm-rules/ahu.sat/override`;

  it('overrides a rule for one asset and returns the rule in effect', async () => {
    expect((await call('PUT', overrideUrl, 'technician', { h: 28 })).statusCode).toBe(403);
    const res = await call('PUT', overrideUrl, 'engineer', { h: 28 });
    expect(res.statusCode).toBe(200);
    expect(json(res)).toMatchObject({ override: { site: SITE, asset: AHU, ruleId: 'ahu.sat', patch: { h: 28 } }, rule: { id: 'ahu.sat', h: 28, hh: 35 } });
    // The asset's rules in effect (what its chart draws) carry the override; the profile's rule does not.
    const effective = json(await call('GET', `/api/v1/assets/${SITE}/${AHU}/alarm-rules`, 'viewer')).rules as { id: string; h?: number }[];
    expect(effective.find((r) => r.id === 'ahu.sat')).toMatchObject({ h: 28, hh: 35 });
    const profile = json(await call('GET', '/api/v1/alarm-rules', 'viewer')).rules as { id: string; h?: number }[];
    expect(profile.find((r) => r.id === 'ahu.sat')).toMatchObject({ h: 30 });
    expect(engine.effectiveRules(SITE, AHU)[0]).toMatchObject({ h: 28 });
  });

  it('refuses an override that changes identity (400) or names an unknown rule (404)', async () => {
    const identity = await call('PUT', overrideUrl, 'engineer', { point: 'return_air_temp' });
    expect(identity.statusCode).toBe(400);
    expect(json(identity).error.code).toBe('rule_invalid');
    const unknown = await call('PUT', `/api/v1/assets/${SITE}/${AHU}/alarm-rules/no.such.rule/override`, 'engineer', { h: 1 });
    expect(unknown.statusCode).toBe(404);
    expect(json(unknown).error.code).toBe('rule_not_found');
  });

  it('removes the override (204), then 404 when there is none', async () => {
    expect((await call('DELETE', overrideUrl, 'engineer')).statusCode).toBe(204);
    expect(engine.effectiveRules(SITE, AHU)[0]).toMatchObject({ h: 30 });
    const again = await call('DELETE', overrideUrl, 'engineer');
    expect(again.statusCode).toBe(404);
    expect(json(again).error.code).toBe('not_found');
  });

  it('puts an asset in maintenance, suppressing its alarms, and back to normal', async () => {
    const url = `/api/v1/assets/${SITE}/${AHU}/mode`;
    expect((await call('PUT', url, 'technician', { mode: 'maintenance' })).statusCode).toBe(403);
    expect((await call('PUT', url, 'engineer', { mode: 'broken' })).statusCode).toBe(400);
    const res = await call('PUT', url, 'engineer', { mode: 'maintenance', comment: 'filter change' });
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({ site: SITE, asset: AHU, mode: 'maintenance' });
    expect(json(await call('GET', '/api/v1/alarms?state=suppressed', 'viewer')).alarms.length).toBeGreaterThan(0);
    expect(audit.events.filter((e) => e.action === 'alarm.suppress')).toEqual([
      expect.objectContaining({ actor: `token:${token.engineer!.id}`, target: `asset:${SITE}/${AHU}` }),
    ]);
    expect(json(await call('PUT', url, 'admin', { mode: 'normal' })).mode).toBe('normal');
    expect(json(await call('GET', '/api/v1/alarms?state=suppressed', 'viewer')).alarms).toEqual([]);
  });
});

describe('alarm routes: OpenAPI', () => {
  it('documents every alarm route', async () => {
    const doc = json(await call('GET', '/api/v1/openapi.json', 'viewer'));
    expect(Object.keys(doc.paths).filter((p) => p.includes('alarm') || p.includes('/mode')).sort()).toEqual([
      '/api/v1/alarm-rules', '/api/v1/alarms', '/api/v1/alarms/{id}', '/api/v1/alarms/{id}/ack', '/api/v1/alarms/{id}/history',
      '/api/v1/alarms/{id}/remove-from-service', '/api/v1/alarms/{id}/return-to-service', '/api/v1/alarms/{id}/shelve',
      '/api/v1/alarms/{id}/unshelve', '/api/v1/assets/{site}/{asset}/alarm-rules', '/api/v1/assets/{site}/{asset}/alarm-rules/{ruleId}/override',
      '/api/v1/assets/{site}/{asset}/mode',
    ]);
  });
});

describe('buildApi without alarms', () => {
  it('serves no alarm routes', async () => {
    const tokens = await openTestApiTokens(db);
    const bare = buildApi({
      store: await sqliteTelemetryStore(db), registry: new SqlSiteRegistry(openSqliteSqlDatabase(db).db, 'sqlite'), tokens, logger: pino({ level: 'silent' }),
    });
    const created = await tokens.create('bare', 'admin');
    const res = await bare.inject({ method: 'GET', url: '/api/v1/alarms', headers: { authorization: `Bearer ${created.token}` } });
    expect(res.statusCode).toBe(404);
    await bare.close();
  });
});
