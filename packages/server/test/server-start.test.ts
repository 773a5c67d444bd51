/**
 * What `startServer` refuses before it serves anything: a site PKI that is not there (creating one
 * is `shellguard ca init`, never a side effect of a start), and ports another process holds.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { initPki } from '../src/pki/index.ts';
import { startServer } from '../src/server.ts';
import type { ServerConfig } from '../src/config/config.ts';

const logger = pino({ level: 'silent' });

function configIn(dir: string, ports: { mqtt?: number; api?: number } = {}): ServerConfig {
  return {
    dataDir: path.join(dir, 'server'),
    caDir: path.join(dir, 'ca'),
    mqtt: { host: '127.0.0.1', port: ports.mqtt ?? 0 },
    api: { host: '127.0.0.1', port: ports.api ?? 0 },
    tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
  };
}

/** A loopback port held by a plain TCP listener for the test. */
async function holdPort(): Promise<{ port: number; release(): Promise<void> }> {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return {
    port: (holder.address() as net.AddressInfo).port,
    release: () => new Promise<void>((resolve) => holder.close(() => resolve())),
  };
}

describe('startServer', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-server-start-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('without a site PKI', () => {
    const refusal = (caDir: string) => ({
      code: 'ca_missing',
      message: `no site PKI in ${caDir}: create one with \`shellguard ca init --dir ${caDir}\` (first start), or point caDir at the existing one`,
    });

    it('refuses a caDir that does not exist, and creates nothing', async () => {
      const config = configIn(dir);
      await expect(startServer(config, { logger })).rejects.toMatchObject(refusal(config.caDir));
      expect(readdirSync(dir)).toEqual([]);
    });

    it('refuses an empty caDir, and creates nothing', async () => {
      const config = configIn(dir);
      mkdirSync(config.caDir);
      await expect(startServer(config, { logger })).rejects.toMatchObject(refusal(config.caDir));
      expect(readdirSync(config.caDir)).toEqual([]);
      expect(existsSync(config.dataDir)).toBe(false);
    });
  });

  describe('with a port another process holds', () => {
    beforeEach(async () => {
      await initPki(path.join(dir, 'ca'), { commonName: 'Test site' });
    });

    it('says the API port is in use and where to choose another, and lets go of the broker port', async () => {
      const held = await holdPort();
      const mqtt = await holdPort();
      const mqttPort = mqtt.port;
      await mqtt.release();
      try {
        await expect(startServer(configIn(dir, { api: held.port, mqtt: mqttPort }), { logger })).rejects.toMatchObject({
          code: 'port_in_use',
          message: `port ${held.port} on 127.0.0.1 is already in use (wanted for the HTTPS API); stop the other process or choose another port (api.port in server.yaml, or --api-port for shellguard demo)`,
        });
        // The broker had started; the failed start closed it again.
        const again = net.createServer();
        await new Promise<void>((resolve, reject) => again.once('error', reject).listen({ host: '127.0.0.1', port: mqttPort }, resolve));
        await new Promise<void>((resolve) => again.close(() => resolve()));
      } finally {
        await held.release();
      }
    });

    it('says the broker port is in use', async () => {
      const held = await holdPort();
      try {
        await expect(startServer(configIn(dir, { mqtt: held.port }), { logger })).rejects.toMatchObject({
          code: 'port_in_use',
          message: expect.stringContaining(`port ${held.port} on 127.0.0.1 is already in use (wanted for the MQTT broker); stop the other process or choose another port (mqtt.port in server.yaml`),
        });
      } finally {
        await held.release();
      }
    });
  });
});
