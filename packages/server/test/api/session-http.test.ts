/**
 * People signing in to the dashboard, attacked over real HTTPS on loopback: the same answer for
 * an unknown name and a wrong password, lock-out, expiry on fake time, the cookie's exact
 * attributes, CSRF, roles checked on the server, sessions that end when the account changes,
 * no secret in any answer or log line, and no session fixation.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { Quality, systemClock, type Clock } from '@shellguard/protocol';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { sqliteTelemetryStore } from '../../src/testing/index.ts';
import { SqlSiteRegistry } from '../../src/registry/sql-site-registry.ts';
import { openTestApiTokens } from '../auth/test-api-tokens.ts';
import type { SqlAuditLog } from '../../src/audit/sql-audit-log.ts';
import { openTestAuditLog } from '../audit/test-audit-log.ts';
import { AlarmEngine } from '../../src/alarms/alarm-engine.ts';
import { ALARM_MIGRATIONS } from '../../src/alarms/alarm-schema.ts';
import { SqlAlarmStore } from '../../src/alarms/sql-alarm-store.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import { SESSION_MIGRATIONS, USER_MIGRATIONS } from '../../src/auth/auth-schema.ts';
import { SqlUserStore } from '../../src/auth/sql-user-store.ts';
import { SqlSessionStore } from '../../src/auth/sql-session-store.ts';
import { SessionService } from '../../src/auth/sessions.ts';
import { UsersService } from '../../src/auth/users.ts';
import { EventHub } from '../../src/live/event-hub.ts';
import { SseClient } from './https-client.ts';
import { buildApi } from '../../src/api/build-api.ts';

const T0 = 1_750_000_000_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const POLICY = { maxFailedSignIns: 5, lockoutMs: 15 * MINUTE, sessionIdleMs: 30 * MINUTE, sessionMaxMs: 12 * HOUR };
const PASSWORDS = {
  ada: 'admin passphrase, long enough',
  tess: 'technician passphrase 2026',
  vic: 'viewer passphrase of the day',
  dora: 'soon to be disabled, sadly',
  lou: 'lock me out if you can',
} as const;
type Name = keyof typeof PASSWORDS;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;
interface Answer { status: number; headers: Record<string, string | string[] | undefined>; text: string; json: Json }

let dir: string;
let db: SqliteDatabase;
let database: SqlDatabase;
let app: FastifyInstance;
let port: number;
let caPem: string;
let clock: number;
/** The test's time, with real timers. */
const serverClock: Clock = { ...systemClock, now: () => clock };
let audit: SqlAuditLog;
let users: UsersService;
let engine: AlarmEngine;
let adminToken: string;
let viewerToken: string;
const logLines: string[] = [];
/** Every secret the tests handle: none may appear in a log line or an answer it does not belong to. */
const secrets = new Set<string>(Object.values(PASSWORDS));

function https(method: string, path: string, options: { headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer> {
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  const headers: Record<string, string> = { ...options.headers };
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, ca: caPem, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Json = {};
        try { json = text ? JSON.parse(text) as Json : {}; } catch { /* not JSON */ }
        resolve({ status: res.statusCode!, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

interface Session { cookie: string; csrf: string; token: string }

function cookieOf(answer: Answer): string {
  const set = answer.headers['set-cookie'];
  expect(set).toHaveLength(1);
  return set![0]!;
}

async function signIn(username: Name | string, password?: string): Promise<Session> {
  const res = await https('POST', '/api/v1/session', { body: { username, password: password ?? PASSWORDS[username as Name] } });
  expect(res.status, res.text).toBe(200);
  const token = /^sg_session=([A-Za-z0-9_-]{43});/.exec(cookieOf(res))![1]!;
  secrets.add(token);
  secrets.add(res.json.csrfToken as string);
  return { cookie: `sg_session=${token}`, csrf: res.json.csrfToken as string, token };
}

/** A request as the dashboard makes it: the cookie, and the CSRF token on anything but GET. */
function asUser(s: Session, method: string, path: string, body?: unknown, csrf: string | null = s.csrf) {
  return https(method, path, { headers: { cookie: s.cookie, ...(csrf !== null ? { 'x-csrf-token': csrf } : {}) }, body });
}

const signInAttempt = (username: string, password: string) => https('POST', '/api/v1/session', { body: { username, password } });

beforeAll(async () => {
  clock = T0;
  dir = mkdtempSync(join(tmpdir(), 'sg-session-http-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  caPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
  db = openDatabase(':memory:');
  // One SqlDatabase over the handle: the tokens, users, sessions, audit log and alarm engine share its write lock.
  database = openSqliteSqlDatabase(db);
  const tokens = await openTestApiTokens(database);
  adminToken = (await tokens.create('automation', 'admin')).token;
  viewerToken = (await tokens.create('wall screen', 'viewer')).token;
  audit = await openTestAuditLog(database, { now: () => clock });
  await runSqlMigrations(database, 'users', USER_MIGRATIONS);
  await runSqlMigrations(database, 'sessions', SESSION_MIGRATIONS);
  const userStore = new SqlUserStore(database.db);
  const sessions = new SessionService({ store: new SqlSessionStore(database.db), users: userStore, policy: POLICY, now: () => clock });
  users = new UsersService({ store: userStore, sessions, policy: POLICY, now: () => clock });
  const roles: Record<Name, 'admin' | 'technician' | 'viewer'> = { ada: 'admin', tess: 'technician', vic: 'viewer', dora: 'technician', lou: 'viewer' };
  for (const [name, role] of Object.entries(roles)) await users.create(name, role, PASSWORDS[name as Name]);
  await runSqlMigrations(database, 'alarms', ALARM_MIGRATIONS);
  engine = new AlarmEngine({
    store: new SqlAlarmStore(database.db),
    unitOfWork: sqlUnitOfWork(database, (tx) => ({ alarms: new SqlAlarmStore(tx), audit: audit.recorderIn(tx) })),
    clock: serverClock, assetProfile: () => 'ahu-test',
  });
  await engine.load();
  await engine.defineRule({
    id: 'ahu.sat', kind: 'limit', profile: 'ahu-test', point: 'supply_air_temp', priority: 'medium', description: 'Supply air',
    h: 30, hh: 35, deadband: 1, maxShelveMs: 2 * HOUR,
  }, 'system');
  const log = new Writable({ write(chunk: Buffer, _enc, done) { logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean)); done(); } });
  app = buildApi({
    store: await sqliteTelemetryStore(database), registry: new SqlSiteRegistry(database.db, 'sqlite'), tokens, tokenAdmin: tokens, audit, alarms: engine,
    users, sessions, now: () => clock, logger: pino({ level: 'trace' }, log),
    events: new EventHub({ clock: serverClock }), eventsRecheckMs: 50,
    tls: { certPem: caPem, keyPem: readFileSync(join(dir, 'key.pem'), 'utf8') },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await app?.close();
  await engine?.stop();
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});
// Each test starts with a full sign-in bucket (10 per address, refilled at 1 per 6 s).
beforeEach(() => { clock += 2 * MINUTE; });

describe('POST /api/v1/session (sign-in)', () => {
  it('sets an HttpOnly, Secure, SameSite=Strict cookie on Path=/ for the absolute lifetime, and returns the CSRF token', async () => {
    const res = await signInAttempt('tess', PASSWORDS.tess);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ user: { username: 'tess', role: 'technician' }, csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), expiresAt: clock + 12 * HOUR });
    const cookie = cookieOf(res);
    const [pair, ...attributes] = cookie.split('; ');
    expect(pair).toMatch(/^sg_session=[A-Za-z0-9_-]{43}$/);
    expect(attributes.sort()).toEqual(['HttpOnly', 'Max-Age=43200', 'Path=/', 'SameSite=Strict', 'Secure']);
    expect(cookie).not.toMatch(/Domain=/i);
    expect(res.text).not.toContain(pair!.slice('sg_session='.length)); // the value is in the cookie only
    secrets.add(pair!.slice('sg_session='.length));
    secrets.add(res.json.csrfToken as string);
  });

  it('answers an unknown name and a wrong password identically (status, body, headers)', async () => {
    const wrong = await signInAttempt('vic', 'not the password at all');
    const unknown = await signInAttempt('victor', 'not the password at all');
    const malformed = await signInAttempt('Vic Tor!', 'not the password at all');
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual({ error: { code: 'sign_in_failed', message: expect.any(String) } });
    const comparable = (a: Answer) => ({ status: a.status, text: a.text, headers: { ...a.headers, date: undefined } });
    expect(comparable(unknown)).toEqual(comparable(wrong));
    expect(comparable(malformed)).toEqual(comparable(wrong));
    expect(wrong.headers['set-cookie']).toBeUndefined();
  });

  it('answers a disabled account as a wrong password, even with the right one', async () => {
    await users.create('dis', 'engineer', 'disabled user passphrase');
    await users.disable('dis');
    const res = await signInAttempt('dis', 'disabled user passphrase');
    expect([res.status, res.json.error.code]).toEqual([401, 'sign_in_failed']);
  });

  it('locks a name after 5 failures (429, minutes left), for real and unknown names alike, and lets it in after 15 minutes', async () => {
    for (let i = 0; i < 5; i++) {
      expect((await signInAttempt('lou', `guess number ${i} here`)).status).toBe(401);
      expect((await signInAttempt('lou-not-here', `guess number ${i} here`)).status).toBe(401);
    }
    clock += MINUTE; // refill the address's bucket; the lock still has 14 minutes to run
    const locked = await signInAttempt('lou', PASSWORDS.lou);
    expect(locked.status).toBe(429);
    expect(locked.json.error).toEqual({ code: 'account_locked', message: expect.stringMatching(/^locked for 14 more minutes/) });
    expect(locked.headers['retry-after']).toBe(String(14 * 60));
    const lockedUnknown = await signInAttempt('lou-not-here', PASSWORDS.lou);
    expect({ status: lockedUnknown.status, text: lockedUnknown.text }).toEqual({ status: locked.status, text: locked.text });
    clock += 14 * MINUTE;
    await signIn('lou');
  });

  it('never signs in a cookie value the browser had before (session fixation), and ends the old session', async () => {
    const planted = 'A'.repeat(43);
    const res = await https('POST', '/api/v1/session', { headers: { cookie: `sg_session=${planted}` }, body: { username: 'vic', password: PASSWORDS.vic } });
    expect(res.status).toBe(200);
    const issued = /^sg_session=([^;]+);/.exec(cookieOf(res))![1]!;
    secrets.add(issued);
    expect(issued).not.toBe(planted);
    expect((await https('GET', '/api/v1/session', { headers: { cookie: `sg_session=${planted}` } })).status).toBe(401);
    // Signing in again over a live session replaces it: the old value stops working.
    const again = await https('POST', '/api/v1/session', { headers: { cookie: `sg_session=${issued}` }, body: { username: 'vic', password: PASSWORDS.vic } });
    const next = /^sg_session=([^;]+);/.exec(cookieOf(again))![1]!;
    secrets.add(next);
    expect(next).not.toBe(issued);
    expect((await https('GET', '/api/v1/session', { headers: { cookie: `sg_session=${issued}` } })).status).toBe(401);
    expect((await https('GET', '/api/v1/session', { headers: { cookie: `sg_session=${next}` } })).status).toBe(200);
  });
});

describe('GET and DELETE /api/v1/session', () => {
  it('returns the signed-in user and the CSRF token, and signs out (CSRF needed) with a cookie that clears it', async () => {
    const s = await signIn('tess');
    const current = await asUser(s, 'GET', '/api/v1/session');
    expect(current.status).toBe(200);
    expect(current.json).toEqual({ user: { username: 'tess', role: 'technician' }, csrfToken: s.csrf, expiresAt: clock + 12 * HOUR });
    expect((await asUser(s, 'DELETE', '/api/v1/session', undefined, null)).status).toBe(403);
    const out = await asUser(s, 'DELETE', '/api/v1/session');
    expect(out.status).toBe(204);
    expect(cookieOf(out)).toMatch(/^sg_session=; Max-Age=0; .*HttpOnly; Secure; SameSite=Strict$/);
    const after = await asUser(s, 'GET', '/api/v1/session');
    expect(after.status).toBe(401);
    expect(cookieOf(after)).toMatch(/^sg_session=; Max-Age=0;/);
    expect((await audit.list({ target: 'user:tess' })).map((e) => e.action)).toEqual(expect.arrayContaining(['session.create', 'session.delete']));
  });

  it('ends a session after 30 idle minutes on fake time', async () => {
    const s = await signIn('tess');
    clock += 29 * MINUTE;
    expect((await asUser(s, 'GET', '/api/v1/health')).status).toBe(200);
    clock += 29 * MINUTE;
    expect((await asUser(s, 'GET', '/api/v1/health')).status).toBe(200);
    clock += 30 * MINUTE;
    expect((await asUser(s, 'GET', '/api/v1/health')).status).toBe(401);
  });

  it('ends a busy session 12 hours after sign-in', async () => {
    const s = await signIn('vic');
    const end = clock + 12 * HOUR;
    while (clock + 20 * MINUTE < end) {
      clock += 20 * MINUTE;
      expect((await asUser(s, 'GET', '/api/v1/session')).status).toBe(200);
    }
    clock = end;
    expect((await asUser(s, 'GET', '/api/v1/session')).status).toBe(401);
  });

  it('refuses two session cookies at once rather than guess which one is meant', async () => {
    const a = await signIn('vic');
    const res = await https('GET', '/api/v1/session', { headers: { cookie: `${a.cookie}; sg_session=${'B'.repeat(43)}` } });
    expect(res.status).toBe(401);
  });
});

describe('CSRF and roles on cookie-authenticated requests', () => {
  const ack = (id: number) => `/api/v1/alarms/${id}/ack`;
  const raise = () => {
    clock += 1000;
    engine.evaluate('dc1', `AHU-${clock}`, 'supply_air_temp', { point: 'supply_air_temp', value: 31, ts: clock, quality: Quality.good });
    return engine.find('dc1', `AHU-${clock}`, 'supply_air_temp', 'ahu.sat', 'h')!.id;
  };

  it('refuses a state change without the CSRF header (csrf_missing) or with a wrong one (csrf_mismatch), and accepts the right one', async () => {
    const s = await signIn('tess');
    const id = raise();
    const missing = await asUser(s, 'POST', ack(id), {}, null);
    expect([missing.status, missing.json.error.code]).toEqual([403, 'csrf_missing']);
    const wrong = await asUser(s, 'POST', ack(id), {}, s.csrf.slice(0, -1) + (s.csrf.endsWith('A') ? 'B' : 'A'));
    expect([wrong.status, wrong.json.error.code]).toEqual([403, 'csrf_mismatch']);
    const short = await asUser(s, 'POST', ack(id), {}, 'x');
    expect([short.status, short.json.error.code]).toEqual([403, 'csrf_mismatch']);
    // Another session's token is no better.
    const other = await signIn('ada');
    expect((await asUser(s, 'POST', ack(id), {}, other.csrf)).json.error.code).toBe('csrf_mismatch');
    expect(engine.get(id)?.acknowledged).toBe(false);
    const ok = await asUser(s, 'POST', ack(id), {});
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json.alarm.acknowledged).toBe(true);
    expect((await engine.history(id)).at(-1)).toMatchObject({ actor: 'user:tess' });
  });

  it('needs no CSRF token with an API token (no ambient credential), and the header wins over a cookie', async () => {
    const res = await https('POST', '/api/v1/users', {
      headers: { authorization: `Bearer ${adminToken}` }, body: { username: 'made-by-token', role: 'viewer', password: 'created by automation' },
    });
    expect(res.status, res.text).toBe(201);
    const s = await signIn('ada');
    const bad = await https('GET', '/api/v1/session', { headers: { cookie: s.cookie, authorization: 'Bearer sgt_nonsense' } });
    expect(bad.status).toBe(401);
  });

  it('refuses a viewer session an operator action (403), CSRF token or not, and the alarm stays unacknowledged', async () => {
    const s = await signIn('vic');
    const id = raise();
    const res = await asUser(s, 'POST', ack(id), {});
    expect(res.status).toBe(403);
    expect(res.json.error).toEqual({ code: 'forbidden', message: expect.stringContaining('this user has the role viewer') });
    expect(engine.get(id)?.acknowledged).toBe(false);
    expect((await asUser(s, 'GET', `/api/v1/alarms/${id}`)).status).toBe(200); // reading is fine
  });

  it('keeps people management to admins: a technician session and a viewer token are refused', async () => {
    const s = await signIn('tess');
    expect((await asUser(s, 'GET', '/api/v1/users')).status).toBe(403);
    expect((await asUser(s, 'POST', '/api/v1/users', { username: 'sneaky', role: 'admin', password: 'let me in please' })).status).toBe(403);
    expect((await asUser(s, 'POST', '/api/v1/users/tess/role', { role: 'admin' })).status).toBe(403);
    expect((await https('GET', '/api/v1/users', { headers: { authorization: `Bearer ${viewerToken}` } })).status).toBe(403);
    expect(await users.get('sneaky')).toBeUndefined();
  });
});

describe('users over the API', () => {
  it('ends a user\'s open event stream once they are disabled or re-roled, not only their next request', async () => {
    await users.create('sam', 'engineer', 'stream watcher passphrase');
    const s = await signIn('sam', 'stream watcher passphrase');
    const stream = await SseClient.open(port, caPem, '/api/v1/events?topics=alarms', { cookie: s.cookie });
    expect(stream.status).toBe(200);
    await stream.count('hello', 1);
    await users.disable('sam');
    await stream.until(() => stream.closed);
    await users.enable('sam');
    const again = await signIn('sam', 'stream watcher passphrase');
    const second = await SseClient.open(port, caPem, '/api/v1/events?topics=alarms', { cookie: again.cookie });
    await second.count('hello', 1);
    await users.setRole('sam', 'viewer');
    await second.until(() => second.closed);
  });

  it('lets an admin session create, re-role, disable and enable users, each audited as user:<name>, never with a password or hash', async () => {
    const a = await signIn('ada');
    const created = await asUser(a, 'POST', '/api/v1/users', { username: 'newbie', role: 'technician', password: 'first day at work!' });
    expect(created.status, created.text).toBe(201);
    expect(created.json.user).toMatchObject({ username: 'newbie', role: 'technician', disabled: false, lockedUntil: null });
    expect((await asUser(a, 'POST', '/api/v1/users', { username: 'newbie', role: 'viewer', password: 'first day at work!' })).status).toBe(409);
    const weak = await asUser(a, 'POST', '/api/v1/users', { username: 'weak', role: 'viewer', password: 'short' });
    expect([weak.status, weak.json.error.code]).toEqual([400, 'user_weak_password']);
    expect(weak.json.error.message).toMatch(/at least 12 characters/);
    expect((await asUser(a, 'POST', '/api/v1/users/newbie/role', { role: 'engineer' })).json.user.role).toBe('engineer');
    expect((await asUser(a, 'POST', '/api/v1/users/newbie/disable')).json.user.disabled).toBe(true);
    expect((await asUser(a, 'POST', '/api/v1/users/newbie/enable')).json.user.disabled).toBe(false);
    expect((await asUser(a, 'POST', '/api/v1/users/ghost/disable')).status).toBe(404);
    const listed = await asUser(a, 'GET', '/api/v1/users');
    expect(listed.json.users.map((u: Json) => u.username)).toContain('newbie');
    expect(listed.text).not.toMatch(/scrypt|passwordHash|password/i);
    const events = await audit.list({ target: 'user:newbie' });
    expect(events.map((e) => [e.actor, e.action])).toEqual([
      ['user:ada', 'user.create'], ['user:ada', 'user.role'], ['user:ada', 'user.disable'], ['user:ada', 'user.enable'],
    ]);
    expect(events[1]!.detail).toEqual({ from: 'technician', to: 'engineer' });
    expect(JSON.stringify(await audit.list({}))).not.toMatch(/scrypt|first day at work/);
  });

  it('ends a user\'s sessions at once when an admin disables them', async () => {
    const victim = await signIn('dora');
    expect((await asUser(victim, 'GET', '/api/v1/session')).status).toBe(200);
    const a = await signIn('ada');
    expect((await asUser(a, 'POST', '/api/v1/users/dora/disable')).status).toBe(200);
    expect((await asUser(victim, 'GET', '/api/v1/alarms')).status).toBe(401);
    expect((await signInAttempt('dora', PASSWORDS.dora)).json.error.code).toBe('sign_in_failed');
  });

  it('lets a signed-in user set their own password (ending their sessions), but nobody else\'s', async () => {
    await users.create('pat', 'viewer', 'pat first passphrase');
    const s = await signIn('pat', 'pat first passphrase');
    expect((await asUser(s, 'POST', '/api/v1/users/vic/password', { password: 'taking over vic now' })).status).toBe(403);
    const res = await asUser(s, 'POST', '/api/v1/users/pat/password', { password: 'pat second passphrase' });
    expect(res.status, res.text).toBe(200);
    expect(cookieOf(res)).toMatch(/^sg_session=; Max-Age=0;/);
    expect((await asUser(s, 'GET', '/api/v1/session')).status).toBe(401);
    await signIn('pat', 'pat second passphrase');
    expect((await audit.list({ target: 'user:pat' })).filter((e) => e.action === 'user.password')).toEqual([
      expect.objectContaining({ actor: 'user:pat', detail: { self: true } }),
    ]);
  });
});

describe('what every API answer carries, and what none does', () => {
  it('sets nosniff, no-referrer and no-store on API answers, refusals and 404s included', async () => {
    const s = await signIn('vic');
    for (const res of [
      await asUser(s, 'GET', '/api/v1/session'), await https('GET', '/api/v1/health'), await asUser(s, 'GET', '/api/v1/nowhere'),
      await signInAttempt('vic', 'wrong wrong wrong'),
    ]) {
      expect(res.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-store' });
    }
  });

  it('still refuses unknown /api paths without credentials the same way as known ones', async () => {
    const unknown = await https('GET', '/api/v1/nowhere');
    const known = await https('GET', '/api/v1/users');
    expect(unknown.status).toBe(401);
    expect(unknown.text).toBe(known.text);
  });

  it('documents sign-in and the users routes in the OpenAPI document', async () => {
    const doc = (await https('GET', '/api/v1/openapi.json', { headers: { authorization: `Bearer ${viewerToken}` } })).json;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/session', '/api/v1/users', '/api/v1/users/{username}/password']));
    expect(doc.paths['/api/v1/session'].post.security).toEqual([]);
    expect(doc.components.securitySchemes.sessionCookie).toEqual({ type: 'apiKey', in: 'cookie', name: 'sg_session' });
  });

  it('rate-limits sign-in per client address (429 rate_limited) whatever the name', async () => {
    const answers: number[] = [];
    for (let i = 0; i < 10; i++) answers.push((await signInAttempt(`someone-${i}`, 'some password here')).status);
    expect(answers.every((s) => s === 401)).toBe(true);
    const limited = await signInAttempt('vic', PASSWORDS.vic);
    expect([limited.status, limited.json.error.code]).toEqual([429, 'rate_limited']);
    expect(limited.headers['retry-after']).toBeDefined();
  });

  it('never writes a password, a hash, a cookie value or a CSRF token to the log', () => {
    expect(logLines.length).toBeGreaterThan(20);
    const all = logLines.join('\n');
    expect(all).toContain('sign-in failed');
    expect(all).not.toMatch(/scrypt\$/);
    for (const secret of secrets) expect(all.includes(secret), `log holds a secret (${secret.slice(0, 4)}…)`).toBe(false);
    expect(all).not.toMatch(/sg_session=|x-csrf-token"|authorization"/i);
  });
});
