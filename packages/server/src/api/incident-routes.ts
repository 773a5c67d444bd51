/**
 * Incidents as tickets over HTTP. Any signed-in role reads them (the list, and one incident with
 * its comments, history and evidence); assigning and moving the status need admin, engineer or
 * manager (a manager runs the incident process); commenting is open to technicians too, since
 * they were on site and know what happened. The store records each change in the history and the
 * audit log with the caller as actor, so nothing is recorded here.
 */
import { type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Role } from '../auth/roles.ts';
import { IncidentError } from '../incidents/incident-error.ts';
import type { IncidentTickets } from '../incidents/incident-log.ts';
import { actorOf, requireRole } from './bearer-auth.ts';
import {
  AssignBody, CommentBody, IncidentCommentResponse, IncidentIdParams, IncidentListResponse, IncidentQuery, IncidentResponse,
  IncidentReviewResponse, StatusBody,
} from './incident-schemas.ts';
import { ErrorResponse } from './schemas.ts';

export interface IncidentRoutesOptions {
  incidents: IncidentTickets;
}

/** Who may assign incidents and move their status. */
export const INCIDENT_HANDLER_ROLES: readonly Role[] = ['admin', 'engineer', 'manager'];
/** Who may comment: the handlers, and the technicians who were there. */
export const INCIDENT_COMMENTER_ROLES: readonly Role[] = [...INCIDENT_HANDLER_ROLES, 'technician'];

const readErrors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse };
const writeErrors = { ...readErrors, 403: ErrorResponse, 409: ErrorResponse };
const handler = requireRole(INCIDENT_HANDLER_ROLES);
const commenter = requireRole(INCIDENT_COMMENTER_ROLES);

export const incidentRoutes: FastifyPluginAsyncTypebox<IncidentRoutesOptions> = async (app, { incidents }) => {
  app.get('/incidents', {
    schema: {
      tags: ['incidents'], summary: 'Incidents, newest first; filter by status, kind, site, asset, assignee or device',
      querystring: IncidentQuery, response: { 200: IncidentListResponse, ...readErrors },
    },
  }, async (req) => ({ incidents: await incidents.list(req.query) }));

  app.get('/incidents/:id', {
    schema: {
      tags: ['incidents'], summary: 'One incident with its comments, history (oldest first) and captured evidence',
      params: IncidentIdParams, response: { 200: IncidentReviewResponse, ...readErrors },
    },
  }, async (req) => {
    const review = await incidents.get(req.params.id);
    if (!review) throw new IncidentError('incident_not_found', `no incident ${req.params.id}`, { incidentId: req.params.id });
    return review;
  });

  app.post('/incidents/:id/assign', {
    onRequest: handler,
    schema: {
      tags: ['incidents'], summary: 'Assign the incident to a person (a username), or unassign it with null',
      params: IncidentIdParams, body: AssignBody, response: { 200: IncidentResponse, ...writeErrors },
    },
  }, async (req) => ({ incident: await incidents.assign(req.params.id, req.body.assignee, actorOf(req)) }));

  app.post('/incidents/:id/comments', {
    onRequest: commenter,
    schema: {
      tags: ['incidents'], summary: 'Add a comment: what was seen, done or learned',
      params: IncidentIdParams, body: CommentBody, response: { 201: IncidentCommentResponse, ...writeErrors },
    },
  }, async (req, reply) => reply.code(201).send({ comment: await incidents.comment(req.params.id, actorOf(req), req.body.text) }));

  app.post('/incidents/:id/status', {
    onRequest: handler,
    schema: {
      tags: ['incidents'],
      summary: 'Move the status: open → acknowledged → resolved → closed, resolved → open; resolving, closing unresolved and reopening need a note',
      params: IncidentIdParams, body: StatusBody, response: { 200: IncidentResponse, ...writeErrors },
    },
  }, async (req) => ({ incident: await incidents.setStatus(req.params.id, req.body.status, actorOf(req), req.body.note) }));
};
