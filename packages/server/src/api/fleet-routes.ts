/**
 * Fleet administration and views: groups, releases (reference manifests), claims, revocation,
 * quarantine, the fleet view, the version report and device reports. Reads need any token; writes
 * need an admin or engineer token, and the service records each write in the audit log with the
 * caller as actor (`token:<id>`). The CRL, which needs no token, is in pki-routes.ts.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { actorOf, requireRole, WRITER_ROLES } from './bearer-auth.ts';
import type { FleetApi } from './fleet-api.ts';
import {
  BulkClaimRequest, BulkClaimResponse, ClaimRecord, DeviceClaim, DeviceIdParams, DeviceReportsResponse, FleetViewResponse,
  GroupDefinition, GroupRecord, OptionalReasonBody, ReasonBody, ReleaseManifest, ReleaseRecord, VersionReportResponse,
} from './fleet-schemas.ts';
import { ErrorResponse } from './schemas.ts';

export interface FleetRoutesOptions {
  fleet: FleetApi;
}

const readErrors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse };
const writeErrors = { ...readErrors, 403: ErrorResponse, 409: ErrorResponse };
const writer = requireRole(WRITER_ROLES);
const GroupParams = Type.Object({ group: GroupDefinition.properties.id });
const ClaimResponse = Type.Object({ claim: ClaimRecord });

export const fleetRoutes: FastifyPluginAsyncTypebox<FleetRoutesOptions> = async (app, { fleet }) => {
  app.post('/groups', {
    onRequest: writer,
    schema: {
      tags: ['fleet'], summary: 'Define a device group (or change its site check and minimum secure version)',
      body: GroupDefinition, response: { 201: Type.Object({ group: GroupRecord }), ...writeErrors },
    },
  }, async (req, reply) => {
    const group = await fleet.defineGroup(req.body, actorOf(req));
    return reply.code(201).send({ group });
  });

  app.post('/groups/:group/releases', {
    onRequest: writer,
    schema: {
      tags: ['fleet'], summary: 'Register a release of a group: the reference values its devices must measure',
      params: GroupParams, body: ReleaseManifest,
      response: { 201: Type.Object({ release: ReleaseRecord }), ...writeErrors },
    },
  }, async (req, reply) => {
    const release = await fleet.registerRelease({ group: req.params.group, ...req.body }, actorOf(req));
    return reply.code(201).send({ release });
  });

  app.post('/claims', {
    onRequest: writer,
    schema: {
      tags: ['fleet'], summary: 'Claim a device into a site and group (unclaimed devices get nothing)',
      body: DeviceClaim, response: { 201: ClaimResponse, ...writeErrors },
    },
  }, async (req, reply) => {
    const claim = await fleet.claim(req.body, actorOf(req));
    return reply.code(201).send({ claim });
  });

  app.post('/claims/bulk', {
    onRequest: writer,
    // 10,000 claims of ~200 bytes each.
    bodyLimit: 4 * 1024 * 1024,
    schema: {
      tags: ['fleet'], summary: 'Claim many devices; each claim succeeds or fails on its own',
      body: BulkClaimRequest, response: { 200: BulkClaimResponse, ...writeErrors },
    },
  }, async (req) => fleet.claimMany(req.body.claims, actorOf(req)));

  app.post('/fleet/:deviceId/revoke', {
    onRequest: writer,
    schema: {
      tags: ['fleet'], summary: 'Revoke a device: its certificates are revoked and it is disconnected (final)',
      params: DeviceIdParams, body: ReasonBody, response: { 200: ClaimResponse, ...writeErrors },
    },
  }, async (req) => ({ claim: await fleet.revoke(req.params.deviceId, actorOf(req), req.body.reason) }));

  app.post('/fleet/:deviceId/release', {
    onRequest: writer,
    schema: {
      tags: ['fleet'], summary: 'Release a device from quarantine so it may attest again',
      params: DeviceIdParams, body: OptionalReasonBody, response: { 200: ClaimResponse, ...writeErrors },
    },
  }, async (req) => ({ claim: await fleet.releaseQuarantine(req.params.deviceId, actorOf(req), req.body.reason) }));

  app.get('/fleet', {
    schema: {
      tags: ['fleet'], summary: 'Every claimed device: state, last attestation, software, certificate expiry',
      response: { 200: FleetViewResponse, ...readErrors },
    },
  }, async () => ({ devices: await fleet.fleetView() }));

  app.get('/fleet/version-report', {
    schema: {
      tags: ['fleet'], summary: 'Devices whose measured software differs from what their group should run',
      response: { 200: VersionReportResponse, ...readErrors },
    },
  }, async () => ({ devices: await fleet.versionReport() }));

  app.get('/fleet/:deviceId/reports', {
    schema: {
      tags: ['fleet'], summary: 'Crash and error reports a device uploaded (newest kept, bounded)',
      params: DeviceIdParams, response: { 200: DeviceReportsResponse, ...readErrors },
    },
  }, async (req) => ({ reports: await fleet.reports(req.params.deviceId) }));
};
