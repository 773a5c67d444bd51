/**
 * The attestation exchange (RFC 9334 background-check model; protocol/attestation.ts): routes
 * reachable without an API token. Both requests authenticate themselves (the challenge request by
 * proof of possession, protocol/challenge-proof.ts; the evidence by ES256 over the EAT; each key
 * bound to the device id), so the exposure is bounded instead: small bodies, and a rate limit per
 * client address on the signature-verification work anyone can ask for.
 */
import { type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ATTESTATION_CHALLENGE_PATH, ATTESTATION_EVIDENCE_PATH } from '@shellguard/protocol';
import { errorBody } from './api-error.ts';
import type { AnonymousRoute } from './bearer-auth.ts';
import { ClientRateLimiter, type RateLimit } from './client-rate-limiter.ts';
import type { FleetApi } from './fleet-api.ts';
import {
  AttestationRefusalResponse, ChallengeRequest, ChallengeResponse, EnrolmentResponse, EvidenceRequest,
} from './fleet-schemas.ts';
import { ErrorResponse } from './schemas.ts';

/** Largest request body the attestation routes read (an EAT is about 1-2 KiB). */
export const ATTESTATION_BODY_LIMIT = 16 * 1024;

/** The routes the bearer-token hook lets through: exactly these two. */
export const ATTESTATION_ANONYMOUS_ROUTES: readonly AnonymousRoute[] = [
  { method: 'POST', path: ATTESTATION_CHALLENGE_PATH },
  { method: 'POST', path: ATTESTATION_EVIDENCE_PATH },
];

export interface AttestationRoutesOptions {
  fleet: Pick<FleetApi, 'challenge' | 'appraise'>;
  /** The prefix this plugin is registered under (the protocol's paths include it). Not `prefix`: fastify would add that one again. */
  apiPrefix: string;
  rateLimit: RateLimit;
  now: () => number;
}

function relativeTo(prefix: string, path: string): string {
  if (!path.startsWith(`${prefix}/`)) throw new Error(`attestation path ${path} is not under ${prefix}`);
  return path.slice(prefix.length);
}

const refusalResponses = {
  400: ErrorResponse, 403: AttestationRefusalResponse, 413: ErrorResponse, 429: ErrorResponse,
};

export const attestationRoutes: FastifyPluginAsyncTypebox<AttestationRoutesOptions> = async (app, options) => {
  const { fleet } = options;
  const limiter = new ClientRateLimiter(options.rateLimit, options.now);

  app.addHook('onRequest', async (request, reply) => {
    const waitMs = limiter.take(request.ip);
    if (waitMs > 0) {
      return reply.code(429).header('retry-after', String(Math.ceil(waitMs / 1000)))
        .send(errorBody('rate_limited', 'too many attestation requests from this address; retry later'));
    }
  });

  app.post(relativeTo(options.apiPrefix, ATTESTATION_CHALLENGE_PATH), {
    bodyLimit: ATTESTATION_BODY_LIMIT,
    schema: {
      tags: ['attestation'],
      summary: 'A single-use nonce for the holder of a device key, proven by the signed request (no API token: guardians call this)',
      security: [],
      body: ChallengeRequest,
      response: { 200: ChallengeResponse, ...refusalResponses },
    },
  }, async (req) => fleet.challenge(req.body));

  app.post(relativeTo(options.apiPrefix, ATTESTATION_EVIDENCE_PATH), {
    bodyLimit: ATTESTATION_BODY_LIMIT,
    schema: {
      tags: ['attestation'],
      summary: 'Appraise evidence (EAT, compact JWS); on success, an operational certificate (no API token)',
      security: [],
      body: EvidenceRequest,
      response: { 200: EnrolmentResponse, ...refusalResponses },
    },
  }, async (req) => fleet.appraise(req.body.evidence));
};
