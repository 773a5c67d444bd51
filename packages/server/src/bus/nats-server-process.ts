/**
 * A nats-server of our own (never the machine's on 4222) for tests and `shellguard demo
 * --replicas`: JetStream on its own store (a temporary folder, or `dir`), on free loopback ports. It can be killed with SIGKILL and started again on the
 * same store and ports, and configured as a leaf-node hub or as a leaf of one (each with its own
 * JetStream domain), for the bus and federation tests. Needs `nats-server` on PATH (or
 * SHELLGUARD_NATS_SERVER); scripts/install-test-deps.sh installs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface NatsServerOptions {
  /** Server name (unique among linked servers); also names the temp directory. */
  readonly name: string;
  /** JetStream domain, e.g. "central" or "site-a". Needed as soon as servers are linked by leaf nodes. */
  readonly domain?: string;
  /** Accept leaf node connections (a hub). */
  readonly acceptLeafNodes?: boolean;
  /** Leaf node remotes (a site): nats-server `leafnodes.remotes` entries, e.g. from `siteLeafRemote`. */
  readonly leafRemotes?: readonly Record<string, unknown>[];
  /** Seconds between a leaf's attempts to reach its hub (default 1). */
  readonly leafReconnectSeconds?: number;
  /** Where its configuration and store live (created; default a new temporary folder). */
  readonly dir?: string;
}

/** A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const READY = /Server is ready/;

export class NatsServerProcess {
  readonly name: string;
  readonly dir: string;
  readonly storeDir: string;
  readonly configFile: string;
  readonly port: number;
  readonly monitorPort: number;
  /** The leaf node port, when it accepts leaf nodes. */
  readonly leafPort: number | undefined;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #output = '';

  private constructor(name: string, dir: string, port: number, monitorPort: number, leafPort: number | undefined) {
    this.name = name;
    this.dir = dir;
    this.storeDir = path.join(dir, 'jetstream');
    this.configFile = path.join(dir, 'nats-server.conf');
    this.port = port;
    this.monitorPort = monitorPort;
    this.leafPort = leafPort;
  }

  /** Writes its configuration and starts it; resolves once it is ready for clients. */
  static async start(options: NatsServerOptions): Promise<NatsServerProcess> {
    const dir = options.dir ?? mkdtempSync(path.join(os.tmpdir(), `sg-nats-${options.name.replace(/[^a-z0-9-]/gi, '')}-`));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const server = new NatsServerProcess(options.name, dir, await freePort(), await freePort(), options.acceptLeafNodes ? await freePort() : undefined);
    const config: Record<string, unknown> = {
      server_name: options.name,
      listen: `127.0.0.1:${server.port}`,
      http: `127.0.0.1:${server.monitorPort}`,
      jetstream: { store_dir: server.storeDir, ...(options.domain ? { domain: options.domain } : {}) },
    };
    const leafnodes: Record<string, unknown> = {};
    if (server.leafPort !== undefined) leafnodes['listen'] = `127.0.0.1:${server.leafPort}`;
    if (options.leafRemotes?.length) {
      leafnodes['remotes'] = options.leafRemotes;
      leafnodes['reconnect'] = options.leafReconnectSeconds ?? 1;
    }
    if (Object.keys(leafnodes).length > 0) config['leafnodes'] = leafnodes;
    // nats-server reads JSON as its configuration format.
    writeFileSync(server.configFile, JSON.stringify(config, null, 2));
    try {
      await server.#spawn();
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** The URL a leaf node dials to reach this hub. */
  get leafUrl(): string {
    if (this.leafPort === undefined) throw new Error(`${this.name} does not accept leaf nodes`);
    return `nats-leaf://127.0.0.1:${this.leafPort}`;
  }

  /** Its process id while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** What the server logged (for a failing test's message). */
  get output(): string {
    return this.#output;
  }

  /** kill -9: no shutdown, no flush — as a crash or an OOM kill. */
  async kill(): Promise<void> {
    await this.#signal('SIGKILL');
  }

  /** A clean shutdown (SIGTERM). */
  async stop(): Promise<void> {
    await this.#signal('SIGTERM');
  }

  /** Starts it again with the same configuration, store and ports. */
  async restart(): Promise<void> {
    if (this.#child) await this.stop();
    await this.#spawn();
  }

  /** Stops it (if running) and deletes its directory and store. */
  async destroy(): Promise<void> {
    if (this.#child) await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Leaf node connections it has now (as a hub, the sites linked; as a site, 1 when linked). */
  async leafConnections(): Promise<number> {
    const response = await fetch(`http://127.0.0.1:${this.monitorPort}/leafz`);
    const body = (await response.json()) as { leafnodes?: number };
    return body.leafnodes ?? 0;
  }

  /** Waits until it has `count` leaf node connections. */
  async waitForLeafConnections(count: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await this.leafConnections().catch(() => -1);
      if (now === count) return;
      if (Date.now() > deadline) throw new Error(`${this.name} has ${now} leaf node connections, not ${count}, after ${timeoutMs} ms\n${this.#output.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async #spawn(): Promise<void> {
    const binary = process.env['SHELLGUARD_NATS_SERVER'] ?? 'nats-server';
    const child = spawn(binary, ['-c', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.#exited.then(() => {
      if (this.#child === child) this.#child = undefined;
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server ${this.name} did not become ready in 30 s\n${this.#output.slice(-4000)}`)), 30_000);
      let sinceStart = '';
      const onData = (chunk: Buffer): void => {
        this.#output += chunk.toString();
        sinceStart = (sinceStart + chunk.toString()).slice(-1_000);
        if (this.#output.length > 200_000) this.#output = this.#output.slice(-100_000);
        if (READY.test(sinceStart)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`nats-server could not be started (${err.message}): install it (scripts/install-test-deps.sh) or set SHELLGUARD_NATS_SERVER`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server ${this.name} exited with ${code} before it was ready\n${this.#output.slice(-4000)}`));
      });
    });
  }

  async #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill(signal);
    await this.#exited;
    this.#child = undefined;
  }
}
