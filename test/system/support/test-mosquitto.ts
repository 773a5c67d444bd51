/**
 * A Mosquitto 2 of the test's own, configured as Shellguard's external broker (mqtt.external):
 * mutual TLS with a certificate from the site PKI, the dynamic-security plugin with the given
 * replicas' usernames in the server group, the site CA and its CRL. It can be killed with SIGKILL
 * and started again on the same port and configuration (the plugin's file keeps the devices'
 * rights; Shellguard rewrites cafile and crlfile and signals it through the pid file).
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import {
  DEBIAN_DYNAMIC_SECURITY_PLUGIN, DEBIAN_MOSQUITTO, freeLoopbackPort, generateMosquittoConfig, openPki, startMosquitto,
  type MosquittoFiles, type MosquittoProcess,
} from '@shellguard/server';
import { waitFor } from './wait-for.ts';

/** Why the external broker cannot run here, or undefined when Debian's Mosquitto 2 and its plugin are installed. */
export function mosquittoMissing(): string | undefined {
  for (const file of [DEBIAN_MOSQUITTO, DEBIAN_DYNAMIC_SECURITY_PLUGIN]) {
    if (!existsSync(file)) return `${file} is missing (scripts/install-test-deps.sh installs mosquitto)`;
  }
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export class TestMosquitto {
  readonly port: number;
  readonly files: MosquittoFiles;
  readonly logFile: string;
  #process: MosquittoProcess | undefined;
  /** What earlier runs (before a kill) printed. */
  #earlierOutput = '';

  private constructor(port: number, files: MosquittoFiles, logFile: string) {
    this.port = port;
    this.files = files;
    this.logFile = logFile;
  }

  /** Writes the configuration into `dir` and starts it on a free loopback port. */
  static async start(options: { dir: string; caDir: string; serverUsernames: readonly string[] }): Promise<TestMosquitto> {
    const pki = await openPki(options.caDir);
    const certificate = await pki.issueServerCertificate({ hostnames: ['localhost'], ips: ['127.0.0.1'], validityDays: 30 });
    const port = await freeLoopbackPort();
    const logFile = path.join(options.dir, 'mosquitto.log');
    const files = generateMosquittoConfig({
      dir: options.dir, host: '127.0.0.1', port,
      serverCertificate: { chainPem: certificate.chainPem, keyPem: certificate.keyPem },
      trustAnchorPems: [pki.rootPem], crlPems: await pki.generateCrls([]),
      serverUsernames: options.serverUsernames,
      // Started as root, mosquitto would drop to the `mosquitto` account, which cannot read the test's folder.
      user: userInfo().username,
      logFile,
    });
    const broker = new TestMosquitto(port, files, logFile);
    await broker.restart();
    return broker;
  }

  get url(): string {
    return `mqtts://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#process !== undefined && alive(this.#process.pid);
  }

  /** `mqtt.external` of a replica whose certificate CN (broker username) is `username`. */
  externalConfig(username: string): Record<string, string> {
    return { url: this.url, username, caFile: this.files.caFile, crlFile: this.files.crlFile, pidFile: this.files.pidFile };
  }

  output(): string {
    return this.#earlierOutput + (this.#process?.output() ?? '');
  }

  /** kill -9: no shutdown, nothing flushed, every session dropped at once. */
  async kill(): Promise<void> {
    const p = this.#process;
    if (!p) return;
    process.kill(p.pid, 'SIGKILL');
    await waitFor('mosquitto is gone after SIGKILL', () => !alive(p.pid), { timeoutMs: 10_000, intervalMs: 50 });
    this.#earlierOutput += p.output();
    this.#process = undefined;
  }

  /** Starts it (again) with the same configuration on the same port. */
  async restart(): Promise<void> {
    if (this.#process) await this.stop();
    // The port was just freed by the kill: mosquitto may need a moment before it can bind it again.
    let lastError: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        this.#process = await startMosquitto({ configFile: this.files.configFile, host: '127.0.0.1', port: this.port, timeoutMs: 15_000 });
        return;
      } catch (err) {
        lastError = err;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    throw lastError;
  }

  async stop(): Promise<void> {
    const p = this.#process;
    if (!p) return;
    await p.stop();
    this.#earlierOutput += p.output();
    this.#process = undefined;
  }
}
