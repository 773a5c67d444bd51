/**
 * Test-only: a loopback TCP relay standing for the WAN link between a site and the centre, so a
 * test can cut the link (both servers stay up) and restore it.
 */
import net from 'node:net';
import { freePort } from '../nats-server-process.ts';

export class TcpLink {
  readonly port: number;
  readonly #target: { host: string; port: number };
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #up = true;

  private constructor(port: number, target: { host: string; port: number }) {
    this.port = port;
    this.#target = target;
    this.#server = net.createServer((client) => this.#relay(client));
  }

  /** A relay on a free loopback port to `targetPort` on 127.0.0.1. */
  static async open(targetPort: number): Promise<TcpLink> {
    const link = new TcpLink(await freePort(), { host: '127.0.0.1', port: targetPort });
    await new Promise<void>((resolve, reject) => {
      link.#server.once('error', reject);
      link.#server.listen(link.port, '127.0.0.1', () => resolve());
    });
    return link;
  }

  get leafUrl(): string {
    return `nats-leaf://127.0.0.1:${this.port}`;
  }

  /** Drops every connection through it and refuses new ones until `restore`. */
  cut(): void {
    this.#up = false;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  restore(): void {
    this.#up = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #relay(client: net.Socket): void {
    if (!this.#up) {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.#target.port, this.#target.host);
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
