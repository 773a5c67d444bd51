import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { openDatabase } from '../../src/db/database.ts';
import { sqliteTelemetryStore } from '../../src/testing/index.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { SqlSiteRegistry } from '../../src/registry/sql-site-registry.ts';
import { openTestApiTokens } from '../auth/test-api-tokens.ts';
import { buildApi } from '../../src/api/build-api.ts';

describe('buildApi with tls', () => {
  it('serves HTTPS with the given certificate and still requires a token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-api-tls-'));
    const db = openDatabase(':memory:');
    const tokens = await openTestApiTokens(db);
    const admin = (await tokens.ensureAdminToken())!;
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const certPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const app = buildApi({
      store: await sqliteTelemetryStore(db), registry: new SqlSiteRegistry(openSqliteSqlDatabase(db).db, 'sqlite'), tokens, logger: pino({ level: 'silent' }),
      tls: { certPem, keyPem: readFileSync(join(dir, 'key.pem'), 'utf8') },
    });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const port = (app.server.address() as AddressInfo).port;
      const call = (headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/api/v1/health', ca: certPem, headers }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        }).on('error', reject).end();
      });
      expect(await call({})).toBe(401);
      expect(await call({ authorization: `Bearer ${admin}` })).toBe(200);
    } finally {
      await app.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * openssl s_client as the independent peer, offering one suite at a time, the way the outside
 * review found CBC-SHA1 and CCM_8 on offer (RFC 9325 §4.2: TLS 1.2 with ECDHE and AEAD only).
 * Spawned asynchronously: the server under test runs in this process's event loop.
 */
function sClient(port: number, args: string[]): Promise<{ code: number; protocol?: string; cipher?: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /New, (\S+), Cipher is (\S+)/.exec(out);
      resolve({ code: code ?? -1, ...(m && m[2] !== '(NONE)' ? { protocol: m[1]!.replace(/,$/, ''), cipher: m[2]! } : {}) });
    });
  });
}

describe('API TLS policy, seen by openssl s_client', () => {
  let dir: string;
  let db: ReturnType<typeof openDatabase>;
  let app: ReturnType<typeof buildApi>;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-api-tls-policy-'));
    db = openDatabase(':memory:');
    // An ECDSA P-256 certificate, like the site PKI issues.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    app = buildApi({
      store: await sqliteTelemetryStore(db), registry: new SqlSiteRegistry(openSqliteSqlDatabase(db).db, 'sqlite'), tokens: await openTestApiTokens(db), logger: pino({ level: 'silent' }),
      tls: { certPem: readFileSync(join(dir, 'cert.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'key.pem'), 'utf8') },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await app?.close();
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['ECDHE-ECDSA-AES128-SHA', 'CBC with HMAC-SHA1'],
    ['ECDHE-ECDSA-AES256-SHA', 'CBC with HMAC-SHA1'],
    ['ECDHE-ECDSA-AES128-SHA256', 'CBC with HMAC-SHA256'],
    ['ECDHE-ECDSA-AES128-CCM8', 'CCM_8, 64-bit tags'],
    ['ECDHE-ECDSA-AES256-CCM8', 'CCM_8, 64-bit tags'],
    ['ECDHE-ECDSA-AES128-CCM', 'CCM, not offered'],
  ])('refuses a TLS 1.2 handshake offering only %s (%s)', async (cipher) => {
    const result = await sClient(port, ['-tls1_2', '-cipher', cipher]);
    expect(result.code).not.toBe(0);
    expect(result.cipher).toBeUndefined();
  });

  it.each(['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305'])(
    'completes a TLS 1.2 handshake with %s (ECDHE, AEAD)', async (cipher) => {
      const result = await sClient(port, ['-tls1_2', '-cipher', cipher]);
      expect(result).toEqual({ code: 0, protocol: 'TLSv1.2', cipher });
    },
  );

  it('prefers its own order in TLS 1.2 (AES-128-GCM first) whatever the client lists first', async () => {
    const result = await sClient(port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256']);
    expect(result).toEqual({ code: 0, protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
  });

  it.each(['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'])(
    'completes a TLS 1.3 handshake with %s', async (suite) => {
      const result = await sClient(port, ['-tls1_3', '-ciphersuites', suite]);
      expect(result).toEqual({ code: 0, protocol: 'TLSv1.3', cipher: suite });
    },
  );

  it('refuses TLS 1.3 with only TLS_AES_128_CCM_8_SHA256 on offer', async () => {
    const result = await sClient(port, ['-tls1_3', '-ciphersuites', 'TLS_AES_128_CCM_8_SHA256']);
    expect(result.code).not.toBe(0);
    expect(result.cipher).toBeUndefined();
  });
});
