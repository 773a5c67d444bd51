/**
 * The wiring in startServer: users created in-process through the handle (as tests and the demo
 * do) sign in over the server's HTTPS API, under the `auth` settings of its configuration.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { initPki } from '../../src/pki/index.ts';
import { startServer, type ServerHandle } from '../../src/server.ts';

let dir: string;
let server: ServerHandle;

function signIn(username: string, password: string): Promise<{ status: number; cookie: string | undefined; body: string }> {
  const payload = JSON.stringify({ username, password });
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: server.apiPort, path: '/api/v1/session', method: 'POST', ca: server.rootPem,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, cookie: res.headers['set-cookie']?.[0], body }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sg-server-users-'));
  await initPki(path.join(dir, 'ca'), { commonName: 'Test site' });
  server = await startServer({
    dataDir: path.join(dir, 'server'), caDir: path.join(dir, 'ca'),
    mqtt: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 },
    tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
    auth: { maxFailedSignIns: 2, sessionMaxMs: 2 * 3_600_000 },
  }, { logger: pino({ level: 'silent' }), webRoot: path.join(dir, 'no-web-build') });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('startServer with people', () => {
  it('lets a user made through the handle sign in, with the configured session lifetime and lock-out', async () => {
    await server.users.create('operator', 'technician', 'night shift passphrase 1');
    const ok = await signIn('operator', 'night shift passphrase 1');
    expect(ok.status, ok.body).toBe(200);
    expect(ok.cookie).toMatch(/^sg_session=[A-Za-z0-9_-]{43}; Max-Age=7200; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
    expect((await signIn('operator', 'wrong passphrase 1')).status).toBe(401);
    expect((await signIn('operator', 'wrong passphrase 2')).status).toBe(401);
    expect((await signIn('operator', 'night shift passphrase 1')).status).toBe(429);
  });
});
