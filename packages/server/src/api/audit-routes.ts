/** The audit log (keyed hash chain, anchored outside the database), for any authenticated token. Incidents: incident-routes.ts. */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AUDIT_PROBLEM_CODES, type AuditLog, type AuditProblemCode } from '../audit/audit-log.ts';
import { AuditListResponse, AuditQuery } from './fleet-schemas.ts';
import { ErrorResponse } from './schemas.ts';

// Responses are serialised by their schema: a member missing here would be dropped silently.
const AuditProblem = Type.Object({
  code: Type.Unsafe<AuditProblemCode>({ type: 'string', enum: [...AUDIT_PROBLEM_CODES], description: 'What was found (see AUDIT_PROBLEM_CODES)' }),
  seq: Type.Optional(Type.Integer({ description: 'First event concerned' })),
  lastSeq: Type.Optional(Type.Integer({ description: 'Last event concerned, when several' })),
  line: Type.Optional(Type.Integer({ description: 'Anchor file line concerned' })),
  message: Type.String(),
});

export const AuditVerificationResponse = Type.Object({
  ok: Type.Boolean({ description: 'No problem at all' }),
  events: Type.Integer({ description: 'Events present' }),
  brokenAt: Type.Optional(Type.Integer({ description: 'First event a problem concerns' })),
  keyedFromSeq: Type.Optional(Type.Integer({ description: 'Events from here on are keyed (HMAC-SHA256); earlier ones predate the key' })),
  problems: Type.Array(AuditProblem),
  omittedProblems: Type.Optional(Type.Integer({ description: 'Problems found beyond those listed' })),
  anchors: Type.Object({
    checked: Type.Integer({ description: 'Valid anchors in the anchor file' }),
    newest: Type.Optional(Type.Object({ seq: Type.Integer(), hash: Type.String(), at: Type.Integer(), line: Type.Integer() })),
  }),
});

const errors = { 400: ErrorResponse, 401: ErrorResponse };

export const auditRoutes: FastifyPluginAsyncTypebox<{ audit: AuditLog }> = async (app, { audit }) => {
  app.get('/audit', {
    schema: {
      tags: ['audit'], summary: 'Audit events: oldest first after `afterSeq`, or newest first (`order=desc`, before `beforeSeq`)',
      querystring: AuditQuery, response: { 200: AuditListResponse, ...errors },
    },
  }, async (req) => ({
    events: await audit.list({
      afterSeq: req.query.afterSeq, beforeSeq: req.query.beforeSeq, limit: req.query.limit,
      target: req.query.target, actor: req.query.actor, actionPrefix: req.query.action,
      newestFirst: req.query.order === 'desc' || req.query.beforeSeq !== undefined,
    }),
  }));

  app.get('/audit/verify', {
    schema: {
      tags: ['audit'],
      summary: 'Check the keyed hash chain and its anchors; says what is wrong and where',
      response: { 200: AuditVerificationResponse, ...errors },
    },
  }, async () => audit.verify());
};
