import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '@shellguard/protocol/testing';
import { migrateServerDatabase } from '../../src/db/schema.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { httpWebhookTransport } from '../../src/notifications/http-webhook-transport.ts';
import { parseNotificationEndpoints } from '../../src/notifications/notification-endpoint.ts';
import { OutboxDispatcher } from '../../src/notifications/outbox-dispatcher.ts';
import { SqlOutboxStore } from '../../src/notifications/sql-outbox-store.ts';
import { createEnterprisePki, type EnterprisePki } from '../pki/enterprise-pki.ts';
import { T0, incidentEntry } from './incident-entries.ts';
import { SECRET, startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.ts';

let dir: string;
let pki: EnterprisePki;
let receiver: WebhookReceiver;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sg-webhook-tls-'));
  pki = createEnterprisePki(dir);
  receiver = await startWebhookReceiver({ cert: readFileSync(pki.chainFile, 'utf8'), key: readFileSync(pki.keyFile, 'utf8') });
});
afterAll(async () => {
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

const request = { body: '{}', headers: { 'content-type': 'application/json' }, timeoutMs: 10_000 };

describe('httpWebhookTransport', () => {
  it('refuses a receiver whose certificate the system CAs do not vouch for', async () => {
    await expect(httpWebhookTransport({ ...request, url: receiver.url() })).rejects.toThrow(/issuer certificate|self.signed|certificate/);
  });

  it('trusts the CAs it is given instead', async () => {
    await expect(httpWebhookTransport({ ...request, url: receiver.url(), ca: pki.rootPem })).resolves.toEqual({ status: 200 });
  });

  it('passes on a Retry-After', async () => {
    receiver.answer = () => ({ status: 503, headers: { 'retry-after': '7' } });
    try {
      await expect(httpWebhookTransport({ ...request, url: receiver.url(), ca: pki.rootPem })).resolves.toEqual({ status: 503, retryAfter: '7' });
    } finally {
      receiver.answer = () => 200;
    }
  });
});

describe('OutboxDispatcher with an endpoint caFile', () => {
  it('delivers over TLS verified against the endpoint\'s own CA file', async () => {
    const endpoints = parseNotificationEndpoints([{ id: 'corp', url: receiver.url('/corp'), secret: SECRET, caFile: 'corp-root.crt' }], 'notifications.webhooks', { baseDir: dir });
    const database = openSqliteSqlDatabase(join(dir, 'server.sqlite'));
    await migrateServerDatabase(database);
    const clock = new ManualClock(T0);
    const outbox = new SqlOutboxStore(database.db, { now: clock.now, endpoints });
    const dispatcher = new OutboxDispatcher({ store: outbox, endpoints, clock });
    try {
      await outbox.enqueue(incidentEntry(1));
      dispatcher.start();
      await dispatcher.idle();
      expect(receiver.received.filter((r) => r.path === '/corp').map((r) => [r.idempotencyKey, r.signatureOk])).toEqual([['incident:1:opened', true]]);
    } finally {
      await dispatcher.stop();
      await database.close();
    }
  });

  it('stops the start, naming the file, when the caFile cannot be read', () => {
    const endpoints = parseNotificationEndpoints([{ id: 'corp', url: receiver.url(), secret: SECRET, caFile: 'missing.pem' }], 'notifications.webhooks', { baseDir: dir });
    const store = {} as ConstructorParameters<typeof OutboxDispatcher>[0]['store'];
    expect(() => new OutboxDispatcher({ store, endpoints })).toThrow(expect.objectContaining({
      code: 'endpoint_invalid', message: expect.stringContaining(`webhook corp: cannot read caFile ${join(dir, 'missing.pem')}`),
    }));
  });
});
