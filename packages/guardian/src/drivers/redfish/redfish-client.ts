/**
 * A read-only Redfish client: GETs resources as JSON objects, authenticated by HTTP Basic on every
 * request or by one Redfish session (DSP0266 §13.3: login by POST to the sessions collection, the
 * X-Auth-Token header on every request, logout by DELETE of the session URI).
 *
 * Passwords and tokens live only in this object's private fields and in the request headers and
 * login body; no log line or error message carries them.
 */
import type { Logger } from 'pino';
import { RedfishError } from './errors.ts';
import { HttpsTransport, type Credentials, type RedfishResponse, type TransportOptions } from './https-transport.ts';
import { parseResource } from './json-document.ts';
import { SESSIONS_PATH, buildRequest, refusalOf, type RedfishRequest } from './request.ts';

export interface RedfishClientOptions extends TransportOptions {
  auth: 'basic' | 'session';
  username: string;
  password: string;
  logger?: Logger;
}

/** What a token may be to go into a header: visible ASCII (RFC 9110 §5.5 field-value, no spaces). */
const TOKEN = /^[\x21-\x7e]{1,4096}$/;

export class RedfishClient {
  readonly #transport: HttpsTransport;
  readonly #options: RedfishClientOptions;
  readonly #basic: string;
  #token: string | undefined;
  #sessionUri: string | undefined;
  #loggingIn: Promise<void> | undefined;
  #closed = false;

  constructor(options: RedfishClientOptions) {
    if (options.username.length === 0 || options.username.includes(':')) {
      throw new RedfishError('redfish_config_invalid', 'redfish.username must be non-empty and hold no colon (RFC 7617 §2)');
    }
    this.#options = options;
    this.#transport = new HttpsTransport(options);
    this.#basic = Buffer.from(`${options.username}:${options.password}`, 'utf8').toString('base64');
  }

  /** Whether a session is open now (session auth). */
  get hasSession(): boolean {
    return this.#token !== undefined;
  }

  /** GETs one resource and returns it as a JSON object; throws only `RedfishError`. */
  async getResource(path: string): Promise<Record<string, unknown>> {
    if (this.#closed) throw new RedfishError('redfish_client_closed', 'the Redfish client is closed');
    const request = buildRequest({ method: 'GET', path });
    const first = await this.#read(request);
    let res = first.res;
    if (res.status === 401 && this.#options.auth === 'session') {
      // DSP0266 §13.3.4: a session ends on timeout or at the BMC's restart; log in again, once.
      res = (await this.#read(request, first.token)).res;
    }
    return this.#resourceOf(res, path);
  }

  /** Sends a GET; `expiredToken` is a token the BMC refused, to be replaced by a new login first. */
  async #read(request: RedfishRequest, expiredToken?: string): Promise<{ res: RedfishResponse; token?: string }> {
    const credentials = await this.#credentials(expiredToken);
    const token = credentials && 'token' in credentials ? credentials.token : undefined;
    try {
      return { res: await this.#transport.send(request, credentials, this.#sessionUri), ...(token ? { token } : {}) };
    } catch (err) {
      // A kept-alive socket the BMC closed meanwhile: a GET is safe to send once more (RFC 9110 §9.2.2).
      if (err instanceof RedfishError && err.code === 'redfish_connection_failed' && err.details.reusedSocket === true) {
        return { res: await this.#transport.send(request, credentials, this.#sessionUri), ...(token ? { token } : {}) };
      }
      throw err;
    }
  }

  async #credentials(expiredToken: string | undefined): Promise<Credentials> {
    if (this.#options.auth === 'basic') return { basic: this.#basic };
    // Only the first of several concurrent 401s for the same token logs in again.
    if (expiredToken !== undefined && this.#token === expiredToken) {
      this.#token = undefined;
      this.#sessionUri = undefined;
    }
    if (this.#token === undefined) {
      this.#loggingIn ??= this.#login().finally(() => { this.#loggingIn = undefined; });
      await this.#loggingIn;
    }
    return { token: this.#token! };
  }

  async #login(): Promise<void> {
    const { username, password, host, port } = this.#options;
    const request = buildRequest({ method: 'POST', path: SESSIONS_PATH, body: { UserName: username, Password: password } });
    const res = await this.#transport.send(request, undefined, undefined);
    if (res.status === 401 || res.status === 403) {
      throw new RedfishError('redfish_auth_failed', `login as ${username} at ${host}:${port} was refused (${res.status}); check redfish.username and the password file`, { status: res.status, username });
    }
    if (res.status !== 201 && res.status !== 200) {
      throw new RedfishError('redfish_auth_failed', `login at ${host}:${port} answered ${res.status}, not 201 Created; does the BMC offer sessions? Otherwise use auth: basic`, { status: res.status });
    }
    if (res.authToken === undefined || !TOKEN.test(res.authToken)) {
      throw new RedfishError('redfish_auth_failed', `login at ${host}:${port} returned no usable X-Auth-Token header; use auth: basic with this BMC`, { status: res.status });
    }
    this.#token = res.authToken;
    this.#sessionUri = this.#sessionUriOf(res);
    if (this.#sessionUri === undefined) {
      this.#options.logger?.warn({ host, port }, 'redfish login returned no session URI; the session cannot be deleted at close and ends by its timeout');
    } else {
      this.#options.logger?.debug({ host, port, session: this.#sessionUri }, 'redfish session opened');
    }
  }

  /** The session URI from Location (path or absolute URL, §13.3.4) or the body's @odata.id. */
  #sessionUriOf(res: RedfishResponse): string | undefined {
    const candidates: string[] = [];
    if (res.location !== undefined) {
      try {
        candidates.push(new URL(res.location, 'https://bmc.invalid').pathname);
      } catch { /* not a URL: try the body */ }
    }
    try {
      const id = (JSON.parse(res.body.toString('utf8')) as Record<string, unknown>)['@odata.id'];
      if (typeof id === 'string') candidates.push(id);
    } catch { /* no body */ }
    return candidates.map((c) => c.replace(/\/$/, '')).find((c) => c.startsWith(`${SESSIONS_PATH}/`) && refusalOf('DELETE', c, c) === undefined);
  }

  #resourceOf(res: RedfishResponse, path: string): Record<string, unknown> {
    const { host, port, username } = this.#options;
    if (res.status === 401) {
      throw new RedfishError('redfish_auth_failed', `GET ${path}: ${host}:${port} refused the credentials of ${username} (401); check redfish.username and the password file`, { status: 401, path });
    }
    if (res.status !== 200) {
      throw new RedfishError('redfish_http_status', `GET ${path}: the BMC answered ${res.status}${messageOf(res)}; check the profile's resource and redfish.chassis`, { status: res.status, path });
    }
    // DSP0266 §8.1: resources are application/json (a charset parameter may follow).
    if (!/^application\/json\s*(?:;|$)/i.test(res.contentType)) {
      throw new RedfishError('redfish_response_invalid', `GET ${path}: the BMC answered with content type ${JSON.stringify(res.contentType.slice(0, 80))}, not application/json`, { path });
    }
    return parseResource(res.body.toString('utf8'), path);
  }

  /** Logs out (deletes the session) when one is open, then closes every socket. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#loggingIn?.catch(() => undefined);
    const token = this.#token;
    const uri = this.#sessionUri;
    this.#token = undefined;
    if (token !== undefined && uri !== undefined) {
      try {
        const res = await this.#transport.send(buildRequest({ method: 'DELETE', path: uri }, uri), { token }, uri);
        this.#options.logger?.debug({ session: uri, status: res.status }, 'redfish session deleted');
      } catch (err) {
        this.#options.logger?.warn({ session: uri, code: (err as RedfishError).code }, 'redfish logout failed; the session ends by its timeout');
      }
    }
    this.#sessionUri = undefined;
    this.#transport.close();
  }
}

/** The Redfish error message of a failed request (DSP0266 §9.6, error.message), shortened. */
function messageOf(res: RedfishResponse): string {
  try {
    const e = (JSON.parse(res.body.toString('utf8')) as { error?: { message?: unknown } }).error;
    if (typeof e?.message === 'string') return ` (${e.message.slice(0, 160)})`;
  } catch { /* not JSON */ }
  return '';
}
