/**
 * The web dashboard from the API's own HTTPS listener, with a throwaway build in a temp folder.
 * Requests go over real HTTPS with their paths sent exactly as written, so `..` and its encoded
 * forms reach the server as an attacker would send them.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { sqliteTelemetryStore } from '../../src/testing/index.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { SqlSiteRegistry } from '../../src/registry/sql-site-registry.ts';
import { openTestApiTokens } from '../auth/test-api-tokens.ts';
import { buildApi } from '../../src/api/build-api.ts';
import { defaultWebRoot, isPublicWebRequest } from '../../src/api/web-routes.ts';
import { httpsRequest, selfSignedCertificate, type SelfSigned } from './https-client.ts';

const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
  + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const INDEX = '<!doctype html><html><head><script type="module" src="/_app/x-1a2b3c.js"></script></head><body><div id="root"></div></body></html>';
const SCRIPT = 'console.log("dashboard");\n';

let dir: string;
let db: SqliteDatabase;
let cert: SelfSigned;
let admin: string;
const apps: FastifyInstance[] = [];

async function serve(webRoot: string, logs?: string[]): Promise<number> {
  const logger = logs
    ? pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { logs.push(String(chunk)); done(); } }))
    : pino({ level: 'silent' });
  const tokens = await openTestApiTokens(db);
  const app = buildApi({ store: await sqliteTelemetryStore(db), registry: new SqlSiteRegistry(openSqliteSqlDatabase(db).db, 'sqlite'), tokens, logger, tls: cert, webRoot });
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as AddressInfo).port;
}

beforeAll(async () => {
  cert = selfSignedCertificate();
  dir = mkdtempSync(join(tmpdir(), 'sg-web-'));
  mkdirSync(join(dir, 'dist', '_app'), { recursive: true });
  writeFileSync(join(dir, 'dist', 'index.html'), INDEX);
  writeFileSync(join(dir, 'dist', '_app', 'x-1a2b3c.js'), SCRIPT);
  writeFileSync(join(dir, 'dist', 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(dir, 'dist', '.env'), 'SECRET=dotfile');
  writeFileSync(join(dir, 'secret.txt'), 'SECRET outside the web root');
  db = openDatabase(':memory:');
  admin = (await (await openTestApiTokens(db)).ensureAdminToken())!;
});

afterAll(async () => {
  for (const app of apps) await app.close();
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the web dashboard', () => {
  let port: number;
  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => httpsRequest(port, cert.certPem, path, { method, headers });

  beforeAll(async () => {
    port = await serve(join(dir, 'dist'));
  });

  it('answers / and client-side routes with index.html, without a token, under the CSP and never cached stale', async () => {
    for (const path of ['/', '/alarms', '/assets/site-1/AHU-01', '/fleet/devices?tab=attestation']) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.body).toBe(INDEX);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['content-security-policy']).toBe(CSP);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['cache-control']).toBe('no-cache');
    }
    const head = await get('/alarms', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('serves the content-hashed build files under /_app for a year, and 404s a missing one', async () => {
    const res = await get('/_app/x-1a2b3c.js');
    expect(res.status).toBe(200);
    expect(res.body).toBe(SCRIPT);
    expect(res.headers['content-type']).toMatch(/javascript/);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(res.headers['content-security-policy']).toBe(CSP);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect((await get('/_app/x-000000.js')).status).toBe(404);
    const favicon = await get('/favicon.svg');
    expect(favicon.status).toBe(200);
    expect(favicon.headers['content-type']).toMatch(/image\/svg/);
  });

  it('keeps every /api route behind authentication, however the path is spelled', async () => {
    for (const path of ['/api/v1/nope', '/api/v1/health', '/%61pi/v1/health', '/api/v1/%68ealth', '/API/v1/health', '//api/v1/health', '/api', '/api/']) {
      const res = await get(path);
      expect(res.status, path).toBe(401);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'unauthorized' } });
    }
    expect((await httpsRequest(port, cert.certPem, '/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
    const auth = { authorization: `Bearer ${admin}` };
    expect((await get('/api/v1/health', auth)).status).toBe(200);
    const unknown = await get('/api/v1/nope', auth);
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toMatchObject({ error: { code: 'not_found' } });
  });

  it('refuses path traversal, encoded or not, and dotfiles', async () => {
    const attempts = [
      '/_app/../../secret.txt', '/_app/../../../../../../etc/passwd', '/_app/..%2f..%2fsecret.txt', '/_app/%2e%2e/%2e%2e/secret.txt',
      '/_app/%2e%2e%2f%2e%2e%2fsecret.txt', '/_app/%252e%252e/%252e%252e/secret.txt', '/_app/..%5c..%5csecret.txt', '/_app/..\\..\\secret.txt',
      '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/../secret.txt', '/_app/x-1a2b3c.js%00.html', '/.env', '/_app/%2e%65nv',
    ];
    for (const path of attempts) {
      const res = await get(path);
      expect(res.body, path).not.toMatch(/SECRET|root:/);
      expect(res.status, path).toBe(404);
    }
  });
});

describe('the web dashboard before it is built', () => {
  it('answers 503 with a page that says how to build it, logged once at start; the API still works', async () => {
    const logs: string[] = [];
    const port = await serve(join(dir, 'not-built'), logs);
    for (const path of ['/', '/alarms']) {
      const res = await httpsRequest(port, cert.certPem, path);
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['content-security-policy']).toBe(CSP);
      expect(res.body).toContain('The web dashboard is not built');
      expect(res.body).toContain('npm run build:web');
    }
    expect((await httpsRequest(port, cert.certPem, '/api/v1/health', { headers: { authorization: `Bearer ${admin}` } })).status).toBe(200);
    expect(logs.filter((l) => l.includes('the web dashboard is not built'))).toHaveLength(1);
  });
});

describe('isPublicWebRequest', () => {
  it('is GET or HEAD outside /api only', () => {
    expect(isPublicWebRequest('GET', '/')).toBe(true);
    expect(isPublicWebRequest('HEAD', '/alarms')).toBe(true);
    expect(isPublicWebRequest('GET', '/apis-and-more')).toBe(true);
    expect(isPublicWebRequest('POST', '/')).toBe(false);
    expect(isPublicWebRequest('DELETE', '/alarms')).toBe(false);
    for (const path of ['/api', '/api/v1/alarms', '/API/v1', '/%61pi/v1/x', '//api/v1', '/api;x', '/%E0%A4%A']) {
      expect(isPublicWebRequest('GET', path), path).toBe(false);
    }
  });

  it('finds packages/web/dist by default', () => {
    expect(defaultWebRoot()).toMatch(/packages[/\\]web[/\\]dist$/);
  });
});
