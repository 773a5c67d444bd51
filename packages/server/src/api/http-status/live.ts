import type { LiveErrorCode } from '../../live/event-hub.ts';

/** The live event stream: a full hub asks the client to close a stream (429); a stopping one is unavailable. */
export const liveHttpStatus: Record<LiveErrorCode, number> = {
  too_many_streams: 429,
  too_many_points: 400,
  hub_closed: 503,
};
