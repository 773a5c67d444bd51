/**
 * `GET /events`: the dashboard's live stream (Server-Sent Events, WHATWG HTML §9.2), authenticated
 * like every API route. The route only checks the query, opens a stream on the hub and ties it to
 * the socket (`drain`, `close`); what is sent and when is the hub's business (live/event-hub.ts).
 *
 * Events: `hello` {topics, points} first; then `alarm` (one alarm, as GET /alarms lists it),
 * `latest` {points: [{id, ts, value, quality}]} (≤ 1 per 500 ms), `fleet` {devices} and
 * `recommendations` {recommendations} (≤ 1 per 2 s each), `panels` {panels, stops} (the DMOP panel board,
 * ≤ 1 per 200 ms), `health` (every 5 s), `resync`
 * {refetch, dropped} (alarm events were dropped: refetch them), and a `: ping` comment every 15 s.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { LIVE_TOPICS, LiveError, MAX_LIVE_POINTS, type EventHub, type LiveTopic } from '../live/event-hub.ts';
import { ApiError } from './api-error.ts';
import { actorOf } from './bearer-auth.ts';
import { ErrorResponse } from './schemas.ts';

/** The hub as the route uses it: a port, so the route can be tested against any hub. */
export type EventsApi = Pick<EventHub, 'hasRoom' | 'open' | 'closeStreams'>;

export interface EventsRoutesOptions {
  events: EventsApi;
  /** How a stream re-checks its credential (see credentialRecheck); without it, never. */
  recheck?: (request: FastifyRequest) => () => Promise<boolean>;
  /** How often, ms (default 10 s). */
  recheckMs?: number;
}

/** How often an open stream checks that its token or session still stands. */
export const RECHECK_MS = 10_000;

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-store',
  // nginx and similar proxies would otherwise hold the stream back in their buffers.
  'x-accel-buffering': 'no',
  'x-content-type-options': 'nosniff',
};

const EventsQuery = Type.Object({
  topics: Type.Optional(Type.String({
    maxLength: 200, description: `Comma list of ${LIVE_TOPICS.join(', ')} (default all; empty for none)`,
  })),
  points: Type.Optional(Type.String({
    maxLength: MAX_LIVE_POINTS * 12, description: `Comma list of point ids (at most ${MAX_LIVE_POINTS}) whose latest values to push`,
  })),
});

function parseTopics(raw: string | undefined): LiveTopic[] {
  if (raw === undefined) return [...LIVE_TOPICS];
  const topics = new Set<LiveTopic>();
  for (const t of raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    if (!(LIVE_TOPICS as readonly string[]).includes(t)) {
      throw new ApiError('bad_request', `unknown topic ${JSON.stringify(t)}: use ${LIVE_TOPICS.join(', ')}`);
    }
    topics.add(t as LiveTopic);
  }
  return [...topics];
}

function parsePoints(raw: string | undefined): number[] {
  if (raw === undefined) return [];
  const points = new Set<number>();
  for (const p of raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    const id = /^[1-9][0-9]{0,14}$/.test(p) ? Number(p) : NaN;
    if (!Number.isSafeInteger(id)) throw new ApiError('bad_request', `point ids are positive integers (got ${JSON.stringify(p.slice(0, 20))})`);
    points.add(id);
  }
  if (points.size > MAX_LIVE_POINTS) throw new ApiError('bad_request', `at most ${MAX_LIVE_POINTS} points per event stream (asked ${points.size})`);
  return [...points];
}

export const eventsRoutes: FastifyPluginAsyncTypebox<EventsRoutesOptions> = async (app, { events, recheck, recheckMs = RECHECK_MS }) => {
  // Open streams would keep fastify.close() waiting for ever: end them first.
  app.addHook('preClose', async () => events.closeStreams());

  app.get('/events', {
    schema: {
      tags: ['live'],
      summary: 'Live events (Server-Sent Events): alarm changes, latest values of chosen points, fleet, recommendations, health',
      querystring: EventsQuery,
      response: {
        200: Type.String({ description: 'text/event-stream' }),
        400: ErrorResponse, 401: ErrorResponse, 429: ErrorResponse, 503: ErrorResponse,
      },
    },
  }, async (request, reply) => {
    const topics = parseTopics(request.query.topics);
    const points = parsePoints(request.query.points);
    const principal = actorOf(request);
    if (!events.hasRoom(principal)) {
      throw new LiveError('too_many_streams', 'too many event streams are open for this user or token; close one first');
    }
    const res = reply.raw;
    reply.hijack();
    request.raw.socket.setNoDelay(true);
    res.writeHead(200, SSE_HEADERS);
    try {
      const stream = events.open({
        principal, topics, points,
        sink: {
          write: (chunk) => (res.destroyed || res.writableEnded ? true : res.write(chunk)),
          buffered: () => res.writableLength,
          close: () => res.destroy(),
        },
      });
      // A signed-out, disabled or re-roled user's stream (or a revoked token's) ends within recheckMs.
      const stillValid = recheck?.(request);
      const timer = stillValid ? setInterval(() => {
        stillValid().then((ok) => {
          if (ok) return;
          request.log.info({ principal }, 'event stream ended: its credential no longer stands');
          stream.close();
          res.destroy();
        }, () => { stream.close(); res.destroy(); });
      }, recheckMs) : undefined;
      timer?.unref();
      const end = () => {
        if (timer) clearInterval(timer);
        stream.close();
      };
      res.on('drain', () => stream.drained());
      res.on('close', end);
      res.on('error', end);
    } catch (err) {
      // hasRoom said yes a moment ago, in the same turn: only a stopping hub gets here.
      const code = err instanceof LiveError ? err.code : 'hub_closed';
      request.log.warn({ code }, 'event stream refused after its headers were sent');
      res.destroy();
    }
    return reply;
  });
};
