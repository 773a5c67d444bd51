/**
 * Signing in and out of the web dashboard: `POST /session` (the one token-less route here),
 * `GET /session` and `DELETE /session`.
 *
 * Sign-in answers the same `401 sign_in_failed` for an unknown name, a wrong password and a
 * disabled account, in comparable time (users.ts); a locked name answers `429 account_locked`
 * whether or not an account has it. A new cookie value is made at every sign-in and any session
 * the browser came with is ended, so a value planted beforehand never becomes signed in
 * (session fixation, OWASP Session Management Cheat Sheet). Sign-in is rate-limited per client
 * address, which bounds both password guessing across names and how many names one address can
 * lock. The password is never logged: fastify logs method and URL only, and no log line here
 * takes the body.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AuditLog } from '../audit/audit-log.ts';
import { ROLES, type Role } from '../auth/roles.ts';
import type { SessionService } from '../auth/sessions.ts';
import { MAX_PASSWORD_LENGTH, type UsersService } from '../auth/users.ts';
import { errorBody } from './api-error.ts';
import { actorOf, type AnonymousRoute } from './bearer-auth.ts';
import { ClientRateLimiter, type RateLimit } from './client-rate-limiter.ts';
import { clearedSessionCookie, CSRF_HEADER, sessionCookie, sessionCookiesOf } from './session-cookie.ts';
import { ErrorResponse } from './schemas.ts';

/** Sign-ins per client address: a person mistyping is never slowed; a guesser gets 10 a minute. */
export const DEFAULT_SIGN_IN_RATE_LIMIT: RateLimit = { burst: 10, perSecond: 1 / 6 };

/** The route the auth hook lets through without a token or session: exactly this one. */
export function signInRoute(apiPrefix: string): AnonymousRoute {
  return { method: 'POST', path: `${apiPrefix}/session` };
}

export interface SessionRoutesOptions {
  users: Pick<UsersService, 'authenticate'>;
  sessions: Pick<SessionService, 'create' | 'revoke' | 'signOut'>;
  rateLimit: RateLimit;
  now: () => number;
  /** Sign-ins and sign-outs are recorded when given. */
  audit?: AuditLog;
}

const RoleSchema = Type.Unsafe<Role>({ type: 'string', enum: [...ROLES] });
export const SessionResponse = Type.Object({
  user: Type.Object({ username: Type.String(), role: RoleSchema }),
  csrfToken: Type.String({ description: `Send it in ${CSRF_HEADER} on every request but GET, HEAD and OPTIONS` }),
  expiresAt: Type.Integer({ description: 'Epoch ms: the session ends then at the latest (sooner after the idle timeout)' }),
});

const SIGN_IN_FAILED = 'wrong username or password (or the account is disabled)';

export const sessionRoutes: FastifyPluginAsyncTypebox<SessionRoutesOptions> = async (app, options) => {
  const { users, sessions, audit, now } = options;
  const limiter = new ClientRateLimiter(options.rateLimit, now);

  app.post('/session', {
    onRequest: async (request, reply) => {
      const waitMs = limiter.take(request.ip);
      if (waitMs > 0) {
        return reply.code(429).header('retry-after', String(Math.ceil(waitMs / 1000)))
          .send(errorBody('rate_limited', 'too many sign-in attempts from this address; retry later'));
      }
    },
    schema: {
      tags: ['session'],
      summary: 'Sign in: sets the HttpOnly sg_session cookie and returns the CSRF token (no API token needed)',
      security: [],
      body: Type.Object({
        username: Type.String({ maxLength: 256 }),
        password: Type.String({ maxLength: MAX_PASSWORD_LENGTH }),
      }),
      response: { 200: SessionResponse, 400: ErrorResponse, 401: ErrorResponse, 429: ErrorResponse },
    },
  }, async (req, reply) => {
    const result = await users.authenticate(req.body.username, req.body.password);
    if (!result.ok) {
      if (result.code === 'account_locked') {
        const waitMs = Math.max(0, result.lockedUntil - now());
        const minutes = Math.max(1, Math.ceil(waitMs / 60_000));
        req.log.info({ ip: req.ip }, 'sign-in refused: name locked after repeated failures');
        return reply.code(429).header('retry-after', String(Math.ceil(waitMs / 1000))).send(errorBody('account_locked',
          `locked for ${minutes} more minute${minutes === 1 ? '' : 's'} after repeated failed sign-ins; try again then, or ask an admin to unlock it`));
      }
      req.log.info({ ip: req.ip }, 'sign-in failed');
      return reply.code(401).send(errorBody('sign_in_failed', SIGN_IN_FAILED));
    }
    // Whatever session the browser came with ends here; the new one has a value never seen before.
    for (const previous of sessionCookiesOf(req.headers.cookie)) await sessions.revoke(previous);
    const created = await sessions.create(result.user);
    const actor = `user:${created.user.username}`;
    await audit?.record({ actor, action: 'session.create', target: actor, detail: { ip: req.ip } });
    req.log.info({ user: created.user.username, ip: req.ip }, 'signed in');
    return reply.header('set-cookie', sessionCookie(created.token, created.expiresAt - now()))
      .send({ user: created.user, csrfToken: created.csrfToken, expiresAt: created.expiresAt });
  });

  app.get('/session', {
    schema: {
      tags: ['session'], summary: 'The signed-in user and the session\'s CSRF token (401 without a session)',
      response: { 200: SessionResponse, 401: ErrorResponse },
    },
  }, async (req, reply) => {
    const session = req.webSession;
    if (!session) return reply.code(401).send(errorBody('unauthorized', 'no web session: sign in with POST /api/v1/session'));
    return { user: session.user, csrfToken: session.csrfToken, expiresAt: session.expiresAt };
  });

  app.delete('/session', {
    schema: {
      tags: ['session'], summary: 'Sign out: ends the session and clears the cookie',
      response: { 204: Type.Null(), 401: ErrorResponse, 403: ErrorResponse },
    },
  }, async (req, reply) => {
    const session = req.webSession;
    if (session && (await sessions.signOut(session))) {
      await audit?.record({ actor: actorOf(req), action: 'session.delete', target: actorOf(req), detail: {} });
    }
    return reply.code(204).header('set-cookie', clearedSessionCookie()).send(null);
  });
};
