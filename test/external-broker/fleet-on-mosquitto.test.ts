/**
 * A real server on an external Mosquitto (mqtt.external): the fleet's decisions reach the broker.
 * A guardian that attested streams; revoked through the API, its session is cut, its certificate
 * is refused at the TLS handshake by the CRL the server wrote for Mosquitto; a guardian whose
 * attestation fails is quarantined and gets no session until an operator releases it.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type mqtt from 'mqtt';
import { GUARDIAN_SWNAME, enrol } from '@shellguard/guardian';
import { controlTopic } from '@shellguard/protocol';
import { startTestSite, type TestSite } from '../support/enrolled-device.ts';
import { enrolGuardian, type SiteGuardian } from '../support/site-guardians.ts';
import { waitFor } from '../system/support/wait-for.ts';

let site: TestSite;

beforeAll(async () => { site = await startTestSite('sg-fleet-mosquitto-', { broker: 'mosquitto' }); });
afterAll(async () => { await site?.close(); });

/** Resolves with the time the session ended; the test's timeout bounds the wait. */
function sessionEnd(client: mqtt.MqttClient): Promise<number> {
  return new Promise((resolve) => client.once('close', () => resolve(Date.now())));
}

/** Connects until `connect` fails (the broker reloads its CRL a moment after it is written). */
async function refusal(connect: () => Promise<mqtt.MqttClient>): Promise<string> {
  for (;;) {
    const outcome = await connect().then(async (c) => {
      await sessionEnd(c);
      return undefined;
    }, (err: Error) => err.message);
    if (outcome !== undefined) return outcome;
  }
}

describe('the fleet on an external Mosquitto', () => {
  it('cuts a revoked guardian\'s session, then refuses its certificate at the handshake by the CRL it wrote', async () => {
    const { server, keys, enrolment } = site;
    const client = await site.connect();
    await client.subscribeAsync(controlTopic(keys.deviceId, 'down', 'ack'));
    await waitFor('the broker reports it connected', () => server.stats().connectedDevices === 1, { timeoutMs: 10_000 });

    const closed = sessionEnd(client);
    const revokedAt = Date.now();
    const res = await site.post(`/api/v1/fleet/${keys.deviceId}/revoke`, { reason: 'gateway stolen from hall 2' });
    expect(res.status).toBe(200);
    const disconnectedAt = await closed;
    // The issue asks for "within a second"; measured and reported, not asserted (shared CI machines).
    console.log(`revocation (API) to disconnect on Mosquitto: ${disconnectedAt - revokedAt} ms`);
    await waitFor('the broker reports it gone', () => server.stats().connectedDevices === 0, { timeoutMs: 10_000 });

    expect(await refusal(() => site.connect())).toMatch(/certificate revoked/);
    await expect(site.enrolAgain()).rejects.toMatchObject({ refusal: 'device_revoked' });
    // Mosquitto's crlfile, as the server keeps it, read by openssl.
    const text = execFileSync('openssl', ['crl', '-in', path.join(site.dir, 'mosquitto', 'site.crl'), '-noout', '-text'], { encoding: 'utf8' });
    expect(text.toLowerCase().replace(/:/g, '')).toContain(enrolment.serial.replace(/^0+/, ''));
  });

  it('cuts a guardian quarantined by a failed attestation, gives it no session, and lets it back once released', async () => {
    const guardian: SiteGuardian = await enrolGuardian(site, 'guardian-q');
    await waitFor('its rights reach the broker', async () => {
      const c = await guardian.connect().catch(() => undefined);
      if (!c) return false;
      const ok = await c.subscribeAsync(controlTopic(guardian.deviceId, 'down', 'ack')).then((g) => g[0]!.qos < 0x80, () => false);
      await c.endAsync(true);
      return ok;
    }, { timeoutMs: 10_000 });
    const client = await guardian.connect();
    const closed = sessionEnd(client);
    // It now runs software that is no registered release: the appraisal quarantines it.
    await expect(enrol({
      apiUrl: site.apiUrl, rootCaPem: site.server.rootPem, keyStore: guardian.keys,
      measurements: [{ component: 'runtime', digest: 'f'.repeat(64) }], swname: GUARDIAN_SWNAME, swversion: '0.1.0', bootcount: 2, now: Date.now,
    })).rejects.toMatchObject({ refusal: 'measurements_mismatch' });
    await closed;

    // Its certificate is not revoked (quarantine can be lifted): the broker accepts the TLS
    // handshake, and the server closes the session that has no rights.
    const refusedBefore = site.server.stats().broker.refusedConnections;
    const again = await guardian.connect();
    await sessionEnd(again);
    await waitFor('the refusal is counted', () => site.server.stats().broker.refusedConnections > refusedBefore, { timeoutMs: 10_000 });

    expect((await site.post(`/api/v1/fleet/${guardian.deviceId}/release`, {})).status).toBe(200);
    await waitFor('it is back', async () => {
      const c = await guardian.connect().catch(() => undefined);
      if (!c) return false;
      const ok = await c.subscribeAsync(controlTopic(guardian.deviceId, 'down', 'ack')).then((g) => g[0]!.qos < 0x80, () => false);
      await c.endAsync(true);
      return ok;
    }, { timeoutMs: 10_000 });
  });
});
