/**
 * Deployments over HTTP: deploy a release to a group, watch its waves and devices, pause,
 * resume, abort, start installs in a maintenance window, defer a device, and the group's version
 * report. Any signed-in role reads; admins and engineers act, each action audited by the engine
 * with the caller as actor.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { DeploymentService } from '../updates/rollout/deployment-service.ts';
import { DeploymentError } from '../updates/rollout/deployment-error.ts';
import { actorOf, requireRole, WRITER_ROLES } from './bearer-auth.ts';
import {
  DeferBody, DeploymentCreateBody, DeploymentDeviceParams, DeploymentListQuery, DeploymentListResponse, DeploymentParams,
  DeploymentViewResponse, DeviceListResponse, DeviceResponse, OptionalReasonBody, VersionReportParams, VersionReportQuery, VersionReportResponse,
} from './deployment-schemas.ts';
import { ErrorResponse } from './schemas.ts';

export type DeploymentsApi = Pick<
  DeploymentService, 'create' | 'list' | 'get' | 'devices' | 'pause' | 'resume' | 'abort' | 'startInstalls' | 'defer' | 'versionReport'
>;

const readErrors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse };
const writeErrors = { ...readErrors, 403: ErrorResponse, 409: ErrorResponse };
const writer = requireRole(WRITER_ROLES);

function epochMs(until: number | string): number {
  const ms = typeof until === 'number' ? until : Date.parse(until);
  if (!Number.isFinite(ms)) throw new DeploymentError('deployment_invalid', 'until must be epoch milliseconds or an ISO 8601 time');
  return ms;
}

export const deploymentRoutes: FastifyPluginAsyncTypebox<{ deployments: DeploymentsApi }> = async (app, { deployments }) => {
  app.post('/deployments', {
    onRequest: writer,
    schema: {
      tags: ['updates'], summary: 'Deploy a genuine release to a device group in waves; the first wave is instructed at once',
      body: DeploymentCreateBody, response: { 201: DeploymentViewResponse, ...writeErrors },
    },
  }, async (req, reply) => reply.code(201).send(await deployments.create(req.body, actorOf(req))));

  app.get('/deployments', {
    schema: { tags: ['updates'], summary: 'Deployments, newest first', querystring: DeploymentListQuery, response: { 200: DeploymentListResponse, ...readErrors } },
  }, async (req) => {
    const { group, stream, state, limit } = req.query;
    return { deployments: await deployments.list({ group, stream, states: state ? [state] : undefined, limit }) };
  });

  app.get('/deployments/:id', {
    schema: { tags: ['updates'], summary: 'A deployment with its progress: devices per state, per wave, percent healthy', params: DeploymentParams, response: { 200: DeploymentViewResponse, ...readErrors } },
  }, async (req) => deployments.get(req.params.id));

  app.get('/deployments/:id/devices', {
    schema: { tags: ['updates'], summary: 'Every device of a deployment: its wave, state, reason and history', params: DeploymentParams, response: { 200: DeviceListResponse, ...readErrors } },
  }, async (req) => ({ devices: await deployments.devices(req.params.id) }));

  app.post('/deployments/:id/pause', {
    onRequest: writer,
    schema: { tags: ['updates'], summary: 'Pause: no device is instructed until resumed (statuses are still judged)', params: DeploymentParams, body: OptionalReasonBody, response: { 200: DeploymentViewResponse, ...writeErrors } },
  }, async (req) => deployments.pause(req.params.id, actorOf(req), req.body.reason));

  app.post('/deployments/:id/resume', {
    onRequest: writer,
    schema: { tags: ['updates'], summary: 'Resume a paused deployment', params: DeploymentParams, body: OptionalReasonBody, response: { 200: DeploymentViewResponse, ...writeErrors } },
  }, async (req) => deployments.resume(req.params.id, actorOf(req), req.body.reason));

  app.post('/deployments/:id/abort', {
    onRequest: writer,
    schema: { tags: ['updates'], summary: 'Abort (final): devices that have not installed stay on their version', params: DeploymentParams, body: OptionalReasonBody, response: { 200: DeploymentViewResponse, ...writeErrors } },
  }, async (req) => deployments.abort(req.params.id, actorOf(req), req.body.reason));

  app.post('/deployments/:id/start-installs', {
    onRequest: writer,
    schema: { tags: ['updates'], summary: 'Inside a maintenance window: tell the waiting devices to install, until the window closes', params: DeploymentParams, response: { 200: DeploymentViewResponse, ...writeErrors } },
  }, async (req) => deployments.startInstalls(req.params.id, actorOf(req)));

  app.post('/deployments/:id/devices/:deviceId/defer', {
    onRequest: writer,
    schema: { tags: ['updates'], summary: 'Hold one device back until a time (it is instructed then)', params: DeploymentDeviceParams, body: DeferBody, response: { 200: DeviceResponse, ...writeErrors } },
  }, async (req) => ({ device: await deployments.defer(req.params.id, req.params.deviceId, epochMs(req.body.until), req.body.reason, actorOf(req)) }));

  app.get('/groups/:group/version-report', {
    schema: {
      tags: ['updates'], summary: "Each device's version on a stream against the group's target deployment; mismatches listed",
      params: VersionReportParams, querystring: VersionReportQuery, response: { 200: VersionReportResponse, ...readErrors },
    },
  }, async (req) => deployments.versionReport(req.params.group, req.query.stream ?? 'application'));
};
