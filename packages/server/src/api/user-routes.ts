/**
 * People's accounts over the API: admins only, except that a signed-in user may set their own
 * password. Every change is audited (user.create, user.role, user.disable, user.enable,
 * user.password) with the caller as actor; no answer and no audit event ever holds a password or
 * its hash. Disabling an account, or changing its role or password, ends its sessions at once.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuditLog } from '../audit/audit-log.ts';
import { ROLES, type Role } from '../auth/roles.ts';
import { MAX_PASSWORD_LENGTH, type UsersService } from '../auth/users.ts';
import { actorOf, requireRole } from './bearer-auth.ts';
import { clearedSessionCookie } from './session-cookie.ts';
import { ErrorResponse } from './schemas.ts';

export type UsersApi = Pick<UsersService, 'create' | 'list' | 'setRole' | 'disable' | 'enable' | 'setPassword'>;

export interface UserRoutesOptions {
  users: UsersApi;
  audit: AuditLog;
}

const RoleSchema = Type.Unsafe<Role>({ type: 'string', enum: [...ROLES] });
const Username = Type.String({ pattern: '^[a-z0-9._-]{1,64}$', description: '1-64 characters of a-z, 0-9, ".", "_" and "-"' });
const Password = Type.String({ maxLength: MAX_PASSWORD_LENGTH, description: 'At least 12 characters' });
export const UserView = Type.Object({
  username: Type.String(),
  role: RoleSchema,
  disabled: Type.Boolean(),
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
  lastSignInAt: Type.Union([Type.Integer(), Type.Null()]),
  lockedUntil: Type.Union([Type.Integer(), Type.Null()], { description: 'Sign-in locked after failures until then (epoch ms)' }),
});
const UserResponse = Type.Object({ user: UserView });
const UsernameParams = Type.Object({ username: Username });
const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse };
const adminOnly = requireRole(['admin']);

/** Admins, and a signed-in user for their own account (not an API token: a token is not a person). */
async function adminOrSelf(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const principal = request.principal;
  const { username } = request.params as { username?: string };
  if (principal?.kind === 'user' && principal.id === username) return undefined;
  return adminOnly(request, reply);
}

export const userRoutes: FastifyPluginAsyncTypebox<UserRoutesOptions> = async (app, { users, audit }) => {
  app.get('/users', {
    onRequest: adminOnly,
    schema: { tags: ['users'], summary: 'People who may sign in to the dashboard, with their roles', response: { 200: Type.Object({ users: Type.Array(UserView) }), ...errors } },
  }, async () => ({ users: await users.list() }));

  app.post('/users', {
    onRequest: adminOnly,
    schema: {
      tags: ['users'], summary: 'Create a user with a role and a password (at least 12 characters)',
      body: Type.Object({ username: Username, role: RoleSchema, password: Password }),
      response: { 201: UserResponse, ...errors },
    },
  }, async (req, reply) => {
    const user = await users.create(req.body.username, req.body.role, req.body.password);
    await audit.record({ actor: actorOf(req), action: 'user.create', target: `user:${user.username}`, detail: { role: user.role } });
    return reply.code(201).send({ user });
  });

  app.post('/users/:username/role', {
    onRequest: adminOnly,
    schema: {
      tags: ['users'], summary: 'Change a user\'s role; their sessions end',
      params: UsernameParams, body: Type.Object({ role: RoleSchema }), response: { 200: UserResponse, ...errors },
    },
  }, async (req) => {
    const { user, previousRole } = await users.setRole(req.params.username, req.body.role);
    await audit.record({ actor: actorOf(req), action: 'user.role', target: `user:${user.username}`, detail: { from: previousRole, to: user.role } });
    return { user };
  });

  app.post('/users/:username/disable', {
    onRequest: adminOnly,
    schema: { tags: ['users'], summary: 'Disable a user: sign-in refused, sessions ended at once', params: UsernameParams, response: { 200: UserResponse, ...errors } },
  }, async (req) => {
    const user = await users.disable(req.params.username);
    await audit.record({ actor: actorOf(req), action: 'user.disable', target: `user:${user.username}`, detail: {} });
    return { user };
  });

  app.post('/users/:username/enable', {
    onRequest: adminOnly,
    schema: { tags: ['users'], summary: 'Enable a user again; also lifts a sign-in lock-out', params: UsernameParams, response: { 200: UserResponse, ...errors } },
  }, async (req) => {
    const user = await users.enable(req.params.username);
    await audit.record({ actor: actorOf(req), action: 'user.enable', target: `user:${user.username}`, detail: {} });
    return { user };
  });

  app.post('/users/:username/password', {
    onRequest: adminOrSelf,
    schema: {
      tags: ['users'], summary: 'Set a user\'s password (admin, or the signed-in user for themself); every session of the user ends',
      params: UsernameParams, body: Type.Object({ password: Password }), response: { 200: UserResponse, ...errors },
    },
  }, async (req, reply) => {
    const user = await users.setPassword(req.params.username, req.body.password);
    const self = req.principal?.kind === 'user' && req.principal.id === user.username;
    await audit.record({ actor: actorOf(req), action: 'user.password', target: `user:${user.username}`, detail: { self } });
    // The caller's own session ended with the others: let the browser forget it too.
    if (self) reply.header('set-cookie', clearedSessionCookie());
    return { user };
  });
};
