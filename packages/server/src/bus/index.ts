/** The bus between ingest and its consumers (issue 12): the port, its two implementations, federation. */
export {
  DEFAULT_ACK_WAIT_MS, DEFAULT_DUPLICATE_WINDOW_MS, DEFAULT_MAX_DELIVER, DEFAULT_RETRY_DELAY_MS, DEFAULT_WORK_CONCURRENCY, silentBusLog,
  type Bus, type BusLog, type BusMessage, type BusSubscription, type DeadLetter, type DeadLetterListener, type FanoutHandler,
  type PublishOptions, type PublishReceipt, type WorkHandler, type WorkOptions,
} from './bus.ts';
export { BusError, type BusErrorCode } from './bus-error.ts';
export { partitionOf, partitionSubject, partitionSubjects, subjectMatches } from './subjects.ts';
export { InProcessBus, type InProcessBusOptions } from './in-process-bus.ts';
export {
  JetStreamBus, DEFAULT_DEAD_LETTERS, jetStreamConfigOf,
  type JetStreamBusOptions, type JetStreamBusStream, type JetStreamDeadLetters, type JetStreamStreamSource, type StoredDeadLetter,
} from './jetstream-bus.ts';
export {
  CENTRAL_DOMAIN, DEFAULT_EXPORT_STREAM, DEFAULT_FLEET_STREAM, DEFAULT_LOCAL_STREAM, centralFleetStream, siteBusOptions, siteBusStreams,
  siteDomain, siteLeafRemote, type FleetFederation, type LeafRemote, type SiteBusLayout,
} from './federation.ts';
export { NatsServerProcess, type NatsServerOptions } from './nats-server-process.ts';
