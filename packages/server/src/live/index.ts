export {
  EventHub, LiveError, LIVE_TOPICS, MAX_LIVE_POINTS,
  type EventHubOptions, type EventHubStats, type EventSink, type LatestSample, type LiveErrorCode, type LiveHealth, type LiveSnapshots,
  type LiveStream, type LiveTopic, type StreamRequest, type StreamStats,
} from './event-hub.ts';
export { liveHealth, watchStoredSamples, type HealthInputs } from './live-sources.ts';
