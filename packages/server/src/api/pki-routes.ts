/**
 * The CRL, served without an API token: relying parties (external MQTT brokers, anyone checking
 * an operational certificate) must be able to fetch it freely, as CRLs are meant to be (RFC 5280
 * §5: a CRL is signed by its CA and authenticates itself, so its distribution needs no secret).
 * Each request signs one CRL per issuing CA, so a rate limit per client address bounds that work.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorBody } from './api-error.ts';
import type { AnonymousRoute } from './bearer-auth.ts';
import { ClientRateLimiter, type RateLimit } from './client-rate-limiter.ts';
import type { FleetApi } from './fleet-api.ts';
import { ErrorResponse } from './schemas.ts';

export const PKI_CRL_PATH = '/api/v1/pki/crl';

/** The route the bearer-token hook lets through: exactly this one. */
export const PKI_ANONYMOUS_ROUTES: readonly AnonymousRoute[] = [{ method: 'GET', path: PKI_CRL_PATH }];

/** A broker reloads its CRL every few minutes; a burst covers a site's brokers behind one address. */
export const DEFAULT_CRL_RATE_LIMIT: RateLimit = { burst: 20, perSecond: 1 };

export interface PkiRoutesOptions {
  fleet: Pick<FleetApi, 'crls'>;
  /** The prefix this plugin is registered under (PKI_CRL_PATH includes it). */
  apiPrefix: string;
  rateLimit?: RateLimit;
  now: () => number;
}

export const pkiRoutes: FastifyPluginAsyncTypebox<PkiRoutesOptions> = async (app, options) => {
  if (!PKI_CRL_PATH.startsWith(`${options.apiPrefix}/`)) throw new Error(`${PKI_CRL_PATH} is not under ${options.apiPrefix}`);
  const limiter = new ClientRateLimiter(options.rateLimit ?? DEFAULT_CRL_RATE_LIMIT, options.now);

  app.addHook('onRequest', async (request, reply) => {
    const waitMs = limiter.take(request.ip);
    if (waitMs > 0) {
      return reply.code(429).header('retry-after', String(Math.ceil(waitMs / 1000)))
        .send(errorBody('rate_limited', 'too many CRL requests from this address; retry later'));
    }
  });

  app.get(PKI_CRL_PATH.slice(options.apiPrefix.length), {
    schema: {
      tags: ['pki'],
      summary: 'Certificate revocation lists, one PEM per issuing CA, for relying parties (no API token)',
      security: [],
      produces: ['application/x-pem-file'],
      response: { 200: Type.String({ description: 'Concatenated PEM CRLs' }), 429: ErrorResponse },
    },
  }, async (_req, reply) => {
    const crls = await options.fleet.crls();
    return reply.type('application/x-pem-file').send(crls.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join(''));
  });
};
