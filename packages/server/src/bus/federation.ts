/**
 * Many sites, one fleet (issue 12): each site runs its own nats-server with JetStream (domain
 * `site-<id>`) as a leaf node of the central one (domain `central`). The centre's fleet stream
 * *sources* each site's export stream over the leaf node link, so:
 *
 * - a site keeps publishing and consuming when the link is down (its JetStream is its own), and
 *   the centre catches up when it is back: a source resumes after the last site sequence it
 *   stored, so every message arrives once, in the site's order;
 * - data flows site → centre only, and only the subjects configured to flow: they live in the
 *   site's export stream, apart from the site's local stream; the site's leaf node connection
 *   refuses plain NATS traffic on every bus subject and on the site clients' inboxes in both
 *   directions, and refuses the centre every JetStream API call except what sourcing the export
 *   stream needs. Site clients must use the default `_INBOX` prefix.
 *
 * The site enforces this on its own side of the link (`siteLeafRemote`), so a misconfigured or
 * compromised centre cannot read the site's local stream, create a stream or consumer that would
 * copy it, or inject messages into the site.
 *
 * Limits (nats-server 2.9): a stream can source a given stream once, with one filter, so every
 * flowing subject of a site goes to one export stream rather than being filtered out of the local
 * one; there are no subject transforms, so put the site in the flowing subjects (`fleet.<site>.…`)
 * for the centre to tell sites apart. The leaf connection's deny lists cover the streams named
 * here; keep other streams out of the site's bus account (or name them in `privateStreams`).
 */
import { BusError } from './bus-error.ts';
import { DEFAULT_DEAD_LETTERS, type JetStreamBusOptions, type JetStreamBusStream, type JetStreamDeadLetters } from './jetstream-bus.ts';
import { assertDisjointFilters, assertSubjectFilter, filterCovers } from './subjects.ts';

export const CENTRAL_DOMAIN = 'central';
export const DEFAULT_LOCAL_STREAM = 'SG_BUS';
export const DEFAULT_EXPORT_STREAM = 'SG_EXPORT';
export const DEFAULT_FLEET_STREAM = 'SG_FLEET';

/** How one site lays out its bus. */
export interface SiteBusLayout {
  /** The site's id (letters, digits, `-`); its JetStream domain is `site-<id>`. */
  readonly site: string;
  /** Subjects that stay at the site. */
  readonly localSubjects: readonly string[];
  /** Subjects that flow to the centre; none by default — site data stays at its site unless configured to flow. */
  readonly flowSubjects?: readonly string[];
  readonly localStream?: string;
  readonly exportStream?: string;
  readonly deadLetters?: JetStreamDeadLetters;
  /** Other streams in the site's account the centre must not reach. */
  readonly privateStreams?: readonly string[];
  /** How long the export stream keeps messages: the longest outage the centre can catch up from (default 7 days). */
  readonly exportMaxAgeMs?: number;
}

/** What the centre sources. */
export interface FleetFederation {
  readonly stream?: string;
  readonly sites: readonly { readonly site: string; readonly flowSubjects: readonly string[]; readonly exportStream?: string }[];
  readonly maxAgeMs?: number;
}

/** A nats-server `leafnodes.remotes` entry. */
export interface LeafRemote {
  readonly url: string | readonly string[];
  readonly deny_imports: readonly string[];
  readonly deny_exports: readonly string[];
}

const SITE_ID = /^[a-z0-9][a-z0-9-]{0,30}$/;

export function siteDomain(site: string): string {
  if (!SITE_ID.test(site)) {
    throw new BusError('bus_bad_federation', `"${site}" is not a site id: use 1 to 31 lower-case letters, digits or "-"`, { site });
  }
  return `site-${site}`;
}

/**
 * What a site's `JetStreamBus` needs beyond its servers: its streams, its dead letters, and its id
 * scope (the site id), so ids unique at the site stay unique across the fleet — the centre sees
 * `<site>:<id>`.
 */
export function siteBusOptions(layout: SiteBusLayout): Required<Pick<JetStreamBusOptions, 'streams' | 'deadLetters' | 'idScope'>> {
  return { streams: siteBusStreams(layout), deadLetters: layout.deadLetters ?? DEFAULT_DEAD_LETTERS, idScope: layout.site };
}

/** The site's streams: the local one and, when anything flows, the export one. */
export function siteBusStreams(layout: SiteBusLayout): JetStreamBusStream[] {
  validateLayout(layout);
  const streams: JetStreamBusStream[] = [{ name: layout.localStream ?? DEFAULT_LOCAL_STREAM, subjects: [...layout.localSubjects] }];
  const flow = layout.flowSubjects ?? [];
  if (flow.length > 0) {
    streams.push({ name: layout.exportStream ?? DEFAULT_EXPORT_STREAM, subjects: [...flow], ...(layout.exportMaxAgeMs ? { maxAgeMs: layout.exportMaxAgeMs } : {}) });
  }
  return streams;
}

/**
 * The site's leaf node remote for its nats-server configuration: the link to the hub at `hubUrl`,
 * with what may not cross it.
 */
export function siteLeafRemote(layout: SiteBusLayout, hubUrl: string | readonly string[]): LeafRemote {
  validateLayout(layout);
  const domain = siteDomain(layout.site);
  const dead = layout.deadLetters ?? DEFAULT_DEAD_LETTERS;
  // Plain NATS messages on bus subjects never cross, either way: the only way data leaves is
  // the centre's source consumer on the export stream, and nothing from the centre lands in a
  // site stream.
  const busSubjects = [...layout.localSubjects, ...(layout.flowSubjects ?? []), `${dead.subjectPrefix}.>`];
  // Nor do the site clients' inboxes: JetStream delivers to a puller's inbox with the message's
  // own subject and payload, so a centre client subscribed to ">" would read every local message
  // a site consumer pulls; and a centre client could forge replies (PubAcks) to site clients.
  // Nor the site's JetStream advisories, whose API audit events carry requests and responses.
  const siteInternal = ['_INBOX.>', '$JS.EVENT.>'];
  const api = `$JS.${domain}.API`;
  // The centre may look at the export stream and create the consumer that sources it. Anything
  // that creates, changes, deletes or reads streams otherwise is refused at the site.
  const refusedApi = [
    'STREAM.CREATE.>', 'STREAM.UPDATE.>', 'STREAM.DELETE.>', 'STREAM.PURGE.>', 'STREAM.MSG.>', 'STREAM.SNAPSHOT.>',
    'STREAM.RESTORE.>', 'STREAM.PEER.>', 'STREAM.LEADER.>', 'STREAM.TEMPLATE.>', 'STREAM.NAMES', 'STREAM.LIST',
    'CONSUMER.DURABLE.>', 'DIRECT.>', 'ACCOUNT.>', 'META.>', 'SERVER.>', '$KV.>', '$OBJ.>',
  ].map((s) => `${api}.${s}`);
  const privateStreams = [layout.localStream ?? DEFAULT_LOCAL_STREAM, dead.stream, ...(layout.privateStreams ?? [])];
  const refusedStreams = privateStreams.flatMap((s) => [
    `${api}.STREAM.INFO.${s}`,
    `${api}.CONSUMER.*.${s}`, `${api}.CONSUMER.*.${s}.>`, `${api}.CONSUMER.*.*.${s}`, `${api}.CONSUMER.*.*.${s}.>`,
    `$JS.ACK.${s}.>`, `$JS.FC.${s}.>`,
  ]);
  return {
    url: typeof hubUrl === 'string' ? hubUrl : [...hubUrl],
    deny_exports: [...busSubjects, ...siteInternal],
    deny_imports: [...busSubjects, ...siteInternal, ...refusedApi, ...refusedStreams],
  };
}

/**
 * The centre's fleet stream for its `JetStreamBus`: it sources every site's export stream through
 * that site's domain, and serves `work`/`fanout` on the flowing subjects.
 */
export function centralFleetStream(federation: FleetFederation): JetStreamBusStream {
  if (federation.sites.length === 0) throw new BusError('bus_bad_federation', 'the fleet needs at least one site');
  const seen = new Set<string>();
  for (const s of federation.sites) {
    siteDomain(s.site);
    if (seen.has(s.site)) throw new BusError('bus_bad_federation', `site ${s.site} is listed twice`, { site: s.site });
    seen.add(s.site);
    if (s.flowSubjects.length === 0) throw new BusError('bus_bad_federation', `site ${s.site} has no subjects that flow`, { site: s.site });
    for (const f of s.flowSubjects) assertSubjectFilter(f);
  }
  return {
    name: federation.stream ?? DEFAULT_FLEET_STREAM,
    subjects: coveringFilters(federation.sites.flatMap((s) => s.flowSubjects)),
    sources: federation.sites.map((s) => ({ stream: s.exportStream ?? DEFAULT_EXPORT_STREAM, domain: siteDomain(s.site) })),
    // Sourced messages keep their Nats-Msg-Id and the fleet stream de-duplicates on it (a second
    // guard after the source's own resume-after-last-sequence): site buses scope their ids by site
    // (`siteBusOptions`), or one site's message would drop another's with the same id.
    ...(federation.maxAgeMs ? { maxAgeMs: federation.maxAgeMs } : {}),
  };
}

function validateLayout(layout: SiteBusLayout): void {
  siteDomain(layout.site);
  if (layout.localSubjects.length === 0) throw new BusError('bus_bad_federation', `site ${layout.site} needs local subjects`, { site: layout.site });
  const all = [...layout.localSubjects, ...(layout.flowSubjects ?? [])];
  for (const s of all) assertSubjectFilter(s);
  try {
    assertDisjointFilters(all);
  } catch (err) {
    throw new BusError('bus_bad_federation', `site ${layout.site}: a subject cannot both stay and flow (${(err as Error).message})`, { site: layout.site });
  }
}

/** The filters of `filters` not covered by another one (so the union can be stream subjects). */
function coveringFilters(filters: readonly string[]): string[] {
  const unique = [...new Set(filters)];
  return unique.filter((f) => !unique.some((g) => g !== f && filterCovers(g, f)));
}
