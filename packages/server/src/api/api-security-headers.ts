/**
 * Headers on every API answer, errors and refusals included (OWASP HTTP Headers Cheat Sheet):
 * no content-type sniffing, no Referer leaving for another site, and nothing cached — an answer
 * may hold data only its caller may see, and a shared or browser cache would keep it.
 * The web app's own files set theirs (web-routes.ts).
 */
import type { FastifyInstance } from 'fastify';

export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** Adds {@link API_SECURITY_HEADERS} to every answer under `prefix` (by the route matched, or the URL when none matched). */
export function addApiSecurityHeaders(app: FastifyInstance, prefix = '/api/'): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if ((request.routeOptions.url ?? '').startsWith(prefix) || request.url.startsWith(prefix)) reply.headers(API_SECURITY_HEADERS);
    return payload;
  });
}
