/**
 * Where notifications go: the configured webhook endpoints, their validation (ARCHITECTURE.md §7:
 * every field validated at start, with an error naming it) and which topics each one receives.
 */
import path from 'node:path';
import { NotificationError } from './notification-error.ts';
import { WEBHOOK_FORMATS, formatAccepts, type WebhookFormat } from './webhook-formats.ts';

export interface NotificationEndpoint {
  /** Names the endpoint in the outbox, in stats and in logs (stored with every delivery: keep it stable). */
  id: string;
  /** `https://...`, or plain `http://` to this machine only (a local relay, tests). */
  url: string;
  /** HMAC key of the signature headers, at least 16 characters. Never logged. */
  secret: string;
  format: WebhookFormat;
  /**
   * Topic prefixes this endpoint receives, by dot-separated segment: `incident` receives
   * `incident.opened` and `incident.updated`, not `incidents.x`. Absent: every topic its format can carry.
   */
  topics?: string[];
  /** PagerDuty Events API v2 integration key (format `pagerduty` only). Never logged. */
  routingKey?: string;
  /** A PEM file of CAs to trust for this endpoint instead of the system's (an enterprise CA). */
  caFile?: string;
}

/** What the outbox needs to fan an entry out: no secrets. */
export type EndpointSubscription = Pick<NotificationEndpoint, 'id' | 'format' | 'topics'>;

/** Whether `endpoint` receives entries of `topic`. */
export function isSubscribed(endpoint: EndpointSubscription, topic: string): boolean {
  if (!formatAccepts(endpoint.format, topic)) return false;
  if (endpoint.topics === undefined) return true;
  return endpoint.topics.some((prefix) => {
    const p = prefix.endsWith('.') ? prefix.slice(0, -1) : prefix;
    return topic === p || topic.startsWith(`${p}.`);
  });
}

const KNOWN_FIELDS = ['id', 'url', 'secret', 'format', 'topics', 'routingKey', 'caFile'] as const;
const ENDPOINT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TOPIC_PREFIX = /^[a-z0-9][a-z0-9._-]{0,99}$/;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function fail(field: string, problem: string): never {
  throw new NotificationError('endpoint_invalid', `${field} ${problem}`, { field, problem });
}

function requiredString(field: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') fail(field, 'is required');
  return v;
}

function checkUrl(field: string, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    fail(field, 'is not a valid URL');
  }
  // Plain http would carry the payload and the signature in clear over the network.
  const allowed = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
  if (!allowed) fail(field, 'must be https:// or http://127.0.0.1');
  // URLs appear in error reports; credentials belong in secret/routingKey, which never do.
  if (url.username !== '' || url.password !== '') fail(field, 'must not contain a user name or password');
  return url;
}

function parseEndpoint(at: string, raw: unknown, baseDir: string): NotificationEndpoint {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(at, 'must be a mapping {id, url, secret, ...}');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(KNOWN_FIELDS as readonly string[]).includes(k)) fail(`${at}.${k}`, `is not a known field (known: ${KNOWN_FIELDS.join(', ')})`);
  }
  const id = requiredString(`${at}.id`, o.id);
  if (!ENDPOINT_ID.test(id)) fail(`${at}.id`, 'must be letters, digits, . _ - (at most 64, starting with a letter or digit)');
  const url = checkUrl(`${at}.url`, requiredString(`${at}.url`, o.url));
  const secret = requiredString(`${at}.secret`, o.secret);
  if (secret.length < 16) fail(`${at}.secret`, 'must be at least 16 characters (it signs every notification)');
  const format = o.format ?? 'generic';
  if (typeof format !== 'string' || !(WEBHOOK_FORMATS as readonly string[]).includes(format)) {
    fail(`${at}.format`, `must be one of: ${WEBHOOK_FORMATS.join(', ')}`);
  }
  const endpoint: NotificationEndpoint = { id, url: url.href, secret, format: format as WebhookFormat };
  if (o.topics !== undefined) {
    if (!Array.isArray(o.topics) || o.topics.length === 0) fail(`${at}.topics`, 'must be a non-empty list of topic prefixes, e.g. [incident]');
    o.topics.forEach((t, j) => {
      if (typeof t !== 'string' || !TOPIC_PREFIX.test(t)) fail(`${at}.topics[${j}]`, 'must be a topic prefix: lower-case letters, digits, . _ -');
    });
    endpoint.topics = [...(o.topics as string[])];
  }
  if (format === 'pagerduty') {
    const key = o.routingKey;
    if (typeof key !== 'string' || !/^\S+$/.test(key)) fail(`${at}.routingKey`, 'is required for format pagerduty (the Events API v2 integration key)');
    endpoint.routingKey = key;
  } else if (o.routingKey !== undefined) {
    fail(`${at}.routingKey`, 'applies only to format pagerduty');
  }
  if (o.caFile !== undefined) {
    if (typeof o.caFile !== 'string' || o.caFile === '') fail(`${at}.caFile`, 'must be the path of a PEM file');
    if (url.protocol !== 'https:') fail(`${at}.caFile`, 'applies only to https:// URLs');
    endpoint.caFile = path.resolve(baseDir, o.caFile);
  }
  return endpoint;
}

/**
 * Validates the configured endpoints. `at` is the config path of the list (e.g.
 * `notifications.webhooks`); every error is a {@link NotificationError} `endpoint_invalid` whose
 * message starts with the full path of the field (`notifications.webhooks[0].url must be ...`) and
 * whose details carry `field` and `problem` apart. Relative `caFile`s resolve against `baseDir`
 * (default: the working directory). Absent (`undefined`/`null`) means no endpoints.
 */
export function parseNotificationEndpoints(raw: unknown, at: string, options: { baseDir?: string } = {}): NotificationEndpoint[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) fail(at, 'must be a list of webhooks {id, url, secret, format, topics, routingKey, caFile}');
  const baseDir = options.baseDir ?? process.cwd();
  const seen = new Set<string>();
  return raw.map((item, i) => {
    const endpoint = parseEndpoint(`${at}[${i}]`, item, baseDir);
    if (seen.has(endpoint.id)) fail(`${at}[${i}].id`, `"${endpoint.id}" is used by an earlier webhook`);
    seen.add(endpoint.id);
    return endpoint;
  });
}
