/**
 * An external broker for a test site: Debian's Mosquitto 2.0 on a free loopback port, configured by
 * generateMosquittoConfig with the site's PKI, and the `mqtt` section of server.yaml that makes
 * the server use it (mqtt.external). The server then keeps its cafile, crlfile and device rights.
 */
import { userInfo } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { controlTopic } from '@shellguard/protocol';
import {
  freeLoopbackPort, generateMosquittoConfig, openPki, startMosquitto, type MosquittoProcess, type ServerConfig,
} from '@shellguard/server';

/** The brokers the trust-hole tests run against. */
export type TestBroker = 'embedded' | 'mosquitto';
export const TEST_BROKERS: readonly TestBroker[] = ['embedded', 'mosquitto'];

export interface ExternalMosquitto {
  /** The server.yaml `mqtt` section selecting this broker. */
  mqtt: ServerConfig['mqtt'];
  process: MosquittoProcess;
  /**
   * Waits until the broker grants `device` its rights (the server applies them a moment after
   * the attestation passed): its own down topic can be subscribed to.
   */
  waitForAccess(device: { deviceId: string; certPem: string; keyPem: string; rootPem: string }): Promise<void>;
  stop(): Promise<void>;
}

/** `serverUsernames`: one per server replica (each replica's `mqtt.external.username`). */
export async function startExternalMosquitto(dir: string, caDir: string, serverUsernames: readonly string[] = ['shellguard-server']): Promise<ExternalMosquitto> {
  const pki = await openPki(caDir);
  const server = await pki.issueServerCertificate({ hostnames: ['localhost'], ips: ['127.0.0.1'], validityDays: 30 });
  const port = await freeLoopbackPort();
  const files = generateMosquittoConfig({
    dir: path.join(dir, 'mosquitto'), host: '127.0.0.1', port,
    serverCertificate: { chainPem: server.chainPem, keyPem: server.keyPem },
    trustAnchorPems: [pki.rootPem], crlPems: await pki.generateCrls([]),
    serverUsernames,
    // As root (CI containers) mosquitto would drop to the `mosquitto` account, which cannot read the test folder.
    user: userInfo().username,
  });
  const mosquitto = await startMosquitto({ configFile: files.configFile, host: '127.0.0.1', port });
  return {
    mqtt: {
      host: '127.0.0.1', port: 0,
      external: { url: `mqtts://127.0.0.1:${port}`, username: 'shellguard-server', caFile: files.caFile, crlFile: files.crlFile, pidFile: files.pidFile },
    },
    process: mosquitto,
    async waitForAccess(device) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const granted = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
          protocolVersion: 4, clientId: device.deviceId, reconnectPeriod: 0, connectTimeout: 5_000,
          ca: device.rootPem, cert: device.certPem, key: device.keyPem,
        }).then(async (client) => {
          const ok = await client.subscribeAsync(controlTopic(device.deviceId, 'down', 'ack')).then((g) => g[0]!.qos < 0x80, () => false);
          await client.endAsync(true);
          return ok;
        }, () => false);
        if (granted) return;
        if (Date.now() > deadline) throw new Error(`the external broker did not grant ${device.deviceId} its rights\n${mosquitto.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    stop: () => mosquitto.stop(),
  };
}
