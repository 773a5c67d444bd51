/**
 * Every route needs `Authorization: Bearer <token>` (ARCHITECTURE.md §2: nothing listens without
 * authentication), including the OpenAPI document and health. Runs as the first hook, before
 * routing, validation or any handler; unknown paths are refused the same way, so an anonymous
 * caller cannot even tell which routes exist.
 *
 * The one exception is the attestation exchange (`anonymous`): a guardian has no token, and its
 * evidence is authenticated by its own signature. Exempt routes are matched by exact method and
 * path (no prefix, no pattern), so an exemption cannot widen by accident.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiTokens, TokenPrincipal } from '../auth/api-tokens.ts';
import type { Role } from '../auth/roles.ts';
import { errorBody } from './api-error.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: TokenPrincipal | null;
  }
}

const BEARER = /^Bearer ([^\s]+)$/i;

/** A route reachable without a token: exact method and path (no query string). */
export interface AnonymousRoute {
  method: 'GET' | 'POST';
  path: string;
}

export interface BearerAuthOptions {
  anonymous?: readonly AnonymousRoute[];
}

export function requireBearerToken(
  app: FastifyInstance, tokens: Pick<ApiTokens, 'verify'>, options: BearerAuthOptions = {},
): void {
  const anonymous = new Set((options.anonymous ?? []).map((r) => `${r.method} ${r.path}`));
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (anonymous.size > 0) {
      const q = request.url.indexOf('?');
      const path = q === -1 ? request.url : request.url.slice(0, q);
      if (anonymous.has(`${request.method} ${path}`)) return;
    }
    const header = request.headers.authorization;
    const m = header ? BEARER.exec(header) : null;
    const principal = m ? tokens.verify(m[1]!) : undefined;
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

/** Roles that may change state (ARCHITECTURE.md §2): everyone else reads. */
export const WRITER_ROLES: readonly Role[] = ['admin', 'engineer'];

/**
 * A route `onRequest` hook that answers 403 `forbidden` unless the caller's token has one of
 * `roles`. It runs before the body is read or validated, so a refused caller learns nothing else.
 */
export function requireRole(roles: readonly Role[]): (request: FastifyRequest, reply: FastifyReply) => Promise<unknown> {
  return async (request, reply) => {
    const role = request.principal?.role;
    if (role === undefined || !roles.includes(role)) {
      return reply.code(403).send(errorBody('forbidden',
        `this needs a token with the role ${roles.join(' or ')}${role ? `; this token has the role ${role}` : ''}`));
    }
  };
}

/** The audit actor of an authenticated request: `token:<id>` (never the secret). */
export function actorOf(request: FastifyRequest): string {
  if (!request.principal) throw new Error('actorOf called on a request without a principal');
  return `token:${request.principal.tokenId}`;
}
