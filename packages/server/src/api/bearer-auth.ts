/**
 * Every route needs `Authorization: Bearer <token>` (ARCHITECTURE.md §2: nothing listens without
 * authentication), including the OpenAPI document and health. Runs as the first hook, before
 * routing, validation or any handler; unknown paths are refused the same way, so an anonymous
 * caller cannot even tell which routes exist.
 *
 * The one exception is the attestation exchange (`anonymous`): a guardian has no token, and its
 * evidence is authenticated by its own signature. Exempt routes are matched by exact method and
 * path (no prefix, no pattern), so an exemption cannot widen by accident.
 *
 * People from the web dashboard authenticate with the `sg_session` cookie instead (when
 * `sessions` is given). A cookie is an ambient credential, sent by the browser whoever started
 * the request, so a cookie-authenticated request that may change state (anything but GET, HEAD,
 * OPTIONS) must also carry the session's CSRF token in `x-csrf-token` (OWASP CSRF Prevention
 * Cheat Sheet: synchronizer token, on top of SameSite=Strict). A bearer token is never sent by
 * the browser on its own, so it needs none. When both are present the Authorization header
 * decides, and a bad one is refused without falling back to the cookie.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiTokens } from '../auth/api-tokens.ts';
import type { Role } from '../auth/roles.ts';
import type { ActiveSession, SessionService } from '../auth/sessions.ts';
import { errorBody } from './api-error.ts';
import { clearedSessionCookie, CSRF_HEADER, sessionCookiesOf } from './session-cookie.ts';

/** Who an authenticated request acts for: an API token (`id` = token id) or a signed-in person (`id` = username). No secret. */
export interface Principal {
  kind: 'token' | 'user';
  id: string;
  name: string;
  role: Role;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** The web session of a cookie-authenticated request; null for API tokens and anonymous routes. */
    webSession: ActiveSession | null;
  }
}

/** Methods that must not change state (RFC 9110 §9.2.1), so they need no CSRF token. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

function sameSecret(presented: string, expected: string): boolean {
  const a = Buffer.from(presented, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  // Lengths are not secret (every CSRF token has 43 characters); the content is compared in constant time.
  return a.length === b.length && timingSafeEqual(a, b);
}

const BEARER = /^Bearer ([^\s]+)$/i;

/** A route reachable without a token: exact method and path (no query string). */
export interface AnonymousRoute {
  method: 'GET' | 'POST';
  path: string;
}

export interface BearerAuthOptions {
  anonymous?: readonly AnonymousRoute[];
  /**
   * Requests that need no authentication beyond `anonymous` (the web app shell, which holds no
   * data). Asked only for GET and HEAD, and never honoured for a request routed under /api/.
   */
  isPublic?: (method: string, path: string) => boolean;
  /** Web sessions (the `sg_session` cookie); without them only API tokens authenticate. */
  sessions?: Pick<SessionService, 'authenticate'>;
  /**
   * GET routes (exact route patterns, e.g. `/api/v1/tuf/:product/:stream/metadata/:file`) a guardian
   * may read with its TLS client certificate instead of a token, when `isAllowedPeer` accepts it.
   * The principal stays null: such a request can reach nothing that asks for a role.
   */
  peerCertificate?: { routes: readonly string[]; isAllowedPeer: (request: FastifyRequest) => boolean | Promise<boolean> };
}

export function requireBearerToken(
  app: FastifyInstance, tokens: Pick<ApiTokens, 'verify'>, options: BearerAuthOptions = {},
): void {
  const anonymous = new Set((options.anonymous ?? []).map((r) => `${r.method} ${r.path}`));
  app.decorateRequest('principal', null);
  app.decorateRequest('webSession', null);
  const sessions = options.sessions;
  const peerRoutes = options.peerCertificate ? new Set(options.peerCertificate.routes) : undefined;
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (anonymous.size > 0) {
      const q = request.url.indexOf('?');
      const path = q === -1 ? request.url : request.url.slice(0, q);
      if (anonymous.has(`${request.method} ${path}`)) return;
    }
    if (options.isPublic && (request.method === 'GET' || request.method === 'HEAD')
      && !(request.routeOptions.url ?? '').startsWith('/api/')) {
      const q = request.url.indexOf('?');
      if (options.isPublic(request.method, q === -1 ? request.url : request.url.slice(0, q))) return;
    }
    const header = request.headers.authorization;
    if (peerRoutes && header === undefined && request.method === 'GET' && peerRoutes.has(request.routeOptions.url ?? '')
      && await options.peerCertificate!.isAllowedPeer(request)) return;
    if (header === undefined && sessions) {
      const cookies = sessionCookiesOf(request.headers.cookie);
      if (cookies.length > 0) return authenticateSession(request, reply, sessions, cookies);
    }
    const m = header ? BEARER.exec(header) : null;
    const verified = m ? await tokens.verify(m[1]!) : undefined;
    const principal: Principal | undefined = verified && { kind: 'token', id: verified.tokenId, name: verified.name, role: verified.role };
    if (!principal) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="shellguard"')
        .send(errorBody('unauthorized', header
          ? 'the API token is not valid (expired, revoked or mistyped)'
          : 'send an API token: Authorization: Bearer sgt_...'));
    }
    request.principal = principal;
  });
}

async function authenticateSession(
  request: FastifyRequest, reply: FastifyReply, sessions: Pick<SessionService, 'authenticate'>, cookies: string[],
): Promise<unknown> {
  // Two session cookies: one was planted from a sibling host or another path. Refuse rather than guess.
  const session = cookies.length === 1 ? await sessions.authenticate(cookies[0]!) : undefined;
  if (!session) {
    return reply.code(401).header('set-cookie', clearedSessionCookie())
      .send(errorBody('unauthorized', cookies.length === 1
        ? 'the session has ended (signed out, expired or the account changed): sign in again'
        : 'more than one session cookie was sent: sign in again'));
  }
  if (!SAFE_METHODS.has(request.method)) {
    const presented = request.headers[CSRF_HEADER];
    if (typeof presented !== 'string' || presented === '') {
      return reply.code(403).send(errorBody('csrf_missing', `send the session's CSRF token (from POST or GET /api/v1/session) in ${CSRF_HEADER}`));
    }
    if (!sameSecret(presented, session.csrfToken)) {
      return reply.code(403).send(errorBody('csrf_mismatch', `${CSRF_HEADER} is not this session's CSRF token: fetch it again with GET /api/v1/session`));
    }
  }
  request.principal = { kind: 'user', id: session.user.username, name: session.user.username, role: session.user.role };
  request.webSession = session;
  return undefined;
}

/**
 * For a long-lived request (the event stream): re-checks, later, that the credential it was
 * authenticated with still stands with the same role — the token not revoked, the session not
 * ended (sign-out, expiry, account disabled or re-roled). An open stream must not outlive the
 * right to read what it carries.
 */
export function credentialRecheck(
  tokens: Pick<ApiTokens, 'verify'>, sessions?: Pick<SessionService, 'authenticate'>,
): (request: FastifyRequest) => () => Promise<boolean> {
  return (request) => {
    const principal = request.principal;
    if (!principal) return async () => false;
    if (principal.kind === 'user') {
      const cookies = sessionCookiesOf(request.headers.cookie);
      return async () => {
        if (!sessions || cookies.length !== 1) return false;
        const session = await sessions.authenticate(cookies[0]!);
        return session !== undefined && session.user.username === principal.id && session.user.role === principal.role;
      };
    }
    const m = request.headers.authorization ? BEARER.exec(request.headers.authorization) : null;
    return async () => {
      const verified = m ? await tokens.verify(m[1]!) : undefined;
      return verified !== undefined && verified.tokenId === principal.id && verified.role === principal.role;
    };
  };
}

/** Roles that may change state (ARCHITECTURE.md §2): everyone else reads. */
export const WRITER_ROLES: readonly Role[] = ['admin', 'engineer'];

/**
 * A route `onRequest` hook that answers 403 `forbidden` unless the caller (token or user) has one of
 * `roles`. It runs before the body is read or validated, so a refused caller learns nothing else.
 */
export function requireRole(roles: readonly Role[]): (request: FastifyRequest, reply: FastifyReply) => Promise<unknown> {
  return async (request, reply) => {
    const role = request.principal?.role;
    if (role === undefined || !roles.includes(role)) {
      return reply.code(403).send(errorBody('forbidden',
        `this needs the role ${roles.join(' or ')}${role ? `; this ${request.principal?.kind === 'user' ? 'user' : 'token'} has the role ${role}` : ''}`));
    }
  };
}

/** The audit actor of an authenticated request: `token:<id>` or `user:<username>` (never a secret). */
export function actorOf(request: FastifyRequest): string {
  if (!request.principal) throw new Error('actorOf called on a request without a principal');
  return `${request.principal.kind}:${request.principal.id}`;
}
