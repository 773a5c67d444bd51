/**
 * The HTTP API (fastify 5, TypeBox schemas, OpenAPI generated from them at /api/v1/openapi.json).
 * `buildApi` returns the fastify instance without listening; the caller listens on it.
 */
import swagger from '@fastify/swagger';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { TlsOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { ApiTokens } from '../auth/api-tokens.ts';
import type { SessionService } from '../auth/sessions.ts';
import type { UsersService } from '../auth/users.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { IncidentTickets } from '../incidents/incident-log.ts';
import type { AssetMoves } from '../registry/asset-moves.ts';
import type { SiteRegistry } from '../registry/site-registry.ts';
import type { TelemetryStore } from '../telemetry/telemetry-store.ts';
import { alarmRoutes, type AlarmsApi } from './alarm-routes.ts';
import { addApiSecurityHeaders } from './api-security-headers.ts';
import { errorBody } from './api-error.ts';
import { apiErrorHandler } from './error-handler.ts';
import { ATTESTATION_ANONYMOUS_ROUTES, attestationRoutes } from './attestation-routes.ts';
import { auditRoutes } from './audit-routes.ts';
import { credentialRecheck, requireBearerToken } from './bearer-auth.ts';
import { DEFAULT_ATTESTATION_RATE_LIMIT, type RateLimit } from './client-rate-limiter.ts';
import { eventsRoutes, type EventsApi } from './events-routes.ts';
import { incidentRoutes } from './incident-routes.ts';
import type { FleetApi } from './fleet-api.ts';
import { analyticsRoutes, type AnalyticsApi } from './analytics-routes.ts';
import { centralRoutes, type CentralRoutesOptions } from './central-routes.ts';
import { fleetRoutes } from './fleet-routes.ts';
import { PKI_ANONYMOUS_ROUTES, pkiRoutes } from './pki-routes.ts';
import { API_TLS_POLICY } from './tls-policy.ts';
import { tokenRoutes, type TokenAdmin } from './token-routes.ts';
import { registryRoutes } from './registry-routes.ts';
import { DEFAULT_SIGN_IN_RATE_LIMIT, sessionRoutes, signInRoute } from './session-routes.ts';
import { userRoutes } from './user-routes.ts';
import { ErrorResponse } from './schemas.ts';
import { telemetryRoutes } from './telemetry-routes.ts';
import { isPublicWebRequest, webRoutes } from './web-routes.ts';
import { procedureRoutes, type ProceduresApi } from './procedure-routes.ts';
import { demoRoutes, type DemoSimulator } from './demo-routes.ts';
import { deploymentRoutes, type DeploymentsApi } from './deployment-routes.ts';
import { operationalCertificateCheck, tufPeerRoutes, updateRepositoryRoutes, type UpdateRepositoryApi } from './update-repository-routes.ts';

export const API_PREFIX = '/api/v1';
export const OPENAPI_PATH = `${API_PREFIX}/openapi.json`;

export interface BuildApiOptions {
  store: TelemetryStore;
  registry: SiteRegistry;
  tokens: Pick<ApiTokens, 'verify'>;
  logger: Logger;
  /**
   * Serve HTTPS with this certificate and key (PEM). With `clientCaPems`, the listener also asks
   * for (never requires) a client certificate and verifies it against them: guardians read the
   * TUF routes with their operational certificates, browsers without one are unaffected.
   */
  tls?: { certPem: string; keyPem: string; clientCaPems?: string[] };
  /** Counters shown by GET /health (e.g. `() => ingest.stats()`). */
  healthCounters?: () => Record<string, unknown>;
  now?: () => number;
  version?: string;
  /** Claims, groups, releases, attestation, revocation and fleet views; routes exist only when given. */
  fleet?: FleetApi;
  /** GET /audit and /audit/verify, when given. */
  audit?: AuditLog;
  /** Incidents as tickets (GET /incidents, /incidents/:id; assign, comment, status), when given. */
  incidents?: IncidentTickets;
  /** GET/POST /tokens and POST /tokens/:id/revoke (admin only), when given together with `audit`. */
  tokenAdmin?: TokenAdmin;
  /** Per client address, on the token-less attestation routes (default: burst 200, 50/s). */
  attestationRateLimit?: RateLimit;
  /** Alarms, their history, operator actions, rules, overrides and asset modes; routes exist only when given. */
  alarms?: AlarmsApi;
  /** Asset health, maintenance recommendations, work orders, the reactive-work KPI and fleet peers. */
  analytics?: AnalyticsApi;
  /** A central server's fleet view of its sites (issue 12). */
  central?: CentralRoutesOptions['central'];
  /** Moving an asset to another guardian (audited; only to a guardian of its site): the route exists only when given. */
  assetMoves?: AssetMoves;
  /** Digital methods of procedure: procedures, work orders, panels, alerts, site stops; routes exist only when given. */
  procedures?: ProceduresApi;
  /** `shellguard demo` only: simulated panel doors and breakers. */
  demoSimulator?: DemoSimulator;
  /** GET /events (Server-Sent Events), when given. */
  events?: EventsApi;
  /** Serve the web dashboard built into this folder (index.html, assets/) at / , when given. */
  webRoot?: string;
  /** People's accounts: /session (sign-in, with `sessions`) and /users (admin, with `audit`). */
  users?: UsersService;
  /** Web sessions: the sg_session cookie authenticates requests (with CSRF tokens), when given together with `users`. */
  sessions?: SessionService;
  /** How often an open event stream re-checks its token or session (default 10 s; tests shorten it). */
  eventsRecheckMs?: number;
  /** Per client address, on POST /session (default: burst 10, then 10 a minute). */
  signInRateLimit?: RateLimit;
  /** Deployments of releases to device groups (waves, pause/resume/abort, deferral, version report); routes exist only when given. */
  deployments?: DeploymentsApi;
  /** TUF image repositories: /tuf (served to guardians) and /updates/repositories (managed, audited), when given together with `audit`. */
  updates?: UpdateRepositoryApi;
}

export function buildApi(options: BuildApiOptions): FastifyInstance {
  const now = options.now ?? Date.now;
  const serverOptions: FastifyServerOptions & { https?: TlsOptions } = {
    loggerInstance: options.logger as unknown as FastifyBaseLogger,
    // Never put request headers (Authorization) in logs: fastify's default request serializer
    // logs method, url, host and remote address only, and no route takes a token in its URL.
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, allErrors: false } },
  };
  if (options.tls) {
    serverOptions.https = {
      cert: options.tls.certPem, key: options.tls.keyPem, ...API_TLS_POLICY,
      // Ask, verify, but do not require: the certificate only ever adds a way in (the TUF routes).
      ...(options.tls.clientCaPems?.length ? { requestCert: true, rejectUnauthorized: false, ca: options.tls.clientCaPems } : {}),
    };
  }
  const app = Fastify(serverOptions as FastifyServerOptions).withTypeProvider<TypeBoxTypeProvider>();

  // The attestation exchange, the CRL and sign-in are the only token-less routes, and only when served.
  const webSessions = options.users && options.sessions ? { users: options.users, sessions: options.sessions } : undefined;
  requireBearerToken(app, options.tokens, {
    anonymous: [
      ...(options.fleet ? [...ATTESTATION_ANONYMOUS_ROUTES, ...PKI_ANONYMOUS_ROUTES] : []),
      // Sign-in: the password is the credential (rate-limited per address, lock-out per name).
      ...(webSessions ? [signInRoute(API_PREFIX)] : []),
    ],
    ...(webSessions ? { sessions: webSessions.sessions } : {}),
    // The web app shell (GET/HEAD outside /api/) holds no data: its data comes from /api, authenticated.
    ...(options.webRoot !== undefined ? { isPublic: isPublicWebRequest } : {}),
    // Guardians fetch TUF metadata and targets with their operational certificate.
    ...(options.updates?.isDeviceAllowed && options.audit
      ? { peerCertificate: { routes: tufPeerRoutes(API_PREFIX), isAllowedPeer: operationalCertificateCheck(options.updates.isDeviceAllowed) } } : {}),
  });

  addApiSecurityHeaders(app);

  // Routes throw; this one handler turns what they throw into a status and a body.
  app.setErrorHandler(apiErrorHandler);
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`));
  });

  app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Shellguard API',
        version: options.version ?? '0.1.0',
        description: 'Sites, assets, points, telemetry, guardians, fleet, alarms and audit. Every route needs `Authorization: Bearer <API token>`, '
          + 'except the attestation exchange (POST /api/v1/attestation/*), which guardians call with signed requests, '
          + 'the CRL (GET /api/v1/pki/crl), which relying parties fetch freely, and sign-in (POST /api/v1/session). '
          + 'The web dashboard uses the sg_session cookie from sign-in instead of a token, and sends its CSRF token in '
          + 'x-csrf-token on every request but GET, HEAD and OPTIONS.',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'sgt_<id>_<secret>' },
          // The web dashboard's session (POST /api/v1/session); state-changing requests also need x-csrf-token.
          sessionCookie: { type: 'apiKey', in: 'cookie', name: 'sg_session' },
        },
      },
      security: [{ bearerAuth: [] }, { sessionCookie: [] }],
    },
  });

  // Routes are registered after swagger, so its onRoute hook sees every one of them.
  app.register(async (api) => {
    api.get('/openapi.json', {
      schema: { tags: ['meta'], summary: 'This OpenAPI document', response: { 401: ErrorResponse } },
    }, async () => app.swagger());

    api.get('/health', {
      schema: {
        tags: ['meta'],
        summary: 'Liveness and ingest counters',
        response: {
          200: Type.Object({
            status: Type.Literal('ok'),
            time: Type.Integer(),
            ingest: Type.Record(Type.String(), Type.Unknown()),
          }),
          401: ErrorResponse,
        },
      },
    }, async () => ({ status: 'ok' as const, time: now(), ingest: options.healthCounters?.() ?? {} }));

    await api.register(registryRoutes, {
      registry: options.registry, store: options.store,
      ...(options.assetMoves ? { assetMoves: options.assetMoves } : {}),
    });
    await api.register(telemetryRoutes, { store: options.store, now });
    if (options.fleet) {
      await api.register(attestationRoutes, {
        fleet: options.fleet, apiPrefix: API_PREFIX, rateLimit: options.attestationRateLimit ?? DEFAULT_ATTESTATION_RATE_LIMIT, now,
      });
      await api.register(fleetRoutes, { fleet: options.fleet });
      await api.register(pkiRoutes, { fleet: options.fleet, apiPrefix: API_PREFIX, now });
    }
    if (options.audit) await api.register(auditRoutes, { audit: options.audit });
    if (options.incidents) await api.register(incidentRoutes, { incidents: options.incidents });
    if (options.alarms) await api.register(alarmRoutes, { alarms: options.alarms });
    if (options.analytics) await api.register(analyticsRoutes, { analytics: options.analytics });
    if (options.central) await api.register(centralRoutes, { central: options.central });
    if (options.procedures) await api.register(procedureRoutes, { procedures: options.procedures });
    if (options.deployments) await api.register(deploymentRoutes, { deployments: options.deployments });
    if (options.demoSimulator) await api.register(demoRoutes, { simulator: options.demoSimulator });
    if (options.events) {
      await api.register(eventsRoutes, {
        events: options.events, recheck: credentialRecheck(options.tokens, webSessions?.sessions),
        ...(options.eventsRecheckMs !== undefined ? { recheckMs: options.eventsRecheckMs } : {}),
      });
    }
    // Token management changes who may act: never without the audit log.
    if (options.tokenAdmin && options.audit) await api.register(tokenRoutes, { tokens: options.tokenAdmin, audit: options.audit });
    if (webSessions) {
      await api.register(sessionRoutes, {
        ...webSessions, now, rateLimit: options.signInRateLimit ?? DEFAULT_SIGN_IN_RATE_LIMIT, ...(options.audit ? { audit: options.audit } : {}),
      });
    }
    // Like tokens: who may act changes, so never without the audit log.
    if (options.users && options.audit) await api.register(userRoutes, { users: options.users, audit: options.audit });
    // What devices may install changes: never without the audit log.
    if (options.updates && options.audit) await api.register(updateRepositoryRoutes, { updates: options.updates, audit: options.audit });
  }, { prefix: API_PREFIX });
  if (options.webRoot !== undefined) app.register(webRoutes, { root: options.webRoot });

  return app as unknown as FastifyInstance;
}
