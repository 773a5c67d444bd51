/**
 * Every route needs `Authorization: Bearer <token>` (ARCHITECTURE.md §2: nothing listens without
 * authentication), including the OpenAPI document and health. Runs as the first hook, before
 * routing, validation or any handler; unknown paths are refused the same way, so an anonymous
 * caller cannot even tell which routes exist.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiTokens, TokenPrincipal } from '../auth/api-tokens.ts';
import { errorBody } from './api-error.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: TokenPrincipal | null;
  }
}

const BEARER = /^Bearer ([^\s]+)$/i;

export function requireBearerToken(app: FastifyInstance, tokens: Pick<ApiTokens, 'verify'>): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
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
