/**
 * A TCP relay between a client and a server that a test can cut: while cut, every open
 * connection is reset and new ones are reset on arrival, as when a link or firewall drops;
 * restored, it relays bytes again. Before a cut it can also hold back what the server sends
 * (a link failing in one direction first), so replies in flight are lost with the cut.
 * TLS runs end to end through it (it never looks inside).
 */
import net from 'node:net';

export interface CuttableProxy {
  port: number;
  /** Stops relaying server-to-client bytes on open connections (they wait in buffers until a cut discards them). */
  holdReplies(): void;
  /** Resets every relayed connection and refuses new ones until {@link restore}. */
  cut(): void;
  restore(): void;
  /** Connections relayed since start (including ones reset while cut). */
  accepted(): number;
  close(): Promise<void>;
}

export async function startCuttableProxy(options: { port: number; targetHost: string; targetPort: number }): Promise<CuttableProxy> {
  let isCut = false;
  let accepted = 0;
  const open = new Set<net.Socket>();
  const pairs = new Set<{ downstream: net.Socket; upstream: net.Socket }>();

  const server = net.createServer((downstream) => {
    accepted += 1;
    if (isCut) { downstream.resetAndDestroy(); return; }
    const upstream = net.connect({ host: options.targetHost, port: options.targetPort });
    const pair = { downstream, upstream };
    open.add(downstream);
    open.add(upstream);
    pairs.add(pair);
    const teardown = (): void => {
      pairs.delete(pair);
      open.delete(downstream);
      open.delete(upstream);
      if (!downstream.destroyed) downstream.destroy();
      if (!upstream.destroyed) upstream.destroy();
    };
    downstream.on('error', teardown).on('close', teardown);
    upstream.on('error', teardown).on('close', teardown);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });

  return {
    port: options.port,
    holdReplies() {
      for (const { upstream, downstream } of pairs) {
        upstream.unpipe(downstream);
        upstream.pause();
      }
    },
    cut() {
      isCut = true;
      pairs.clear();
      for (const s of [...open]) if (!s.destroyed) s.resetAndDestroy();
      open.clear();
    },
    restore() {
      isCut = false;
    },
    accepted: () => accepted,
    async close() {
      for (const s of [...open]) s.destroy();
      open.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
