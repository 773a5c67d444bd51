/**
 * API tokens managed over the API, by admins only (an engineer must not mint an admin token).
 * The plaintext token is in the create response, once; the audit log records who created or
 * revoked which token id and role, never the secret.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiTokens } from '../auth/api-tokens.ts';
import { ROLES, type Role as RoleName } from '../auth/roles.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { ApiError } from './api-error.ts';
import { actorOf, requireRole } from './bearer-auth.ts';
import { ErrorResponse } from './schemas.ts';

export type TokenAdmin = Pick<ApiTokens, 'create' | 'list' | 'revoke'>;

const Role = Type.Unsafe<RoleName>({ type: 'string', enum: [...ROLES] });
const TokenInfo = Type.Object({
  tokenId: Type.String(),
  name: Type.String(),
  role: Role,
  createdAt: Type.Integer(),
  lastUsedAt: Type.Union([Type.Integer(), Type.Null()]),
  revokedAt: Type.Union([Type.Integer(), Type.Null()]),
});
const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse };
const adminOnly = requireRole(['admin']);

export const tokenRoutes: FastifyPluginAsyncTypebox<{ tokens: TokenAdmin; audit: AuditLog }> = async (app, { tokens, audit }) => {
  app.get('/tokens', {
    onRequest: adminOnly,
    schema: { tags: ['tokens'], summary: 'API tokens (never their secrets)', response: { 200: Type.Object({ tokens: Type.Array(TokenInfo) }), ...errors } },
  }, async () => ({ tokens: await tokens.list() }));

  app.post('/tokens', {
    onRequest: adminOnly,
    schema: {
      tags: ['tokens'], summary: 'Create an API token; the response holds its value, shown this once',
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), role: Role }),
      response: { 201: Type.Object({ ...TokenInfo.properties, token: Type.String() }), ...errors },
    },
  }, async (req, reply) => {
    const created = await tokens.create(req.body.name, req.body.role);
    await audit.record({
      actor: actorOf(req), action: 'token.create', target: `token:${created.tokenId}`, detail: { name: created.name, role: created.role },
    });
    return reply.code(201).send(created);
  });

  app.post('/tokens/:tokenId/revoke', {
    onRequest: adminOnly,
    schema: {
      tags: ['tokens'], summary: 'Revoke an API token: it stops working at once',
      params: Type.Object({ tokenId: Type.String({ pattern: '^[0-9a-f]{16}$' }) }),
      response: { 200: Type.Object({ tokenId: Type.String(), revoked: Type.Literal(true) }), ...errors },
    },
  }, async (req) => {
    if (!await tokens.revoke(req.params.tokenId)) throw new ApiError('not_found', `no active token ${req.params.tokenId}`);
    await audit.record({ actor: actorOf(req), action: 'token.revoke', target: `token:${req.params.tokenId}`, detail: {} });
    return { tokenId: req.params.tokenId, revoked: true as const };
  });
};
