/**
 * ISA-18.2 alarms over HTTP: the alarm list and history (any token), the operator's actions on
 * an alarm (acknowledge, shelve, unshelve: admin, engineer or technician) and the engineering
 * changes (rules, per-asset overrides, out of service, asset mode: admin or engineer). The engine
 * records each action in the alarm history and the audit log with the caller as actor
 * (`token:<id>`), so nothing is recorded here.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Role } from '../auth/roles.ts';
import type { AlarmEngine } from '../alarms/alarm-engine.ts';
import { AlarmError } from '../alarms/alarm-error.ts';
import {
  AlarmHistoryResponse, AlarmIdParams, AlarmListResponse, AlarmQuery, AlarmResponse, AlarmRuleDefinition, AlarmRuleListResponse,
  AlarmRuleQuery, AlarmRuleResponse, AssetModeBody, AssetModeResponse, AssetParams, CommentBody, OverrideParams, RuleOverridePatch,
  RuleOverrideResponse, ShelveBody,
} from './alarm-schemas.ts';
import { ApiError } from './api-error.ts';
import { actorOf, requireRole, WRITER_ROLES } from './bearer-auth.ts';
import { ErrorResponse } from './schemas.ts';

/** The engine methods the routes call: a port, so the routes can be tested against any engine. */
export type AlarmsApi = Pick<AlarmEngine,
  | 'list' | 'get' | 'history' | 'acknowledge' | 'shelve' | 'unshelve' | 'removeFromService' | 'returnToService'
  | 'rules' | 'effectiveRules' | 'defineRule' | 'overrideRule' | 'removeOverride' | 'setAssetMode' | 'assetMode'>;

export interface AlarmRoutesOptions {
  alarms: AlarmsApi;
}

/** Who may act on an alarm as an operator (ISA-18.2 §10.5): acknowledging and shelving. */
export const ALARM_OPERATOR_ROLES: readonly Role[] = ['admin', 'engineer', 'technician'];

const readErrors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse };
const writeErrors = { ...readErrors, 403: ErrorResponse, 409: ErrorResponse };
const operator = requireRole(ALARM_OPERATOR_ROLES);
const writer = requireRole(WRITER_ROLES);

/** Actions whose body is only an optional comment may be sent without a body (`curl -X POST`). */
async function noBodyIsEmpty(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}

export const alarmRoutes: FastifyPluginAsyncTypebox<AlarmRoutesOptions> = async (app, { alarms }) => {
  app.get('/alarms', {
    schema: {
      tags: ['alarms'], summary: 'Alarms, critical first then most recently changed; filter by state, site, asset, priority',
      querystring: AlarmQuery, response: { 200: AlarmListResponse, ...readErrors },
    },
  }, async (req) => {
    const { state, site, asset, priority } = req.query;
    return {
      alarms: alarms.list({
        ...(state !== undefined ? { state } : {}), ...(site !== undefined ? { site } : {}),
        ...(asset !== undefined ? { asset } : {}), ...(priority !== undefined ? { priority } : {}),
      }),
    };
  });

  app.get('/alarms/:id', {
    schema: { tags: ['alarms'], summary: 'One alarm', params: AlarmIdParams, response: { 200: AlarmResponse, ...readErrors } },
  }, async (req) => {
    const alarm = alarms.get(req.params.id);
    if (!alarm) throw new AlarmError('alarm_not_found', `no alarm ${req.params.id}`, { alarmId: req.params.id });
    return { alarm };
  });

  app.get('/alarms/:id/history', {
    schema: {
      tags: ['alarms'], summary: 'An alarm\'s history, oldest first: activations, clears and every operator action',
      params: AlarmIdParams, response: { 200: AlarmHistoryResponse, ...readErrors },
    },
  }, async (req) => ({ events: await alarms.history(req.params.id) }));

  app.post('/alarms/:id/ack', {
    onRequest: operator,
    preValidation: noBodyIsEmpty,
    schema: {
      tags: ['alarms'], summary: 'Acknowledge an unacknowledged alarm (409 if there is nothing to acknowledge)',
      params: AlarmIdParams, body: CommentBody, response: { 200: AlarmResponse, ...writeErrors },
    },
  }, async (req) => ({ alarm: await alarms.acknowledge(req.params.id, actorOf(req), req.body.comment) }));

  app.post('/alarms/:id/shelve', {
    onRequest: operator,
    schema: {
      tags: ['alarms'], summary: 'Shelve an alarm: timed (durationMs) or one-shot (until it clears), never beyond the rule\'s maxShelveMs',
      params: AlarmIdParams, body: ShelveBody, response: { 200: AlarmResponse, ...writeErrors },
    },
  }, async (req) => {
    const { kind, durationMs, comment } = req.body;
    return {
      alarm: await alarms.shelve(req.params.id, actorOf(req), {
        kind, ...(durationMs !== undefined ? { durationMs } : {}), ...(comment !== undefined ? { comment } : {}),
      }),
    };
  });

  app.post('/alarms/:id/unshelve', {
    onRequest: operator,
    preValidation: noBodyIsEmpty,
    schema: {
      tags: ['alarms'], summary: 'Unshelve an alarm: it annunciates again (a still-active condition comes back unacknowledged)',
      params: AlarmIdParams, body: CommentBody, response: { 200: AlarmResponse, ...writeErrors },
    },
  }, async (req) => ({ alarm: await alarms.unshelve(req.params.id, actorOf(req), req.body.comment) }));

  app.post('/alarms/:id/remove-from-service', {
    onRequest: writer,
    preValidation: noBodyIsEmpty,
    schema: {
      tags: ['alarms'], summary: 'Take an alarm out of service (e.g. a broken transmitter awaiting repair)',
      params: AlarmIdParams, body: CommentBody, response: { 200: AlarmResponse, ...writeErrors },
    },
  }, async (req) => ({ alarm: await alarms.removeFromService(req.params.id, actorOf(req), req.body.comment) }));

  app.post('/alarms/:id/return-to-service', {
    onRequest: writer,
    preValidation: noBodyIsEmpty,
    schema: {
      tags: ['alarms'], summary: 'Return an out-of-service alarm to service',
      params: AlarmIdParams, body: CommentBody, response: { 200: AlarmResponse, ...writeErrors },
    },
  }, async (req) => ({ alarm: await alarms.returnToService(req.params.id, actorOf(req), req.body.comment) }));

  app.get('/alarm-rules', {
    schema: {
      tags: ['alarms'], summary: 'Alarm rule definitions, optionally of one equipment profile',
      querystring: AlarmRuleQuery, response: { 200: AlarmRuleListResponse, ...readErrors },
    },
  }, async (req) => ({ rules: alarms.rules(req.query.profile !== undefined ? { profile: req.query.profile } : {}) }));

  app.get('/assets/:site/:asset/alarm-rules', {
    schema: {
      tags: ['alarms'], summary: 'The rules that apply to one asset, its overrides applied (disabled rules left out): what its charts draw as limits',
      params: AssetParams, response: { 200: AlarmRuleListResponse, ...readErrors },
    },
  }, async (req) => ({ rules: alarms.effectiveRules(req.params.site, req.params.asset) }));

  app.post('/alarm-rules', {
    onRequest: writer,
    schema: {
      tags: ['alarms'], summary: 'Define (or redefine) an alarm rule for a profile\'s point; 400 names the offending field',
      body: AlarmRuleDefinition, response: { 201: AlarmRuleResponse, ...writeErrors },
    },
  }, async (req, reply) => reply.code(201).send({ rule: await alarms.defineRule(req.body, actorOf(req)) }));

  app.put('/assets/:site/:asset/alarm-rules/:ruleId/override', {
    onRequest: writer,
    schema: {
      tags: ['alarms'], summary: 'Override a rule\'s parameters for one asset (replaces any earlier override of it there)',
      params: OverrideParams, body: RuleOverridePatch, response: { 200: RuleOverrideResponse, ...writeErrors },
    },
  }, async (req) => {
    const { site, asset, ruleId } = req.params;
    const patch = req.body as Record<string, unknown>;
    const rule = await alarms.overrideRule(site, asset, ruleId, patch, actorOf(req));
    return { override: { site, asset, ruleId, patch }, rule };
  });

  app.delete('/assets/:site/:asset/alarm-rules/:ruleId/override', {
    onRequest: writer,
    schema: {
      tags: ['alarms'], summary: 'Remove an asset\'s override: the profile\'s rule applies again',
      params: OverrideParams, response: { 204: Type.Null(), ...writeErrors },
    },
  }, async (req, reply) => {
    const { site, asset, ruleId } = req.params;
    if (!(await alarms.removeOverride(site, asset, ruleId, actorOf(req)))) {
      throw new ApiError('not_found', `asset ${site}/${asset} has no override of rule ${ruleId}`);
    }
    return reply.code(204).send(null);
  });

  app.put('/assets/:site/:asset/mode', {
    onRequest: writer,
    schema: {
      tags: ['alarms'], summary: 'Put an asset in maintenance (its alarms are suppressed by design) or back to normal',
      params: AssetParams, body: AssetModeBody, response: { 200: AssetModeResponse, ...writeErrors },
    },
  }, async (req) => {
    const { site, asset } = req.params;
    await alarms.setAssetMode(site, asset, req.body.mode, actorOf(req), req.body.comment);
    return { site, asset, mode: alarms.assetMode(site, asset) };
  });
};
