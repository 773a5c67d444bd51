/**
 * The network edge of the dispatcher (STYLE.md §6: the network is injected): one POST per call
 * with node:http/https. TLS certificates are always verified, against the system's CAs or the
 * endpoint's own `caFile`. Redirects are not followed: a webhook that moved is a config to fix,
 * not a place to send a signed incident to.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { errorMessage } from '@shellguard/protocol';
import type { NotificationEndpoint } from './notification-endpoint.ts';
import { NotificationError } from './notification-error.ts';

export interface WebhookRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  /** From sending the request until the response headers arrive. */
  timeoutMs: number;
  /** PEM CAs to trust instead of the system's. */
  ca?: string;
}

export interface WebhookResponse {
  status: number;
  /** The raw `Retry-After` header, when the receiver sent one. */
  retryAfter?: string;
}

/** Resolves with the receiver's answer, whatever its status; rejects on a network error or timeout. */
export type OutboxTransport = (request: WebhookRequest) => Promise<WebhookResponse>;

export const httpWebhookTransport: OutboxTransport = (request) => new Promise((resolve, reject) => {
  const url = new URL(request.url);
  const signal = AbortSignal.timeout(request.timeoutMs);
  const options: https.RequestOptions = {
    method: 'POST',
    headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body, 'utf8')) },
    signal,
  };
  const onResponse = (res: http.IncomingMessage): void => {
    // The answer is the status; the body is drained so the connection can be reused.
    res.on('error', () => undefined);
    res.resume();
    const retryAfter = res.headers['retry-after'];
    resolve({ status: res.statusCode ?? 0, ...(retryAfter !== undefined ? { retryAfter } : {}) });
  };
  const req = url.protocol === 'https:'
    ? https.request(url, { ...options, rejectUnauthorized: true, ...(request.ca !== undefined ? { ca: request.ca } : {}) }, onResponse)
    : http.request(url, options, onResponse);
  req.on('error', (err) => reject(signal.aborted ? new Error(`no response within ${request.timeoutMs} ms`) : err));
  req.end(request.body);
});

/** Reads an endpoint's `caFile` once, at start, so a missing file stops the start with its name. */
export function readEndpointCa(endpoint: Pick<NotificationEndpoint, 'id' | 'caFile'>): string | undefined {
  if (endpoint.caFile === undefined) return undefined;
  try {
    return readFileSync(endpoint.caFile, 'utf8');
  } catch (err) {
    throw new NotificationError('endpoint_invalid', `webhook ${endpoint.id}: cannot read caFile ${endpoint.caFile}: ${errorMessage(err)}`, {
      endpoint: endpoint.id, field: 'caFile', problem: `cannot be read: ${errorMessage(err)}`,
    });
  }
}
