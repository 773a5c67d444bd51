import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSubscribed, parseNotificationEndpoints } from '../../src/notifications/notification-endpoint.ts';
import { NotificationError } from '../../src/notifications/notification-error.ts';

const AT = 'notifications.webhooks';
const SECRET = 'whsec-0123456789abcdef';
const ok = { id: 'ops', url: 'https://hooks.example.com/shellguard', secret: SECRET };

function refusal(raw: unknown): { message: string; field: unknown; code: string } {
  try {
    parseNotificationEndpoints(raw, AT);
  } catch (err) {
    if (!(err instanceof NotificationError)) throw err;
    return { message: err.message, field: err.details.field, code: err.code };
  }
  throw new Error('expected a refusal');
}

describe('parseNotificationEndpoints', () => {
  it('accepts a generic and a PagerDuty endpoint, with defaults filled in', () => {
    expect(parseNotificationEndpoints([
      ok,
      { id: 'pd', url: 'https://events.pagerduty.com/v2/enqueue', secret: SECRET, format: 'pagerduty', routingKey: 'R0UT1NGKEY', topics: ['incident'] },
      { id: 'local', url: 'http://127.0.0.1:9000/hook', secret: SECRET, topics: ['incident.opened', 'audit.'] },
    ], AT)).toEqual([
      { id: 'ops', url: 'https://hooks.example.com/shellguard', secret: SECRET, format: 'generic' },
      { id: 'pd', url: 'https://events.pagerduty.com/v2/enqueue', secret: SECRET, format: 'pagerduty', routingKey: 'R0UT1NGKEY', topics: ['incident'] },
      { id: 'local', url: 'http://127.0.0.1:9000/hook', secret: SECRET, format: 'generic', topics: ['incident.opened', 'audit.'] },
    ]);
  });

  it('takes an absent list as no endpoints', () => {
    expect(parseNotificationEndpoints(undefined, AT)).toEqual([]);
    expect(parseNotificationEndpoints(null, AT)).toEqual([]);
  });

  it('resolves caFile against the config file\'s folder', () => {
    const [e] = parseNotificationEndpoints([{ ...ok, caFile: 'certs/corp-root.pem' }], AT, { baseDir: '/etc/shellguard' });
    expect(e!.caFile).toBe(path.resolve('/etc/shellguard', 'certs/corp-root.pem'));
  });

  it.each([
    ['a list', { ...ok }, `${AT} must be a list of webhooks {id, url, secret, format, topics, routingKey, caFile}`, AT],
    ['plain http to another host', [{ ...ok, url: 'http://hooks.example.com/x' }], `${AT}[0].url must be https:// or http://127.0.0.1`, `${AT}[0].url`],
    ['another scheme', [{ ...ok, url: 'ftp://hooks.example.com/x' }], `${AT}[0].url must be https:// or http://127.0.0.1`, `${AT}[0].url`],
    ['a URL', [{ ...ok, url: 'hooks.example.com' }], `${AT}[0].url is not a valid URL`, `${AT}[0].url`],
    ['no credentials in the URL', [{ ...ok, url: 'https://user:pw@hooks.example.com/' }], `${AT}[0].url must not contain a user name or password`, `${AT}[0].url`],
    ['a url', [{ id: 'ops', secret: SECRET }], `${AT}[0].url is required`, `${AT}[0].url`],
    ['a long secret', [{ ...ok, secret: 'short' }], `${AT}[0].secret must be at least 16 characters (it signs every notification)`, `${AT}[0].secret`],
    ['an id', [{ ...ok, id: '' }], `${AT}[0].id is required`, `${AT}[0].id`],
    ['a plain id', [{ ...ok, id: 'ops team' }], `${AT}[0].id must be letters, digits, . _ - (at most 64, starting with a letter or digit)`, `${AT}[0].id`],
    ['unique ids', [ok, ok], `${AT}[1].id "ops" is used by an earlier webhook`, `${AT}[1].id`],
    ['a known format', [{ ...ok, format: 'opsgenie' }], `${AT}[0].format must be one of: generic, pagerduty`, `${AT}[0].format`],
    ['known fields', [{ ...ok, retries: 3 }], `${AT}[0].retries is not a known field (known: id, url, secret, format, topics, routingKey, caFile)`, `${AT}[0].retries`],
    ['a mapping', ['https://hooks.example.com'], `${AT}[0] must be a mapping {id, url, secret, ...}`, `${AT}[0]`],
    ['a routing key for PagerDuty', [{ ...ok, format: 'pagerduty' }], `${AT}[0].routingKey is required for format pagerduty (the Events API v2 integration key)`, `${AT}[0].routingKey`],
    ['no routing key elsewhere', [{ ...ok, routingKey: 'R0UT1NGKEY' }], `${AT}[0].routingKey applies only to format pagerduty`, `${AT}[0].routingKey`],
    ['a list of topics', [{ ...ok, topics: 'incident' }], `${AT}[0].topics must be a non-empty list of topic prefixes, e.g. [incident]`, `${AT}[0].topics`],
    ['topic prefixes', [{ ...ok, topics: ['incident', 'Audit Log'] }], `${AT}[0].topics[1] must be a topic prefix: lower-case letters, digits, . _ -`, `${AT}[0].topics[1]`],
    ['caFile only with https', [{ ...ok, url: 'http://127.0.0.1:9000/', caFile: 'ca.pem' }], `${AT}[0].caFile applies only to https:// URLs`, `${AT}[0].caFile`],
  ])('requires %s', (_what, raw, message, field) => {
    expect(refusal(raw)).toEqual({ message, field, code: 'endpoint_invalid' });
  });

  it('never puts a secret or routing key in an error', () => {
    const { message } = refusal([{ ...ok, secret: 'sixteen-chars-no', routingKey: 'TOPSECRETROUTING', format: 'generic' }]);
    expect(message).not.toContain('TOPSECRETROUTING');
    expect(message).not.toContain('sixteen-chars-no');
  });
});

describe('isSubscribed', () => {
  it('matches topic prefixes by dot-separated segment', () => {
    const e = { id: 'x', format: 'generic' as const, topics: ['incident'] };
    expect(isSubscribed(e, 'incident.opened')).toBe(true);
    expect(isSubscribed(e, 'incident')).toBe(true);
    expect(isSubscribed(e, 'incidents.opened')).toBe(false);
    expect(isSubscribed({ ...e, topics: ['incident.'] }, 'incident.updated')).toBe(true);
    expect(isSubscribed({ ...e, topics: ['incident.opened'] }, 'incident.updated')).toBe(false);
  });

  it('sends every topic to a generic endpoint without topics, and only incidents to PagerDuty', () => {
    expect(isSubscribed({ id: 'x', format: 'generic' }, 'audit.anchor')).toBe(true);
    expect(isSubscribed({ id: 'x', format: 'pagerduty' }, 'incident.updated')).toBe(true);
    expect(isSubscribed({ id: 'x', format: 'pagerduty' }, 'audit.anchor')).toBe(false);
    expect(isSubscribed({ id: 'x', format: 'pagerduty', topics: ['audit'] }, 'audit.anchor')).toBe(false);
  });
});
