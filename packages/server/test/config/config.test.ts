import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_DEVICE_QUOTAS, DEFAULT_INGEST_LIMITS, ServerConfigError, auditConfigOf, deviceQuotasOf, ingestLimitsOf, loadServerConfig,
  validateServerConfig,
} from '../../src/config/config.ts';

const SOURCE = '/etc/shellguard/server.yaml';
const BASE = '/etc/shellguard';
const SECRET = 'a-secret-of-24-characters';

const minimal = { dataDir: 'data', caDir: 'ca' };

function check(doc: unknown) {
  return validateServerConfig(doc, SOURCE, BASE);
}

/** The ServerConfigError `doc` raises (fails the test if it raises none). */
function refusal(doc: unknown): ServerConfigError {
  try {
    check(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(ServerConfigError);
    return err as ServerConfigError;
  }
  throw new Error(`accepted ${JSON.stringify(doc)}`);
}

describe('validateServerConfig', () => {
  it('fills every default and resolves folders against the config file', () => {
    const config = check(minimal);
    expect(config).toEqual({
      dataDir: '/etc/shellguard/data',
      caDir: '/etc/shellguard/ca',
      database: { engine: 'sqlite' },
      bus: { engine: 'embedded' },
      mqtt: { host: '127.0.0.1', port: 8883 },
      api: { host: '127.0.0.1', port: 8443 },
      tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
      alarms: { webhooks: [] },
      ingest: {},
      quotas: {},
      analytics: {},
      audit: {},
      telemetry: { retention: {}, sites: {} },
      auth: {},
      procedures: { managers: {} },
      notifications: { webhooks: [] },
    });
    expect(ingestLimitsOf(config)).toEqual(DEFAULT_INGEST_LIMITS);
    expect(deviceQuotasOf(config)).toEqual(DEFAULT_DEVICE_QUOTAS);
    expect(auditConfigOf(config)).toEqual({
      keyFile: '/etc/shellguard/data/audit.key', anchorFile: '/etc/shellguard/data/audit-anchors.log', anchorEveryEvents: 100, anchorIntervalMs: 60_000,
    });
  });

  it('reads every section, converting seconds and days to ms, over the defaults', () => {
    const config = check({
      dataDir: '/var/lib/shellguard', caDir: '/etc/shellguard/pki',
      mqtt: { host: '0.0.0.0', port: 18883 },
      api: { port: 0 },
      tls: { hostnames: ['sg.example.net'], ips: ['192.0.2.10'] },
      alarms: { webhooks: [{ id: 'ops', url: 'https://hooks.example.net/sg', secret: SECRET }] },
      ingest: { maxFutureSkewSeconds: 30, maxAgeDays: 7, clockWarnSeconds: 5 },
      quotas: { maxPacketBytes: 65_536, maxPointsPerAsset: 200, maxPointsPerDevice: 2_000, maxAssetsPerDevice: 20, messagesPerSecond: 100, messageBurst: 500 },
      audit: { keyFile: 'keys/audit.key', anchorFile: '/srv/anchors.log', anchorEveryEvents: 10, anchorIntervalSeconds: 30 },
    });
    expect(config.mqtt).toEqual({ host: '0.0.0.0', port: 18883 });
    expect(config.api).toEqual({ host: '127.0.0.1', port: 0 });
    expect(config.tlsNames).toEqual({ hostnames: ['sg.example.net'], ips: ['192.0.2.10'] });
    expect(config.alarms?.webhooks).toEqual([{ id: 'ops', url: 'https://hooks.example.net/sg', secret: SECRET }]);
    expect(ingestLimitsOf(config)).toEqual({ maxFutureSkewMs: 30_000, maxAgeMs: 7 * 86_400_000, clockWarnMs: 5_000 });
    expect(deviceQuotasOf(config)).toEqual({
      maxPacketBytes: 65_536, maxPointsPerAsset: 200, maxPointsPerDevice: 2_000, maxAssetsPerDevice: 20, messagesPerSecond: 100, messageBurst: 500,
    });
    expect(auditConfigOf(config)).toEqual({
      keyFile: '/etc/shellguard/keys/audit.key', anchorFile: '/srv/anchors.log', anchorEveryEvents: 10, anchorIntervalMs: 30_000,
    });
  });

  it('reads the bus: embedded by default, JetStream with defaults for stream and partitions', () => {
    expect(check(minimal).bus).toEqual({ engine: 'embedded' });
    const pg = { engine: 'postgres', url: 'postgres://h/db' };
    expect(check({ ...minimal, database: pg, bus: { engine: 'jetstream', url: 'nats://127.0.0.1:4222' } }).bus)
      .toEqual({ engine: 'jetstream', url: 'nats://127.0.0.1:4222', stream: 'SG', partitions: 32 });
    expect(check({ ...minimal, database: pg, bus: { engine: 'jetstream', url: 'nats://n:1', stream: 'SITE_A', partitions: 32 } }).bus)
      .toEqual({ engine: 'jetstream', url: 'nats://n:1', stream: 'SITE_A', partitions: 32 });
  });

  it('never echoes a bus URL it refuses (it may hold credentials)', () => {
    let message = '';
    try {
      check({ ...minimal, database: { engine: 'postgres', url: 'postgres://h/db' }, bus: { engine: 'jetstream', url: 'tls://user:hunter2@h' } });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/bus\.url/);
    expect(message).not.toMatch(/hunter2/);
  });

  it('reads telemetry retention in days, with per-site overrides', () => {
    const config = check({ ...minimal, telemetry: { retention: { rawDays: 30 }, sites: { 'site-2': { rawDays: 7, hourDays: 365 } }, readWorkers: 2 } });
    expect(config.telemetry).toEqual({ retention: { rawMs: 30 * 86_400_000 }, sites: { 'site-2': { rawMs: 7 * 86_400_000, hourMs: 365 * 86_400_000 } }, readWorkers: 2 });
  });

  it('reads live analytics\' bounds, the detector memory in MiB', () => {
    expect(check({ ...minimal, analytics: { maxPoints: 5_000, detectorMemoryMiB: 2_048 } }).analytics).toEqual({ maxPoints: 5_000, detectorMemoryBytes: 2_048 * 1024 * 1024 });
    expect(check({ ...minimal, analytics: { detectorMemoryMiB: 4096 } }).analytics).toEqual({ detectorMemoryBytes: 4096 * 1024 * 1024 });
  });

  it('refuses a detector memory too small for its points, saying what would do', () => {
    // 20,000 points (the default) in 1 GiB: 53,687 bytes a point, where each needs ~111 KB.
    const err = refusal({ ...minimal, analytics: { detectorMemoryMiB: 1024 } });
    expect(err.details).toMatchObject({ field: 'analytics.detectorMemoryMiB' });
    expect(err.message).toMatch(/1024 MiB for 20000 points is 53687 bytes a point; each needs at least \d+: raise it to \d+ or lower analytics\.maxPoints/);
    expect(check({ ...minimal, analytics: { detectorMemoryMiB: 1024, maxPoints: 5_000 } }).analytics).toMatchObject({ maxPoints: 5_000 });
  });

  it('keeps the defaults of the fields a section leaves out', () => {
    const config = check({ ...minimal, ingest: { maxAgeDays: 1 }, quotas: { messageBurst: 50 } });
    expect(ingestLimitsOf(config)).toEqual({ ...DEFAULT_INGEST_LIMITS, maxAgeMs: 86_400_000 });
    expect(deviceQuotasOf(config)).toEqual({ ...DEFAULT_DEVICE_QUOTAS, messageBurst: 50 });
  });

  it('takes an empty section for an absent one', () => {
    expect(check({ ...minimal, tls: null, alarms: null, ingest: null })).toEqual(check(minimal));
  });

  describe('refuses a misspelt key in every section, naming it and the keys it knows', () => {
    const webhook = { id: 'ops', url: 'https://hooks.example.net/sg', secret: SECRET };
    it.each([
      ['root', { ...minimal, dataDri: 'x' }, 'dataDri', 'dataDir, caDir, database, mqtt, api, tls, alarms, ingest, quotas, audit, telemetry, auth, procedures, notifications, bus, federation, analytics'],
      ['analytics', { ...minimal, analytics: { maxPoint: 10 } }, 'analytics.maxPoint', 'maxPoints, detectorMemoryMiB'],
      ['mqtt', { ...minimal, mqtt: { prot: 1883 } }, 'mqtt.prot', 'host, port, external'],
      ['api', { ...minimal, api: { hots: '0.0.0.0' } }, 'api.hots', 'host, port, certFile, keyFile'],
      ['auth', { ...minimal, auth: { lockout: 5 } }, 'auth.lockout', 'sessionIdleMinutes, sessionMaxHours, maxFailedSignIns, lockoutMinutes'],
      ['tls', { ...minimal, tls: { hostname: ['sg.example.net'] } }, 'tls.hostname', 'hostnames, ips'],
      ['alarms', { ...minimal, alarms: { webhook: [] } }, 'alarms.webhook', 'webhooks'],
      ['alarms.webhooks[i]', { ...minimal, alarms: { webhooks: [webhook, { ...webhook, id: 'b', secert: SECRET }] } }, 'alarms.webhooks[1].secert', 'id, url, secret'],
      ['ingest', { ...minimal, ingest: { maxAgeSeconds: 60 } }, 'ingest.maxAgeSeconds', 'maxFutureSkewSeconds, maxAgeDays, clockWarnSeconds'],
      ['quotas', { ...minimal, quotas: { maxPacketSize: 4096 } }, 'quotas.maxPacketSize',
        'maxPacketBytes, maxPointsPerAsset, maxPointsPerDevice, maxAssetsPerDevice, messagesPerSecond, messageBurst'],
      ['audit', { ...minimal, audit: { keyfile: 'k' } }, 'audit.keyfile', 'keyFile, anchorFile, anchorEveryEvents, anchorIntervalSeconds'],
      ['telemetry', { ...minimal, telemetry: { retension: {} } }, 'telemetry.retension', 'retention, sites, readWorkers'],
      ['telemetry.retention', { ...minimal, telemetry: { retention: { rawDay: 1 } } }, 'telemetry.retention.rawDay', 'rawDays, minuteDays, hourDays'],
      ['telemetry.sites.<site>', { ...minimal, telemetry: { sites: { 'site-1': { hourdays: 1 } } } }, 'telemetry.sites.site-1.hourdays', 'rawDays, minuteDays, hourDays'],
      ['federation', { ...minimal, federation: { role: 'site', site: 'a', url: 'nats://h:4222', flow: ['assets'], intervalMs: 5000 } }, 'federation.intervalMs',
        'role, site, url, flow, intervalSeconds, sites'],
    ])('%s', (_section, doc, field, known) => {
      const err = refusal(doc);
      expect(err.code).toBe('config_invalid');
      expect(err.message).toBe(`${SOURCE}: ${field}: unknown field (known: ${known})`);
      expect(err.details).toEqual({ source: SOURCE, field });
    });
  });

  it.each([
    [{ caDir: 'ca' }, 'dataDir', 'is required: a folder path'],
    [{ dataDir: 'data', caDir: '' }, 'caDir', 'is required: a folder path'],
    [{ ...minimal, database: { engine: 'mysql' } }, 'database.engine', 'must be sqlite (embedded, the default) or postgres'],
    [{ ...minimal, database: { engine: 'postgres' } }, 'database.url', 'is required for engine: postgres, as postgres://user@host:port/database'],
    [{ ...minimal, database: { engine: 'postgres', url: 'mysql://secret@h/db' } }, 'database.url', 'is required for engine: postgres, as postgres://user@host:port/database'],
    [{ ...minimal, database: { url: 'postgres://h/db' } }, 'database.url', 'applies to engine: postgres only'],
    [{ ...minimal, bus: { engine: 'kafka' } }, 'bus.engine', 'must be embedded (the default) or jetstream'],
    [{ ...minimal, bus: { engine: 'jetstream', url: 'nats://127.0.0.1:4222' } }, 'bus.engine',
      'jetstream is for several replicas, which share one database: set database.engine: postgres'],
    [{ ...minimal, database: { engine: 'postgres', url: 'postgres://h/db' }, bus: { engine: 'jetstream' } }, 'bus.url', 'is required for engine: jetstream, as nats://host:port'],
    [{ ...minimal, database: { engine: 'postgres', url: 'postgres://h/db' }, bus: { engine: 'jetstream', url: 'http://user:secret@h:4222' } }, 'bus.url', 'is required for engine: jetstream, as nats://host:port'],
    [{ ...minimal, database: { engine: 'postgres', url: 'postgres://h/db' }, bus: { engine: 'jetstream', url: 'nats://h:4222', stream: 'a.b' } }, 'bus.stream', 'must be 1 to 32 letters, digits, "_" or "-"'],
    [{ ...minimal, database: { engine: 'postgres', url: 'postgres://h/db' }, bus: { engine: 'jetstream', url: 'nats://h:4222', partitions: 0 } }, 'bus.partitions', 'must be a whole number from 1 to 256'],
    [{ ...minimal, bus: { url: 'nats://h:4222' } }, 'bus.url', 'applies to engine: jetstream only'],
    [{ ...minimal, mqtt: { port: 70_000 } }, 'mqtt.port', 'must be a port number 0-65535'],
    [{ ...minimal, api: { port: '8443' } }, 'api.port', 'must be a port number 0-65535'],
    [{ ...minimal, api: { host: '' } }, 'api.host', 'must be an address to listen on, e.g. 127.0.0.1'],
    [{ ...minimal, mqtt: 8883 }, 'mqtt', 'must be a mapping (key: value)'],
    [{ ...minimal, tls: { ips: '127.0.0.1' } }, 'tls.ips', 'must be a list of strings'],
    [{ ...minimal, tls: { hostnames: ['ok', ''] } }, 'tls.hostnames', 'must be a list of strings'],
    [{ ...minimal, alarms: { webhooks: { id: 'x' } } }, 'alarms.webhooks', 'must be a list of {id, url, secret}'],
    [{ ...minimal, alarms: { webhooks: ['https://x'] } }, 'alarms.webhooks[0]', 'must be a mapping (key: value)'],
    [{ ...minimal, alarms: { webhooks: [{ id: 'a', url: 'ftp://x', secret: SECRET }] } }, 'alarms.webhooks[0].url', 'must be an http(s) URL'],
    [{ ...minimal, alarms: { webhooks: [{ id: 'a', url: 'https://x', secret: 'short' }] } }, 'alarms.webhooks[0].secret',
      'must be at least 16 characters (it signs every notification)'],
    [{ ...minimal, alarms: { webhooks: [{ url: 'https://x', secret: SECRET }] } }, 'alarms.webhooks[0].id', 'is required'],
    [{ ...minimal, ingest: { maxFutureSkewSeconds: 0 } }, 'ingest.maxFutureSkewSeconds', 'must be a whole number from 1 to 86400'],
    [{ ...minimal, ingest: { maxAgeDays: 1.5 } }, 'ingest.maxAgeDays', 'must be a whole number from 1 to 3650'],
    [{ ...minimal, quotas: { maxPacketBytes: 1024 } }, 'quotas.maxPacketBytes', `must be a whole number from 4096 to ${256 << 20}`],
    [{ ...minimal, quotas: { messagesPerSecond: -1 } }, 'quotas.messagesPerSecond', 'must be a whole number from 1 to 10000000'],
    [{ ...minimal, audit: { anchorEveryEvents: 0 } }, 'audit.anchorEveryEvents', 'must be a whole number from 1 to 1000000'],
    [{ ...minimal, analytics: { maxPoints: 0 } }, 'analytics.maxPoints', 'must be a whole number from 1 to 10000000'],
    [{ ...minimal, analytics: { detectorMemoryMiB: 'lots' } }, 'analytics.detectorMemoryMiB', 'must be a whole number from 1 to 16777216'],
    [{ ...minimal, audit: { anchorFile: '' } }, 'audit.anchorFile', 'must be a file path'],
  ])('refuses a bad value, naming the file and the field (%#)', (doc, field, message) => {
    const err = refusal(doc);
    expect(err.message).toBe(`${SOURCE}: ${field}: ${message}`);
    expect(err.details).toMatchObject({ source: SOURCE, field });
  });

  it('refuses a document that is not a mapping', () => {
    expect(refusal(['dataDir']).message).toMatch(/must be a mapping/);
    expect(refusal('dataDir: x').message).toMatch(/must be a mapping/);
  });
});

describe('loadServerConfig', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-server-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('reads YAML and resolves folders against the file\'s own folder', () => {
    const file = write('server.yaml', 'dataDir: data\ncaDir: ca\ntls:\n  hostnames: [sg.local]\n');
    expect(loadServerConfig(file)).toMatchObject({ dataDir: path.join(dir, 'data'), caDir: path.join(dir, 'ca'), tlsNames: { hostnames: ['sg.local'] } });
  });

  it('names the file and the misspelt field under tls', () => {
    const file = write('typo.yaml', 'dataDir: data\ncaDir: ca\ntls:\n  hostnames: [sg.local]\n  ip: [192.0.2.1]\n');
    expect(() => loadServerConfig(file)).toThrow(`${file}: tls.ip: unknown field (known: hostnames, ips)`);
  });

  it('names the file that is not YAML or cannot be read', () => {
    const broken = write('broken.yaml', 'dataDir: [unclosed\n');
    expect(() => loadServerConfig(broken)).toThrow(expect.objectContaining({ code: 'config_invalid', message: expect.stringContaining(`${broken}: not valid YAML`) }));
    const missing = path.join(dir, 'missing.yaml');
    expect(() => loadServerConfig(missing)).toThrow(expect.objectContaining({ code: 'config_invalid', message: expect.stringContaining(`cannot read server config ${missing}`) }));
  });
});

describe('validateServerConfig: procedures and notifications', () => {
  it('reads site managers and outbox webhooks, and names a wrong field', () => {
    const config = check({
      ...minimal,
      procedures: { managers: { 'site-1': 'maria' } },
      notifications: { webhooks: [{ id: 'itsm', url: 'https://itsm.example.net/hook', secret: 'whsec-0123456789abcdef', format: 'generic' }] },
    });
    expect(config.procedures).toEqual({ managers: { 'site-1': 'maria' } });
    expect(config.notifications?.webhooks).toEqual([expect.objectContaining({ id: 'itsm', format: 'generic' })]);
    expect(() => check({ ...minimal, procedures: { managers: { 'site-1': 'not a name!' } } })).toThrow(/procedures\.managers\.site-1/);
    expect(() => check({ ...minimal, notifications: { webhooks: [{ id: 'x', url: 'ftp://x', secret: 'whsec-0123456789abcdef', format: 'generic' }] } }))
      .toThrow(/notifications\.webhooks\[0\]\.url/);
  });
});

describe('validateServerConfig: federation', () => {
  const siteRole = { role: 'site', site: 'site-a', url: 'nats://127.0.0.1:4222', flow: ['assets', 'alarms'] };
  const centralRole = { role: 'central', url: 'nats://hub.example.net:4222', sites: ['site-a', 'site-b'] };
  const FLOW = 'must list what flows to the centre, each once, from: assets, alarms, devices, incidents, points (site data stays at its site unless listed)';
  const SITE_ID = 'must be a site id: 1 to 31 lower-case letters, digits or "-"';
  const NATS = 'is required, as nats://host:port';

  it('has no federation by default (a site on its own)', () => {
    expect(check(minimal)).not.toHaveProperty('federation');
  });

  it('reads role site, exporting every 5 s by default', () => {
    expect(check({ ...minimal, federation: siteRole }).federation)
      .toEqual({ role: 'site', site: 'site-a', url: 'nats://127.0.0.1:4222', flow: ['assets', 'alarms'], intervalMs: 5_000 });
    expect(check({ ...minimal, federation: { ...siteRole, flow: ['points', 'incidents', 'devices', 'alarms', 'assets'], intervalSeconds: 30 } }).federation)
      .toEqual({ role: 'site', site: 'site-a', url: 'nats://127.0.0.1:4222', flow: ['points', 'incidents', 'devices', 'alarms', 'assets'], intervalMs: 30_000 });
  });

  it('reads role central with the sites it sources', () => {
    expect(check({ ...minimal, federation: centralRole }).federation)
      .toEqual({ role: 'central', url: 'nats://hub.example.net:4222', sites: ['site-a', 'site-b'] });
  });

  it('accepts site ids of 1 and 31 characters', () => {
    const longest = `a${'-'.repeat(29)}9`;
    expect(check({ ...minimal, federation: { ...siteRole, site: '7' } }).federation).toMatchObject({ site: '7' });
    expect(check({ ...minimal, federation: { ...centralRole, sites: ['a', longest] } }).federation).toMatchObject({ sites: ['a', longest] });
  });

  it.each([
    [{ role: 'hub', url: 'nats://h:4222' }, 'federation.role', 'must be site (export to a centre) or central (the fleet view of sites)'],
    [{ url: 'nats://h:4222', sites: ['a'] }, 'federation.role', 'must be site (export to a centre) or central (the fleet view of sites)'],
    [{ ...siteRole, role: 'Site' }, 'federation.role', 'must be site (export to a centre) or central (the fleet view of sites)'],
    [{ ...siteRole, site: 'Site-A' }, 'federation.site', SITE_ID],
    [{ ...siteRole, site: 'site.a' }, 'federation.site', SITE_ID],
    [{ ...siteRole, site: '-a' }, 'federation.site', SITE_ID],
    [{ ...siteRole, site: 'a'.repeat(32) }, 'federation.site', SITE_ID],
    [{ ...siteRole, site: undefined }, 'federation.site', SITE_ID],
    [{ ...siteRole, site: 12 }, 'federation.site', SITE_ID],
    [{ ...siteRole, url: undefined }, 'federation.url', NATS],
    [{ ...siteRole, url: 'http://127.0.0.1:4222' }, 'federation.url', NATS],
    [{ ...centralRole, url: 'hub:4222' }, 'federation.url', NATS],
    [{ ...siteRole, flow: undefined }, 'federation.flow', FLOW],
    [{ ...siteRole, flow: [] }, 'federation.flow', FLOW],
    [{ ...siteRole, flow: 'assets' }, 'federation.flow', FLOW],
    [{ ...siteRole, flow: ['assets', 'alarms', 'assets'] }, 'federation.flow', FLOW],
    [{ ...siteRole, flow: ['assets', 'telemetry'] }, 'federation.flow', FLOW],
    [{ ...siteRole, flow: ['Assets'] }, 'federation.flow', FLOW],
    [{ ...siteRole, intervalSeconds: 0 }, 'federation.intervalSeconds', 'must be a whole number from 1 to 3600'],
    [{ ...siteRole, intervalSeconds: 2.5 }, 'federation.intervalSeconds', 'must be a whole number from 1 to 3600'],
    [{ ...siteRole, intervalSeconds: 3601 }, 'federation.intervalSeconds', 'must be a whole number from 1 to 3600'],
    [{ ...centralRole, sites: undefined }, 'federation.sites', 'must list the sites the centre sources'],
    [{ ...centralRole, sites: [] }, 'federation.sites', 'must list the sites the centre sources'],
    [{ ...centralRole, sites: 'site-a' }, 'federation.sites', 'must list the sites the centre sources'],
    [{ ...centralRole, sites: ['site-a', 'site-b', 'site-a'] }, 'federation.sites', 'lists a site twice'],
    [{ ...centralRole, sites: ['site-a', 'Site_B'] }, 'federation.sites[1]', SITE_ID],
    // Fields of the other role.
    [{ ...siteRole, sites: ['site-b'] }, 'federation.sites', 'applies to role: central only'],
    [{ ...centralRole, site: 'site-a' }, 'federation.site', 'applies to role: site only'],
    [{ ...centralRole, flow: ['assets'] }, 'federation.flow', 'applies to role: site only'],
    [{ ...centralRole, intervalSeconds: 5 }, 'federation.intervalSeconds', 'applies to role: site only'],
    ['central', 'federation', 'must be a mapping (key: value)'],
  ])('refuses a bad federation section, naming the field (%#)', (federation, field, message) => {
    const err = refusal({ ...minimal, federation });
    expect(err.code).toBe('config_invalid');
    expect(err.message).toBe(`${SOURCE}: ${field}: ${message}`);
    expect(err.details).toEqual({ source: SOURCE, field });
  });

  it('never echoes a federation URL it refuses (it may hold credentials)', () => {
    for (const url of ['nats://fleet:hunter2@:4222', 'tls://fleet:hunter2@hub:4222']) {
      for (const federation of [{ ...siteRole, url }, { ...centralRole, url }]) {
        const err = refusal({ ...minimal, federation });
        expect(err.message).toBe(`${SOURCE}: federation.url: ${NATS}`);
        expect(err.message).not.toMatch(/hunter2/);
        expect(JSON.stringify(err.details)).not.toMatch(/hunter2/);
      }
    }
  });

  it('never echoes an accepted federation URL in another field\'s refusal', () => {
    const err = refusal({ ...minimal, federation: { ...siteRole, url: 'nats://fleet:hunter2@hub:4222', flow: ['secrets'] } });
    expect(err.message).toMatch(/federation\.flow/);
    expect(err.message).not.toMatch(/hunter2/);
  });

  it('reads federation from YAML', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-server-config-federation-'));
    try {
      const file = path.join(dir, 'server.yaml');
      writeFileSync(file, 'dataDir: data\ncaDir: ca\nfederation:\n  role: site\n  site: north-1\n  url: nats://127.0.0.1:4222\n  flow: [assets, alarms, points]\n  intervalSeconds: 10\n');
      expect(loadServerConfig(file).federation).toEqual({ role: 'site', site: 'north-1', url: 'nats://127.0.0.1:4222', flow: ['assets', 'alarms', 'points'], intervalMs: 10_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
