import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiClientError, apiClientOptionsFrom, createApiClient } from '../src/api-client.ts';
import { startFakeApiServer, type FakeApiServer } from './fake-api-server.ts';

const TOKEN = `sgt_0123456789abcdef_${'A'.repeat(43)}`;
let api: FakeApiServer;

beforeAll(async () => {
  api = await startFakeApiServer();
});
afterAll(async () => api.close());
beforeEach(() => {
  api.requests.length = 0;
});

describe('createApiClient', () => {
  it('calls the API over HTTPS with the given CA and the bearer token', async () => {
    api.respond = () => ({ status: 200, body: { devices: [] } });
    const client = createApiClient({ server: api.url, token: TOKEN, ca: api.caFile });
    expect(await client.get('/fleet')).toEqual({ devices: [] });
    expect(api.requests).toEqual([{ method: 'GET', url: '/api/v1/fleet', authorization: `Bearer ${TOKEN}`, body: undefined }]);
  });

  it('accepts a server URL that already ends in /api/v1, and sends query and JSON bodies', async () => {
    api.respond = () => ({ status: 201, body: { ok: true } });
    const client = createApiClient({ server: `${api.url}/api/v1/`, token: TOKEN, ca: api.caFile });
    await client.get('/audit', { afterSeq: 5, limit: undefined });
    await client.post('/claims', { deviceId: 'x' });
    expect(api.requests.map((r) => [r.method, r.url, r.body])).toEqual([
      ['GET', '/api/v1/audit?afterSeq=5', undefined], ['POST', '/api/v1/claims', { deviceId: 'x' }],
    ]);
  });

  it('turns an API error into "code: message" with the API\'s code', async () => {
    api.respond = () => ({ status: 403, body: { error: { code: 'forbidden', message: 'this needs a token with the role admin or engineer' } } });
    const client = createApiClient({ server: api.url, token: TOKEN, ca: api.caFile });
    const err = await client.post('/claims', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiClientError);
    expect((err as ApiClientError).code).toBe('forbidden');
    expect((err as ApiClientError).status).toBe(403);
    expect((err as ApiClientError).describe()).toBe('forbidden: this needs a token with the role admin or engineer');
  });

  it('reports a non-JSON error body by its HTTP status', async () => {
    api.respond = () => ({ status: 502, body: 'Bad gateway', type: 'text/plain' });
    const client = createApiClient({ server: api.url, token: TOKEN, ca: api.caFile });
    await expect(client.get('/fleet')).rejects.toMatchObject({ code: 'http_502', message: 'Bad gateway' });
  });

  it('refuses a server whose certificate no trusted CA vouches for, saying which root to trust and how', async () => {
    const client = createApiClient({ server: api.url, token: TOKEN });
    const err = await client.get('/fleet').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'api_untrusted_certificate' });
    expect((err as ApiClientError).message).toContain(`${api.url} presented a certificate this machine does not trust`);
    expect((err as ApiClientError).message).toContain('with --ca <root.crt> or SHELLGUARD_CA=<root.crt>');
    expect((err as ApiClientError).message).toContain('shellguard ca init');
    expect(api.requests).toEqual([]);
  });

  it('names the CA file given when it does not vouch for the server', async () => {
    const other = await startFakeApiServer();
    try {
      const client = createApiClient({ server: api.url, token: TOKEN, ca: other.caFile });
      await expect(client.get('/fleet')).rejects.toMatchObject({
        code: 'api_untrusted_certificate', message: expect.stringContaining(`certificate that ${other.caFile} does not vouch for`),
      });
    } finally {
      await other.close();
    }
  });

  it('says a port that does not answer in TLS is not the API', async () => {
    const plain = createHttpServer((_req, res) => res.end('hello'));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(plain.address() as AddressInfo).port}`;
      const client = createApiClient({ server: url, token: TOKEN, ca: api.caFile });
      await expect(client.get('/fleet')).rejects.toMatchObject({
        code: 'api_not_tls', message: expect.stringContaining(`${url} does not answer in TLS`),
      });
    } finally {
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });

  it('says when nothing listens', async () => {
    const closed = createHttpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const client = createApiClient({ server: url, token: TOKEN, ca: api.caFile });
    await expect(client.get('/fleet')).rejects.toMatchObject({ code: 'api_unreachable', message: expect.stringContaining(`cannot reach ${url}: `) });
  });

  it('reads text (the CRL) as it is', async () => {
    api.respond = () => ({ status: 200, body: '-----BEGIN X509 CRL-----\n', type: 'application/x-pem-file' });
    const client = createApiClient({ server: api.url, token: TOKEN, ca: api.caFile });
    expect(await client.getText('/pki/crl')).toBe('-----BEGIN X509 CRL-----\n');
  });

  it('needs a server and a token, and refuses http:// up front (the API is HTTPS only), even on loopback', () => {
    expect(() => createApiClient({ token: TOKEN })).toThrow(expect.objectContaining({ code: 'cli_no_server' }));
    expect(() => createApiClient({ server: api.url })).toThrow(expect.objectContaining({ code: 'cli_no_token' }));
    expect(() => createApiClient({ server: 'http://192.0.2.1:8443', token: TOKEN }))
      .toThrow(expect.objectContaining({ code: 'cli_insecure_server', message: 'the API is HTTPS only: use https://192.0.2.1:8443' }));
    expect(() => createApiClient({ server: 'http://127.0.0.1:8443/api/v1', token: TOKEN }))
      .toThrow(expect.objectContaining({ code: 'cli_insecure_server', message: 'the API is HTTPS only: use https://127.0.0.1:8443/api/v1' }));
    expect(() => createApiClient({ server: 'ftp://127.0.0.1:8443', token: TOKEN })).toThrow(expect.objectContaining({ code: 'cli_no_server' }));
    expect(() => createApiClient({ server: api.url, token: TOKEN, ca: '/no/such/ca.pem' })).toThrow(expect.objectContaining({ code: 'cli_ca_unreadable' }));
  });
});

describe('apiClientOptionsFrom', () => {
  it('takes the command line first, then SHELLGUARD_SERVER, SHELLGUARD_TOKEN and SHELLGUARD_CA', () => {
    const env = { SHELLGUARD_SERVER: 'https://env:1', SHELLGUARD_TOKEN: 'env-token', SHELLGUARD_CA: 'env-ca.pem' };
    expect(apiClientOptionsFrom({}, env)).toEqual({ server: 'https://env:1', token: 'env-token', ca: 'env-ca.pem' });
    expect(apiClientOptionsFrom({ server: 'https://cli:2', token: 't' }, env)).toEqual({ server: 'https://cli:2', token: 't', ca: 'env-ca.pem' });
    expect(apiClientOptionsFrom({}, {})).toEqual({});
  });
});
