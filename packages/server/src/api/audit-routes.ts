/** The audit log (hash-chained) and incidents, for any authenticated token. */
import { type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AuditLog } from '../audit/audit-log.ts';
import type { IncidentLog } from '../incidents/incident-log.ts';
import {
  AuditListResponse, AuditQuery, AuditVerification, IncidentListResponse, IncidentQuery,
} from './fleet-schemas.ts';
import { ErrorResponse } from './schemas.ts';

const errors = { 400: ErrorResponse, 401: ErrorResponse };

export const auditRoutes: FastifyPluginAsyncTypebox<{ audit: AuditLog }> = async (app, { audit }) => {
  app.get('/audit', {
    schema: {
      tags: ['audit'], summary: 'Audit events in sequence order, after `afterSeq`',
      querystring: AuditQuery, response: { 200: AuditListResponse, ...errors },
    },
  }, async (req) => ({
    events: audit.list({ afterSeq: req.query.afterSeq, limit: req.query.limit, target: req.query.target }),
  }));

  app.get('/audit/verify', {
    schema: {
      tags: ['audit'], summary: 'Walk the hash chain; says where it breaks, if it does',
      response: { 200: AuditVerification, ...errors },
    },
  }, async () => audit.verify());
};

export const incidentRoutes: FastifyPluginAsyncTypebox<{ incidents: IncidentLog }> = async (app, { incidents }) => {
  app.get('/incidents', {
    schema: {
      tags: ['incidents'], summary: 'Incidents, newest first',
      querystring: IncidentQuery, response: { 200: IncidentListResponse, ...errors },
    },
  }, async (req) => ({
    incidents: incidents.list({ status: req.query.status, deviceId: req.query.deviceId, limit: req.query.limit }),
  }));
};
