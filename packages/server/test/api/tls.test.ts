import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { openDatabase } from '../../src/db/database.ts';
import { SqliteTelemetryStore } from '../../src/telemetry/sqlite-telemetry-store.ts';
import { SqliteSiteRegistry } from '../../src/registry/sqlite-site-registry.ts';
import { ApiTokens } from '../../src/auth/api-tokens.ts';
import { buildApi } from '../../src/api/build-api.ts';

describe('buildApi with tls', () => {
  it('serves HTTPS with the given certificate and still requires a token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-api-tls-'));
    const db = openDatabase(':memory:');
    const tokens = new ApiTokens(db);
    const admin = tokens.ensureAdminToken()!;
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const certPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const app = buildApi({
      store: new SqliteTelemetryStore(db), registry: new SqliteSiteRegistry(db), tokens, logger: pino({ level: 'silent' }),
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
