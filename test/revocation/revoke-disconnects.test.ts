/**
 * Revocation end to end: a guardian that attested and is streaming is revoked through the API;
 * the broker drops its session, refuses its certificate from then on, attestation refuses the
 * device, and the CRL an external broker would load lists the certificate's serial.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlTopic } from '@shellguard/protocol';
import { startTestSite, type TestSite } from '../support/enrolled-device.ts';

let site: TestSite;

beforeAll(async () => { site = await startTestSite('sg-revoke-'); });
afterAll(async () => { await site?.close(); });

describe('revoking a connected guardian', () => {
  it('drops its session, refuses it from then on, and lists its certificate in the CRL', async () => {
    const { server, keys, enrolment } = site;
    const client = await site.connect();
    await client.subscribeAsync(controlTopic(keys.deviceId, 'down', 'ack'));
    expect(server.stats().connectedDevices).toBe(1);

    const closed = new Promise<number>((resolve) => client.once('close', () => resolve(Date.now())));
    const revokedAt = Date.now();
    const res = await site.post(`/api/v1/fleet/${keys.deviceId}/revoke`, { reason: 'gateway stolen from hall 2' });
    expect(res.status).toBe(200);
    const disconnectedAt = await closed;
    // The issue asks for "within a second"; shared CI machines make that a report, not an assertion.
    console.log(`revocation to disconnect: ${disconnectedAt - revokedAt} ms`);
    expect(server.stats().connectedDevices).toBe(0);

    // Its still-unexpired certificate no longer opens a session.
    await expect(site.connect()).rejects.toThrow();
    expect(server.stats().broker.refusedConnections).toBeGreaterThan(0);

    // Attestation refuses the device: no new certificate.
    await expect(site.enrolAgain()).rejects.toMatchObject({ refusal: 'device_revoked' });

    // The CRL for external brokers names the serial (checked with openssl, not our parser).
    const crlFile = path.join(site.dir, 'site.crl');
    writeFileSync(crlFile, (await site.get('/api/v1/pki/crl')).text);
    const text = execFileSync('openssl', ['crl', '-in', crlFile, '-noout', '-text'], { encoding: 'utf8' });
    expect(text.toLowerCase().replace(/:/g, '')).toContain(enrolment.serial.replace(/^0+/, ''));
  });
});
