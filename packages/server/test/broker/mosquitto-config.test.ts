/**
 * The pieces around the external broker that need no broker: the generated configuration, the
 * server.yaml section that selects it, and the reading of Mosquitto's log lines (as 2.0.11 wrote
 * them in these tests' runs).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateServerConfig } from '../../src/config/config.ts';
import { parseBrokerLogLine } from '../../src/broker/mosquitto/broker-log.ts';
import { deviceAcls, SERVER_GROUP, SERVER_ROLE } from '../../src/broker/mosquitto/device-acls.ts';
import { generateMosquittoConfig } from '../../src/broker/mosquitto/mosquitto-config.ts';

const ID = 'a'.repeat(64);

describe('generateMosquittoConfig', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-mosquitto-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const files = generateMosquittoConfig({
    dir, host: '127.0.0.1', port: 18_883,
    serverCertificate: { chainPem: 'CERT\n', keyPem: 'KEY\n' }, trustAnchorPems: ['ROOT'], crlPems: ['CRL-1', 'CRL-2'],
    serverUsernames: ['shellguard-server'], maxPacketBytes: 65_536,
  });

  it('requires client certificates from the trust anchors, checks the CRL and names clients by their certificate', () => {
    const conf = readFileSync(files.configFile, 'utf8');
    for (const line of [
      'allow_anonymous false', 'require_certificate true', 'use_identity_as_username true', 'use_username_as_clientid true',
      `cafile ${files.caFile}`, `crlfile ${files.crlFile}`, 'retain_available false', 'max_packet_size 65536',
      'log_dest topic', 'tls_version tlsv1.3', 'listener 18883 127.0.0.1',
    ]) expect(conf.split('\n')).toContain(line);
    expect(readFileSync(files.crlFile, 'utf8')).toBe('CRL-1\nCRL-2\n');
  });

  it('starts the plugin denying everything but unsubscribing, with the server group holding Shellguard\'s role', () => {
    const dynsec = JSON.parse(readFileSync(files.dynamicSecurityFile, 'utf8')) as Record<string, unknown>;
    expect(dynsec.defaultACLAccess).toEqual({ publishClientSend: false, publishClientReceive: false, subscribe: false, unsubscribe: true });
    expect(dynsec.groups).toEqual([{ groupname: SERVER_GROUP, roles: [{ rolename: SERVER_ROLE }], clients: [{ username: 'shellguard-server' }] }]);
  });

  it('refuses values that would break out of their line', () => {
    expect(() => generateMosquittoConfig({
      dir, host: '127.0.0.1\nallow_anonymous true', port: 1, serverCertificate: { chainPem: '', keyPem: '' },
      trustAnchorPems: [], crlPems: [], serverUsernames: [],
    })).toThrow(/cannot be written/);
  });
});

describe('deviceAcls', () => {
  it('never lets a device publish commands or reach the plugin', () => {
    const sends = deviceAcls(ID).filter((a) => a.acltype === 'publishClientSend').map((a) => a.topic);
    expect(sends.some((t) => /NCMD|DCMD|\/down\/|\$CONTROL/.test(t))).toBe(false);
    expect(sends.every((t) => t.includes(ID))).toBe(true);
  });

  it('refuses a name that is not a device id', () => {
    expect(() => deviceAcls('+')).toThrow(TypeError);
  });
});

describe('mqtt.external in server.yaml', () => {
  const base = { dataDir: 'data', caDir: 'ca' };

  it('selects the external broker with the files Shellguard keeps', () => {
    const config = validateServerConfig({
      ...base, mqtt: { external: { url: 'mqtts://broker.example:8883', caFile: 'b/roots.crt', crlFile: 'b/site.crl', pidFile: '/run/mosquitto.pid' } },
    }, 'server.yaml', '/etc/shellguard');
    expect(config.mqtt.external).toEqual({
      url: 'mqtts://broker.example:8883', username: 'shellguard-server',
      caFile: '/etc/shellguard/b/roots.crt', crlFile: '/etc/shellguard/b/site.crl', pidFile: '/run/mosquitto.pid',
    });
  });

  it('keeps the embedded broker without it', () => {
    expect(validateServerConfig(base, 'server.yaml', '/etc/shellguard').mqtt.external).toBeUndefined();
  });

  it.each([
    [{ url: 'mqtt://broker.example:1883', caFile: 'a', crlFile: 'b' }, /mqtt\.external\.url: is required: mqtts:\/\/host:port/],
    [{ url: 'mqtts://user:pw@broker.example:8883', caFile: 'a', crlFile: 'b' }, /mqtt\.external\.url/],
    [{ url: 'mqtts://broker.example:8883', crlFile: 'b' }, /mqtt\.external\.caFile: is required/],
    [{ url: 'mqtts://broker.example:8883', caFile: 'a', crlFile: 'b', username: ID }, /mqtt\.external\.username/],
    [{ url: 'mqtts://broker.example:8883', caFile: 'a', crlFile: 'b', password: 'x' }, /mqtt\.external\.password: unknown field/],
  ])('refuses %j with a clear error', (external, message) => {
    expect(() => validateServerConfig({ ...base, mqtt: { external } }, 'server.yaml', '/etc')).toThrow(message);
  });
});

describe('parseBrokerLogLine', () => {
  const N = '$SYS/broker/log/N';

  it('reads sessions opening and ending', () => {
    expect(parseBrokerLogLine(N, `1796237258: New client connected from 127.0.0.1:39198 as ${ID} (p2, c1, k60, u'${ID}').`))
      .toEqual({ kind: 'connected', clientId: ID, username: ID });
    for (const [line, reason] of [
      [`Client ${ID} disconnected.`, 'disconnected'],
      [`Client ${ID} closed its connection.`, 'closed its connection'],
      [`Client ${ID} been disconnected by administrative action.`, 'been disconnected by administrative action'],
      [`Client ${ID} has exceeded timeout, disconnecting.`, 'has exceeded timeout, disconnecting'],
      [`Bad socket read/write on client ${ID}: Unknown error`, 'Unknown error'],
    ]) expect(parseBrokerLogLine(N, `1796237258: ${line}`)).toEqual({ kind: 'disconnected', clientId: ID, reason });
  });

  it('reads granted subscriptions, TLS refusals and oversized packets', () => {
    expect(parseBrokerLogLine('$SYS/broker/log/M/subscribe', `1796237257: ${ID} 1 shellguard/v1/device/${ID}/down/ack`))
      .toEqual({ kind: 'subscribed', clientId: ID, filter: `shellguard/v1/device/${ID}/down/ack` });
    expect(parseBrokerLogLine('$SYS/broker/log/E', '1796237258: OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed'))
      .toMatchObject({ kind: 'tls_refused' });
    expect(parseBrokerLogLine('$SYS/broker/log/E', '1796237258: OpenSSL Error[0]: error:0A0000C7:SSL routines::peer did not return a certificate'))
      .toMatchObject({ kind: 'tls_refused' });
    expect(parseBrokerLogLine(N, `Client ${ID} disconnected due to oversize packet.`)).toEqual({ kind: 'oversized', clientId: ID });
  });

  it('ignores what it does not know, and sessions that never had a name', () => {
    expect(parseBrokerLogLine(N, '1796237258: New connection from 127.0.0.1:39234 on port 18883.')).toBeUndefined();
    expect(parseBrokerLogLine(N, 'Client <unknown> disconnected: Protocol error.')).toBeUndefined();
    expect(parseBrokerLogLine('$SYS/broker/log/E', 'OpenSSL Error[0]: error:0A000126:SSL routines::unexpected eof while reading')).toBeUndefined();
  });
});
