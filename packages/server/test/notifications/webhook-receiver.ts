/**
 * A real webhook receiver on 127.0.0.1 (node:http, or node:https with a given certificate): records
 * every request, checks its signature with its own HMAC code (independent of ours) and answers
 * what the test scripts.
 */
import { createHmac } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export const SECRET = 'whsec-0123456789abcdef';

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
  idempotencyKey: string;
  deliveryId: string;
  /** The HMAC over the exact body bytes matches, under SECRET. */
  signatureOk: boolean;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
}

export interface WebhookReceiver {
  url(path?: string): string;
  readonly received: ReceivedWebhook[];
  /** Decides each answer (default 200); may await something first (close a database, kill a process). */
  answer: (request: ReceivedWebhook, index: number) => Answer | number | Promise<Answer | number>;
  /** How many requests carried each Idempotency-Key. */
  countByKey(): Record<string, number>;
  /** Resolves once `n` requests have arrived. */
  waitFor(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(tls?: { cert: string; key: string }): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const r: ReceivedWebhook = {
        path: req.url ?? '', headers: req.headers, body, json: JSON.parse(body) as Record<string, unknown>,
        idempotencyKey: String(req.headers['idempotency-key']), deliveryId: String(req.headers['x-shellguard-delivery']),
        signatureOk: req.headers['x-shellguard-signature'] === `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
      };
      const index = received.push(r) - 1;
      for (const w of waiters.filter((x) => received.length >= x.n)) w.resolve();
      void Promise.resolve(receiver.answer(r, index)).then((a) => {
        const { status, headers = {} } = typeof a === 'number' ? { status: a } : a;
        res.writeHead(status, headers).end();
      }, () => res.destroy());
    });
  };
  const server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, onRequest) : http.createServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const receiver: WebhookReceiver = {
    url: (path = '/hooks/incidents') => `${tls ? 'https' : 'http'}://127.0.0.1:${port}${path}`,
    received,
    answer: () => 200,
    countByKey() {
      const counts: Record<string, number> = {};
      for (const r of received) counts[r.idempotencyKey] = (counts[r.idempotencyKey] ?? 0) + 1;
      return counts;
    },
    waitFor(n) {
      return received.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }));
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}
