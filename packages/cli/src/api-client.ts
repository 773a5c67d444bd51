/**
 * A small client for the Shellguard HTTP API, for the admin verbs (`device`, `group`, `fleet`,
 * `audit`). HTTPS with the site's CA (`--ca`), an API token (`--token` or SHELLGUARD_TOKEN; never
 * printed) and the server's URL (`--server` or SHELLGUARD_SERVER). Errors from the API keep the
 * API's code, so a person sees "code: message".
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ShellguardError, errorMessage } from '@shellguard/protocol';
import { describeConnectionError, type ConnectionErrorCode } from './connection-error.ts';

export type ApiClientErrorCode =
  | 'cli_no_server'
  | 'cli_no_token'
  | 'cli_insecure_server'
  | 'cli_ca_unreadable'
  | ConnectionErrorCode
  | 'api_bad_response'
  | (string & {});

/** An error the API answered with (its own code), or one on the way there. */
export class ApiClientError extends ShellguardError<ApiClientErrorCode> {
  /** The HTTP status, when the API answered. */
  readonly status: number | undefined;

  constructor(code: ApiClientErrorCode, message: string, status?: number) {
    super(code, message, status !== undefined ? { status } : {});
    this.status = status;
  }

  /** How a person should see it: `code: message`. */
  describe(): string {
    return `${this.code}: ${this.message}`;
  }
}

export interface ApiClientOptions {
  /** Base URL, e.g. https://127.0.0.1:8443 (with or without /api/v1). */
  server?: string;
  token?: string;
  /** CA certificate file (PEM) to trust for the server, e.g. the site's root CA. */
  ca?: string;
}

export interface ApiClient {
  readonly baseUrl: string;
  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T>;
  getText(path: string): Promise<string>;
  post<T>(path: string, body: unknown): Promise<T>;
  put<T>(path: string, body: unknown): Promise<T>;
}

/** Options from the command line win over the environment. */
export function apiClientOptionsFrom(opts: ApiClientOptions, env: NodeJS.ProcessEnv = process.env): ApiClientOptions {
  const server = opts.server ?? env.SHELLGUARD_SERVER;
  const token = opts.token ?? env.SHELLGUARD_TOKEN;
  const ca = opts.ca ?? env.SHELLGUARD_CA;
  return { ...(server ? { server } : {}), ...(token ? { token } : {}), ...(ca ? { ca } : {}) };
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  if (!options.server) {
    throw new ApiClientError('cli_no_server', 'say which server: --server https://host:port or SHELLGUARD_SERVER');
  }
  if (!options.token) {
    throw new ApiClientError('cli_no_token', 'an API token is needed: --token sgt_... or SHELLGUARD_TOKEN');
  }
  let url: URL;
  try {
    url = new URL(options.server);
  } catch {
    throw new ApiClientError('cli_no_server', `"${options.server}" is not a URL such as https://127.0.0.1:8443`);
  }
  // The API listens only in TLS, and a token never crosses a network in clear text: say so at
  // once rather than let an http:// request end in "socket hang up".
  if (url.protocol === 'http:') {
    throw new ApiClientError('cli_insecure_server', `the API is HTTPS only: use https://${url.host}${url.pathname === '/' ? '' : url.pathname}`);
  }
  if (url.protocol !== 'https:') {
    throw new ApiClientError('cli_no_server', `"${options.server}" is not an https:// URL such as https://127.0.0.1:8443`);
  }
  let ca: string | undefined;
  if (options.ca) {
    try {
      ca = readFileSync(options.ca, 'utf8');
    } catch (err) {
      throw new ApiClientError('cli_ca_unreadable', `cannot read the CA file ${options.ca}: ${errorMessage(err)}`);
    }
  }
  const basePath = url.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '') + '/api/v1';
  const baseUrl = `${url.origin}${basePath}`;
  const token = options.token;

  function send(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<{ status: number; type: string; text: string }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const target = new URL(`${baseUrl}${path}`);
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json, */*' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    return new Promise((resolve, reject) => {
      const req = httpsRequest(target, { method, headers, ...(ca ? { ca } : {}) }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({
          status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8'),
        }));
        res.on('error', reject);
      });
      req.on('error', (err) => {
        const failure = describeConnectionError(err, url.origin, options.ca);
        reject(new ApiClientError(failure.code, failure.message));
      });
      req.end(payload);
    });
  }

  function check(res: { status: number; text: string }): void {
    if (res.status >= 200 && res.status < 300) return;
    let code = `http_${res.status}`;
    let message = res.text.slice(0, 500);
    try {
      const parsed = JSON.parse(res.text) as { error?: { code?: unknown; message?: unknown } };
      if (typeof parsed.error?.code === 'string') code = parsed.error.code;
      if (typeof parsed.error?.message === 'string') message = parsed.error.message;
    } catch {
      // not JSON: keep the start of the text
    }
    throw new ApiClientError(code, message, res.status);
  }

  function parse<T>(res: { text: string }): T {
    try {
      return JSON.parse(res.text) as T;
    } catch {
      throw new ApiClientError('api_bad_response', 'the server answered with something that is not JSON');
    }
  }

  return {
    baseUrl,
    async get<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
      const qs = params.size > 0 ? `?${params.toString()}` : '';
      const res = await send('GET', `${path}${qs}`);
      check(res);
      return parse<T>(res);
    },
    async getText(path: string): Promise<string> {
      const res = await send('GET', path);
      check(res);
      return res.text;
    },
    async post<T>(path: string, body: unknown): Promise<T> {
      const res = await send('POST', path, body);
      check(res);
      return parse<T>(res);
    },
    async put<T>(path: string, body: unknown): Promise<T> {
      const res = await send('PUT', path, body);
      check(res);
      return parse<T>(res);
    },
  };
}
