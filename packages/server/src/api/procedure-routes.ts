/**
 * Digital methods of procedure over HTTP: procedure versions and their approval, work orders
 * through their states, step confirmations, deviation acknowledgements, the panel board, panel
 * security alerts and site stops. Any signed-in caller reads; who may act is the domain's rule
 * (two-person approval, managers acknowledge and silence, assigned technicians confirm), checked
 * in the domain, so the routes only say who is asking.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { ProcedureLibrary } from '../procedures/procedure-library.ts';
import type { PanelSupervisor } from '../procedures/panel-supervisor.ts';
import type { ProcedureActor } from '../procedures/procedure-actor.ts';
import { actorOf } from './bearer-auth.ts';
import {
  AlertParams, DeviationResponse, NoteBody, OkResponse, PanelAlertListResponse, PanelAlertResponse, PanelBoardResponse, ProcedureListResponse,
  ProcedureParams, ProcedureQuery, ProcedureResponse, ProcedureSubmitBody, ReasonBody, SiteParams, SiteQuery, SiteStopResponse, StepParams,
  WorkOrderCreateBody, WorkOrderDetailResponse, WorkOrderListResponse, WorkOrderParams, WorkOrderQuery, WorkOrderResponse,
} from './procedure-schemas.ts';
import { ErrorResponse } from './schemas.ts';

export interface ProceduresApi {
  library: ProcedureLibrary;
  supervisor: PanelSupervisor;
}

const readErrors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse };
const writeErrors = { ...readErrors, 403: ErrorResponse, 409: ErrorResponse };

function actor(request: FastifyRequest): ProcedureActor {
  const p = request.principal!;
  return { id: actorOf(request), name: p.kind === 'user' ? p.id : `token:${p.id}`, role: p.role };
}

export const procedureRoutes: FastifyPluginAsyncTypebox<{ procedures: ProceduresApi }> = async (app, { procedures }) => {
  const { library, supervisor } = procedures;

  app.get('/procedures', {
    schema: { tags: ['procedures'], summary: 'Procedure versions, newest version first per procedure', querystring: ProcedureQuery, response: { 200: ProcedureListResponse, ...readErrors } },
  }, async (req) => ({ procedures: await library.list(req.query.procedureId) }));

  app.post('/procedures', {
    schema: {
      tags: ['procedures'], summary: 'Submit a procedure template (YAML) as its next version; it needs approval by someone else before use',
      body: ProcedureSubmitBody, response: { 201: ProcedureResponse, ...writeErrors },
    },
  }, async (req, reply) => reply.code(201).send({ procedure: await library.submit(req.body.source, actor(req)) }));

  app.get('/procedures/:procedureId/versions/:version', {
    schema: { tags: ['procedures'], summary: 'One procedure version', params: ProcedureParams, response: { 200: ProcedureResponse, ...readErrors } },
  }, async (req) => ({ procedure: await library.get(req.params.procedureId, req.params.version) }));

  app.post('/procedures/:procedureId/versions/:version/approve', {
    schema: { tags: ['procedures'], summary: 'Approve a version (not by its author: two-person rule)', params: ProcedureParams, response: { 200: ProcedureResponse, ...writeErrors } },
  }, async (req) => ({ procedure: await library.approve(req.params.procedureId, req.params.version, actor(req)) }));

  app.get('/dmop/work-orders', {
    schema: { tags: ['procedures'], summary: 'DMOP work orders, newest first', querystring: WorkOrderQuery, response: { 200: WorkOrderListResponse, ...readErrors } },
  }, async (req) => ({ workOrders: await supervisor.listWorkOrders(req.query) }));

  app.post('/dmop/work-orders', {
    schema: { tags: ['procedures'], summary: 'Create a work order (draft) from an approved procedure for named panels and a window', body: WorkOrderCreateBody, response: { 201: WorkOrderResponse, ...writeErrors } },
  }, async (req, reply) => reply.code(201).send({ workOrder: await supervisor.createWorkOrder(req.body, actor(req)) }));

  app.get('/dmop/work-orders/:id', {
    schema: { tags: ['procedures'], summary: 'A work order with its procedure, the step expected now, the step log, deviations and what its panels report', params: WorkOrderParams, response: { 200: WorkOrderDetailResponse, ...readErrors } },
  }, async (req) => supervisor.detail(req.params.id));

  app.post('/dmop/work-orders/:id/approve', {
    schema: { tags: ['procedures'], summary: 'Approve a draft work order (a manager other than its creator)', params: WorkOrderParams, response: { 200: WorkOrderResponse, ...writeErrors } },
  }, async (req) => ({ workOrder: await supervisor.approveWorkOrder(req.params.id, actor(req)) }));

  app.post('/dmop/work-orders/:id/release', {
    schema: { tags: ['procedures'], summary: 'Release an approved work order to its panels: they show "released" and suppress only the expected alarms', params: WorkOrderParams, response: { 200: WorkOrderResponse, ...writeErrors } },
  }, async (req) => ({ workOrder: await supervisor.releaseWorkOrder(req.params.id, actor(req)) }));

  app.post('/dmop/work-orders/:id/start', {
    schema: { tags: ['procedures'], summary: 'An assigned technician starts the work', params: WorkOrderParams, response: { 200: WorkOrderResponse, ...writeErrors } },
  }, async (req) => ({ workOrder: await supervisor.startWorkOrder(req.params.id, actor(req)) }));

  app.post('/dmop/work-orders/:id/steps/:step/confirm', {
    schema: { tags: ['procedures'], summary: 'Confirm the current confirmation step (1-based), by an assigned technician', params: StepParams, body: NoteBody, response: { 200: WorkOrderResponse, ...writeErrors } },
  }, async (req) => ({ workOrder: await supervisor.confirmStep(req.params.id, req.params.step, actor(req), req.body.note ?? '') }));

  app.post('/dmop/work-orders/:id/abort', {
    schema: { tags: ['procedures'], summary: 'Abort a work order, with a reason', params: WorkOrderParams, body: ReasonBody, response: { 200: WorkOrderResponse, ...writeErrors } },
  }, async (req) => ({ workOrder: await supervisor.abortWorkOrder(req.params.id, req.body.reason, actor(req)) }));

  app.post('/dmop/deviations/:id/acknowledge', {
    schema: { tags: ['procedures'], summary: 'A manager acknowledges a deviation with a reason: the klaxon stops and the work resumes at the expected step', params: AlertParams, body: ReasonBody, response: { 200: DeviationResponse, ...writeErrors } },
  }, async (req) => ({ deviation: await supervisor.acknowledgeDeviation(req.params.id, req.body.reason, actor(req)) }));

  app.get('/panels', {
    schema: { tags: ['procedures'], summary: 'Every panel with what its Andon tower shows and why, its door and breakers, and site stops', querystring: SiteQuery, response: { 200: PanelBoardResponse, ...readErrors } },
  }, async (req) => ({ panels: supervisor.panelBoard(req.query.site), stops: supervisor.siteStops() }));

  app.get('/panel-alerts', {
    schema: { tags: ['procedures'], summary: 'Unsilenced panel security alerts (a panel opened or operated with no released work order)', querystring: SiteQuery, response: { 200: PanelAlertListResponse, ...readErrors } },
  }, async (req) => ({ alerts: supervisor.openAlerts(req.query.site).filter((a) => a.id > 0) }));

  app.post('/panel-alerts/:id/silence', {
    schema: { tags: ['procedures'], summary: 'A manager silences a panel alert with a reason; the alert and its incident stay', params: AlertParams, body: ReasonBody, response: { 200: PanelAlertResponse, ...writeErrors } },
  }, async (req) => ({ alert: await supervisor.silenceAlert(req.params.id, req.body.reason, actor(req)) }));

  app.post('/sites/:site/stop', {
    schema: { tags: ['procedures'], summary: 'Stop all work at a site: every released work order pauses and every panel shows stop', params: SiteParams, body: ReasonBody, response: { 200: SiteStopResponse, ...writeErrors } },
  }, async (req) => ({ stop: await supervisor.stopSite(req.params.site, req.body.reason, actor(req)) }));

  app.post('/sites/:site/resume', {
    schema: { tags: ['procedures'], summary: 'Resume work at a stopped site', params: SiteParams, body: ReasonBody, response: { 200: OkResponse, ...writeErrors } },
  }, async (req) => {
    await supervisor.resumeSite(req.params.site, req.body.reason, actor(req));
    return { ok: true };
  });
};
