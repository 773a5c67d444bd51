/**
 * Redfish requests for the read-only driver (DMTF DSP0266, the Redfish specification).
 *
 * This is the lowest layer of the trust model (ARCHITECTURE.md §2): `buildRequest` is the only
 * function that makes a `RedfishRequest`, and the HTTPS transport sends nothing else. It makes:
 *
 * - `GET` of a path under `/redfish/v1` (DSP0266 §7.2, "GET (read requests)"), without a body;
 * - `POST /redfish/v1/SessionService/Sessions` with `{ UserName, Password }`: the login that
 *   creates a session (DSP0266 §13.3.4, "Session login");
 * - `DELETE` of exactly the session URI that login returned: the logout (§13.3.6).
 *
 * Everything else (PATCH, PUT, HEAD, POST anywhere else, DELETE of any other URI, any path with
 * an `Actions` segment such as `ComputerSystem.Reset`) is refused with `redfish_method_refused`
 * before any socket exists. Headers are not an input at all: the transport writes its own fixed
 * set, so no `X-HTTP-Method-Override` can smuggle a write through a GET.
 */
import { RedfishError } from './errors.ts';

export const SESSIONS_PATH = '/redfish/v1/SessionService/Sessions';
/** A session's URI as login returns it: one member of the sessions collection. */
const SESSION_URI = /^\/redfish\/v1\/SessionService\/Sessions\/[A-Za-z0-9_.~%-]{1,128}$/;
/** RFC 3986 path characters, without query or fragment; `{` `}` are never sent (templates are filled first). */
const PATH = /^\/redfish\/v1(?:\/[A-Za-z0-9._~%!$&'()*+,;=:@-]+)*\/?$/;
const MAX_PATH_LENGTH = 1024;

export type RedfishMethod = 'GET' | 'POST' | 'DELETE';
/** What a request is for: a read, or one of the two session requests. */
export type RequestPurpose = 'read' | 'login' | 'logout';

export type RequestSpec =
  | { method: 'GET'; path: string }
  | { method: 'POST'; path: typeof SESSIONS_PATH; body: { UserName: string; Password: string } }
  | { method: 'DELETE'; path: string };

const BUILT = Symbol('RedfishRequest');

/** A request that passed the allow-list. Only `buildRequest` can make one. */
export class RedfishRequest {
  readonly method: RedfishMethod;
  readonly path: string;
  readonly purpose: RequestPurpose;
  /** The login body (JSON); absent on GET and DELETE. */
  readonly body?: Buffer;
  private constructor(token: symbol, method: RedfishMethod, path: string, purpose: RequestPurpose, body?: Buffer) {
    if (token !== BUILT) throw new RedfishError('redfish_method_refused', 'Redfish requests are built only by buildRequest');
    this.method = method;
    this.path = path;
    this.purpose = purpose;
    if (body) this.body = body;
  }
  /** @internal */
  static [BUILT](method: RedfishMethod, path: string, purpose: RequestPurpose, body?: Buffer): RedfishRequest {
    return new RedfishRequest(BUILT, method, path, purpose, body);
  }
  /** Never shows the login body (it holds the password). */
  toJSON(): Record<string, unknown> {
    return { method: this.method, path: this.path, purpose: this.purpose };
  }
}

function refuse(message: string, details: Record<string, unknown>): never {
  throw new RedfishError('redfish_method_refused', `${message}; the Redfish driver only reads (GET /redfish/v1/..., plus session login and logout)`, details);
}

function safePath(v: unknown): string {
  return typeof v === 'string' ? v.slice(0, 200) : typeof v;
}

/**
 * Why `method path` is not allowed, or undefined when it is. `sessionUri` is the URI the current
 * login returned (the only one DELETE may name). Shared by the builder and the transport's
 * re-check, so the two cannot disagree.
 */
export function refusalOf(method: unknown, path: unknown, sessionUri: string | undefined): string | undefined {
  if (method !== 'GET' && method !== 'POST' && method !== 'DELETE') return `method ${safePath(method)} is not allowed`;
  if (typeof path !== 'string' || path.length > MAX_PATH_LENGTH || !PATH.test(path)) return `path ${safePath(path)} is not a /redfish/v1/... path`;
  const segments = path.split('/');
  if (segments.some((s) => s === '.' || s === '..' || /^(?:\.|%2e){1,2}$/i.test(s))) return `path ${safePath(path)} has a dot segment`;
  // An action is invoked by POST, but no action URI is ever requested at all (DSP0266 §7.10).
  if (segments.some((s) => s.toLowerCase() === 'actions')) return `path ${safePath(path)} is an action`;
  if (method === 'POST' && path !== SESSIONS_PATH) return `POST is allowed only to ${SESSIONS_PATH} (login), not ${safePath(path)}`;
  if (method === 'DELETE') {
    if (sessionUri === undefined || !SESSION_URI.test(sessionUri)) return 'DELETE is allowed only of the current session, and there is none';
    if (path !== sessionUri) return `DELETE is allowed only of the current session, not ${safePath(path)}`;
  }
  return undefined;
}

/**
 * The single chokepoint that makes a request. Its argument is checked at run time as if it were
 * untyped, because the point is that nothing else can reach the wire.
 */
export function buildRequest(spec: RequestSpec, sessionUri?: string): RedfishRequest {
  const s = (typeof spec === 'object' && spec !== null ? spec : {}) as Record<string, unknown>;
  const refusal = refusalOf(s.method, s.path, sessionUri);
  if (refusal) refuse(refusal, { method: safePath(s.method), path: safePath(s.path) });
  const method = s.method as RedfishMethod;
  const path = s.path as string;
  if (method === 'GET') {
    if (s.body !== undefined) refuse('a GET has no body', { method, path });
    return RedfishRequest[BUILT](method, path, 'read');
  }
  if (method === 'DELETE') {
    if (s.body !== undefined) refuse('a logout has no body', { method, path });
    return RedfishRequest[BUILT](method, path, 'logout');
  }
  const body = s.body as Record<string, unknown> | undefined;
  if (typeof body !== 'object' || body === null || Array.isArray(body)
    || Object.keys(body).sort().join(',') !== 'Password,UserName'
    || typeof body.UserName !== 'string' || typeof body.Password !== 'string' || body.UserName.length === 0) {
    refuse('a login carries exactly { UserName, Password } (strings)', { method, path });
  }
  // Serialised here, from the two strings only: nothing else can ride along in the body.
  return RedfishRequest[BUILT](method, path, 'login', Buffer.from(JSON.stringify({ UserName: body.UserName, Password: body.Password })));
}

/** The re-check the transport makes before writing: a genuine request, still allowed now. */
export function checkBuiltRequest(req: unknown, sessionUri: string | undefined): RedfishRequest {
  if (!(req instanceof RedfishRequest)) refuse('only requests made by buildRequest are sent', {});
  const refusal = refusalOf(req.method, req.path, sessionUri);
  if (refusal) refuse(refusal, { method: req.method, path: safePath(req.path) });
  if ((req.method === 'POST') !== (req.body !== undefined)) refuse('only a login carries a body', { method: req.method, path: req.path });
  return req;
}
