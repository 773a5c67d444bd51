/**
 * The one way the dashboard talks to the server: same-origin `/api/v1/...`, JSON in and out, the
 * session cookie sent by the browser. Every non-GET request carries the session's CSRF token in
 * `x-csrf-token`; a 403 `csrf_*` means the token went stale (another tab signed in again), so the
 * session is fetched again and the request retried once. A 401 anywhere means the session is gone:
 * the auth context hears it and shows the sign-in page.
 */

export const API_BASE = '/api/v1';

/** An error the API answered with (`{error:{code, message}}`), or a network failure (`status` 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}

type UnauthorizedListener = () => void;

let csrfToken: string | null = null;
let refreshSession: (() => Promise<string | null>) | null = null;
const unauthorizedListeners = new Set<UnauthorizedListener>();

/** Set by the auth context whenever it learns the session (sign-in, GET /session). */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** How to get a fresh CSRF token after a 403 `csrf_*` (the auth context re-reads the session). */
export function setSessionRefresher(refresher: (() => Promise<string | null>) | null): void {
  refreshSession = refresher;
}

export function onUnauthorized(listener: UnauthorizedListener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Do not report a 401 to the auth context (the sign-in and session probes themselves). */
  quietUnauthorized?: boolean;
}

async function errorOf(response: Response): Promise<ApiError> {
  let code = `http_${response.status}`;
  let message = response.statusText || `The server answered ${response.status}.`;
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
    if (body.error && typeof body.error.code === 'string') code = body.error.code;
    if (body.error && typeof body.error.message === 'string') message = body.error.message;
  } catch {
    // Not JSON (a proxy's error page): keep the status line.
  }
  return new ApiError(response.status, code, message);
}

async function send(method: string, path: string, body: unknown, options: RequestOptions, retried = false): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(`${API_BASE}${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (err) {
    if (isAbort(err)) throw err;
    throw new ApiError(0, 'network', 'The server cannot be reached. Check the network; the page retries on its own.');
  }
  if (response.ok) return response;
  const error = await errorOf(response);
  if (response.status === 401 && !options.quietUnauthorized) {
    for (const listener of unauthorizedListeners) listener();
  }
  if (response.status === 403 && error.code.startsWith('csrf_') && !retried && refreshSession) {
    csrfToken = await refreshSession();
    if (csrfToken) return send(method, path, body, options, true);
  }
  throw error;
}

async function json<T>(response: Response): Promise<T> {
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

export const api = {
  async get<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return json<T>(await send('GET', path, undefined, options));
  },
  async post<T>(path: string, body: unknown = {}, options: RequestOptions = {}): Promise<T> {
    return json<T>(await send('POST', path, body, options));
  },
  async delete<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return json<T>(await send('DELETE', path, undefined, options));
  },
};

/** A query string from the defined values only: `query({site, priority})` → `?site=x`. */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

/** A message a person can act on, for any error a request threw. */
export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
