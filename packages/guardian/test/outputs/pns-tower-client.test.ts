import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import pino from 'pino';
import { ANDON_STATES, PNS_ACK, PNS_FRAME_LENGTH, andonCommand, encodeAndon, type AndonState, type PnsCommand } from '@shellguard/protocol';
import { startVirtualTower, type VirtualTower } from '@shellguard/sim';
import { PnsTowerClient, TowerAllowList, TowerError, type TowerLogger } from '../../src/index.ts';

const towers: VirtualTower[] = [];
const clients: Array<{ close(): Promise<void> }> = [];
const servers: RawTower[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(towers.splice(0).map((t) => t.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function tower(port = 0): Promise<VirtualTower> {
  const t = await startVirtualTower({ port });
  towers.push(t);
  return t;
}

function client(port: number, extra: Partial<ConstructorParameters<typeof PnsTowerClient>[0]> = {}): PnsTowerClient {
  const c = new PnsTowerClient({ panel: 'PANEL-01', host: '127.0.0.1', port, timeoutMs: 5_000, backoffInitialMs: 0, ...extra });
  clients.push(c);
  return c;
}

async function failure(p: Promise<unknown>): Promise<TowerError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TowerError) return err;
    throw new Error(`expected a TowerError, got ${String(err)}`);
  }
  throw new Error('expected the command to fail');
}

interface RawTower {
  port: number;
  /** Every byte received, on all connections, in order. */
  received(): Buffer;
  connections(): number;
  close(): Promise<void>;
}

/**
 * A scripted peer for what the virtual tower does not do: `onFrame` is called per complete
 * 12-byte frame and decides what to answer (bytes), or to answer later (null), or to reset.
 */
async function rawTower(onFrame: (frame: Buffer, socket: net.Socket, connection: number) => Buffer | null): Promise<RawTower> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= PNS_FRAME_LENGTH && !socket.destroyed) {
        const frame = pending.subarray(0, PNS_FRAME_LENGTH);
        pending = pending.subarray(PNS_FRAME_LENGTH);
        const answer = onFrame(frame, socket, connection);
        if (answer && !socket.destroyed) socket.write(answer);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const raw: RawTower = {
    port: (server.address() as net.AddressInfo).port,
    received: () => Buffer.concat(chunks),
    connections: () => connections,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
  servers.push(raw);
  return raw;
}

const ACK = Buffer.from([PNS_ACK]);

describe('PnsTowerClient', () => {
  it('sends exactly the encoded frame of each Andon state, on one kept-open connection', async () => {
    const t = await tower();
    const c = client(t.port);
    for (const state of ANDON_STATES) {
      await c.setAndon(state);
      expect(t.state()).toEqual(andonCommand(state));
    }
    expect(t.frames().map((f) => f.bytes.toString('hex'))).toEqual(ANDON_STATES.map((s) => encodeAndon(s).toString('hex')));
    expect(t.frames().every((f) => f.answer === 'ack')).toBe(true);
    expect(t.connections()).toBe(1);
  });

  it('sends a raw command byte for byte, and nothing else', async () => {
    const raw = await rawTower(() => ACK);
    const c = client(raw.port);
    const cmd: PnsCommand = { red: 'no-change', amber: 'on', green: 'flash-2', blue: 'off', white: 'no-change', buzzer: 'pattern-3' };
    await c.send(cmd);
    expect([...raw.received()]).toEqual([0x58, 0x58, 0x53, 0x00, 0x00, 0x06, 0x09, 0x01, 0x03, 0x00, 0x09, 0x03]);
  });

  it('rejects a NAK with tower_nak naming the panel and tower, and keeps the connection', async () => {
    const t = await tower();
    const c = client(t.port);
    t.nakNext();
    const err = await failure(c.setAndon('deviation'));
    expect(err.code).toBe('tower_nak');
    expect(err.details).toMatchObject({ panel: 'PANEL-01', tower: `127.0.0.1:${t.port}` });
    expect(err.message).toContain('PANEL-01');
    expect(err.message).toContain(`127.0.0.1:${t.port}`);
    expect(t.state()).toEqual(andonCommand('idle'));
    await c.setAndon('deviation');
    expect(t.state()).toEqual(andonCommand('deviation'));
    expect(t.connections()).toBe(1);
  });

  it('times out a silent tower with tower_timeout, then reconnects for the next command', async () => {
    const t = await tower();
    const c = client(t.port, { timeoutMs: 200 });
    t.silence(true);
    const err = await failure(c.setAndon('released'));
    expect(err.code).toBe('tower_timeout');
    expect(err.details).toMatchObject({ panel: 'PANEL-01', tower: `127.0.0.1:${t.port}`, timeoutMs: 200 });
    t.silence(false);
    await c.setAndon('step-done');
    expect(t.state()).toEqual(andonCommand('step-done'));
    expect(t.connections()).toBe(2);
  });

  it('reconnects to a restarted tower, and the next command arrives there', async () => {
    const first = await tower();
    const port = first.port;
    const c = client(port);
    await c.setAndon('released');
    await first.close();
    const second = await tower(port);
    await c.setAndon('in-progress');
    expect(second.frames().map((f) => f.bytes.toString('hex'))).toEqual([encodeAndon('in-progress').toString('hex')]);
    expect(second.state()).toEqual(andonCommand('in-progress'));
  });

  it('sends once more on a fresh connection when the kept-open one turns out dead', async () => {
    let frames = 0;
    const raw = await rawTower((_frame, socket, connection) => {
      frames++;
      if (connection === 1 && frames === 2) {
        socket.resetAndDestroy();
        return null;
      }
      return ACK;
    });
    const c = client(raw.port);
    await c.setAndon('released');
    await c.setAndon('stop');
    expect(raw.connections()).toBe(2);
    expect(raw.received().equals(Buffer.concat([encodeAndon('released'), encodeAndon('stop'), encodeAndon('stop')]))).toBe(true);
  });

  it('does not send a third time: a fresh connection that fails too rejects with tower_connection_failed', async () => {
    let frames = 0;
    const raw = await rawTower((_frame, socket) => {
      frames++;
      if (frames === 1) return ACK;
      socket.resetAndDestroy();
      return null;
    });
    const c = client(raw.port);
    await c.setAndon('released');
    const err = await failure(c.setAndon('stop'));
    expect(err.code).toBe('tower_connection_failed');
    expect(frames).toBe(3);
  });

  it('fails with tower_connection_failed when nothing listens, and backs off before reconnecting', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    let attempts = 0;
    const c = client(port, {
      backoffInitialMs: 60_000,
      backoffMaxMs: 60_000,
      connect: (h, p) => {
        attempts++;
        return net.createConnection({ host: h, port: p });
      },
    });
    const err = await failure(c.setAndon('released'));
    expect(err.code).toBe('tower_connection_failed');
    expect(err.message).toContain(`PANEL-01 at 127.0.0.1:${port}`);
    // The next command waits out the backoff instead of reconnecting at once.
    const waiting = failure(c.setAndon('stop'));
    expect(attempts).toBe(1);
    await c.close();
    expect((await waiting).code).toBe('tower_client_closed');
    expect(attempts).toBe(1);
  });

  it('keeps one command in flight and sends only the newest of those that waited', async () => {
    const held: net.Socket[] = [];
    let unanswered = 0;
    let most = 0;
    const raw = await rawTower((_frame, socket) => {
      unanswered++;
      most = Math.max(most, unanswered);
      held.push(socket);
      return null;
    });
    const answer = (): void => {
      unanswered--;
      held.shift()!.write(ACK);
    };
    const c = client(raw.port);
    const sent: Array<Promise<void>> = [c.setAndon('released')];
    await expect.poll(() => raw.received().length).toBe(PNS_FRAME_LENGTH);
    sent.push(c.setAndon('in-progress'), c.setAndon('step-done'), c.setAndon('deviation'));
    answer();
    await expect.poll(() => raw.received().length).toBe(2 * PNS_FRAME_LENGTH);
    answer();
    await Promise.all(sent);
    expect(raw.received().equals(Buffer.concat([encodeAndon('released'), encodeAndon('deviation')]))).toBe(true);
    expect(most).toBe(1);
  });

  it('coalesces rapid commands: ten setAndon calls leave the tower in the last state', async () => {
    const t = await tower();
    const c = client(t.port);
    const states: AndonState[] = ['released', 'in-progress', 'step-done', 'in-progress', 'step-done', 'deviation', 'stop', 'in-progress', 'step-done', 'complete'];
    await Promise.all(states.map((s) => c.setAndon(s)));
    expect(t.state()).toEqual(andonCommand('complete'));
    const frames = t.frames();
    expect(frames.length).toBeLessThanOrEqual(states.length);
    expect(frames.at(-1)!.bytes.equals(encodeAndon('complete'))).toBe(true);
  });

  it('rejects an answer that is neither ACK nor NAK with tower_response_invalid, and reconnects', async () => {
    let frames = 0;
    const raw = await rawTower(() => (++frames === 1 ? Buffer.from([0x41]) : ACK));
    const c = client(raw.port);
    const err = await failure(c.setAndon('released'));
    expect(err.code).toBe('tower_response_invalid');
    expect(err.details.answer).toBe(0x41);
    await c.setAndon('released');
    expect(raw.connections()).toBe(2);
  });

  it('refuses an invalid command or state before opening any connection', async () => {
    const raw = await rawTower(() => ACK);
    const c = client(raw.port);
    const bad = await failure(c.send({ ...andonCommand('idle'), red: 'strobe' } as unknown as PnsCommand));
    expect(bad.code).toBe('tower_command_invalid');
    expect(bad.details).toMatchObject({ panel: 'PANEL-01', cause: 'pns_value_invalid', offset: 6 });
    expect((await failure(c.setAndon('party' as AndonState))).code).toBe('tower_command_invalid');
    expect(raw.connections()).toBe(0);
  });

  it('fails waiting and in-flight commands on close, and every command after it', async () => {
    const raw = await rawTower(() => null);
    const c = client(raw.port);
    const inFlight = failure(c.setAndon('released'));
    await expect.poll(() => raw.received().length).toBe(PNS_FRAME_LENGTH);
    const waiting = failure(c.setAndon('stop'));
    await c.close();
    expect((await inFlight).code).toBe('tower_client_closed');
    expect((await waiting).code).toBe('tower_client_closed');
    expect((await failure(c.setAndon('idle'))).code).toBe('tower_client_closed');
  });

  it.each([
    ['a panel that is not an asset id', { panel: 'panel 1' }],
    ['an empty host', { host: '' }],
    ['port 0', { port: 0 }],
    ['port 70000', { port: 70_000 }],
    ['a zero timeout', { timeoutMs: 0 }],
  ])('refuses %s with tower_config_invalid', (_name, bad) => {
    let err: unknown;
    try {
      new PnsTowerClient({ panel: 'PANEL-01', host: '127.0.0.1', port: 10_000, ...bad });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TowerError);
    expect((err as TowerError).code).toBe('tower_config_invalid');
  });

  it('logs failures through a pino logger', async () => {
    const lines: string[] = [];
    const logger: TowerLogger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
    const t = await tower();
    const c = client(t.port, { logger });
    t.nakNext();
    await failure(c.setAndon('released'));
    expect(lines.some((l) => l.includes('"panel":"PANEL-01"') && l.includes('tower_nak'))).toBe(true);
  });
});

describe('TowerAllowList', () => {
  it('hands out the configured panel\'s client, which reaches that panel\'s tower', async () => {
    const a = await tower();
    const b = await tower();
    const list = new TowerAllowList([
      { panel: 'PANEL-01', host: '127.0.0.1', port: a.port },
      { panel: 'PANEL-02', host: '127.0.0.1', port: b.port },
    ], { timeoutMs: 5_000 });
    clients.push(list);
    expect(list.panels()).toEqual(['PANEL-01', 'PANEL-02']);
    await list.towerFor('PANEL-02').setAndon('released');
    expect(b.state()).toEqual(andonCommand('released'));
    expect(a.frames()).toHaveLength(0);
    expect(list.towerFor('PANEL-02')).toBe(list.towerFor('PANEL-02'));
  });

  it('refuses an unconfigured panel with tower_not_allowed before any socket is opened', async () => {
    const configured = await tower();
    const decoy = await rawTower(() => ACK);
    const list = new TowerAllowList([{ panel: 'PANEL-01', host: '127.0.0.1', port: configured.port }]);
    clients.push(list);
    for (const panel of ['PANEL-99', `127.0.0.1:${decoy.port}`, '__proto__', 'constructor', '']) {
      let err: unknown;
      try {
        await list.towerFor(panel).setAndon('intrusion');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TowerError);
      expect((err as TowerError).code).toBe('tower_not_allowed');
      expect((err as TowerError).details.panel).toBe(panel);
    }
    expect(list.has('PANEL-99')).toBe(false);
    expect(decoy.connections()).toBe(0);
    expect(configured.connections()).toBe(0);
  });

  it('refuses a panel listed twice, and two panels on one tower', () => {
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (err) {
        return err instanceof TowerError ? err.code : 'not a TowerError';
      }
      return undefined;
    };
    expect(code(() => new TowerAllowList([
      { panel: 'PANEL-01', host: '127.0.0.1', port: 10_001 },
      { panel: 'PANEL-01', host: '127.0.0.1', port: 10_002 },
    ]))).toBe('tower_config_invalid');
    expect(code(() => new TowerAllowList([
      { panel: 'PANEL-01', host: '127.0.0.1', port: 10_001 },
      { panel: 'PANEL-02', host: '127.0.0.1', port: 10_001 },
    ]))).toBe('tower_config_invalid');
    expect(code(() => new TowerAllowList([{ panel: 'PANEL-01', host: '127.0.0.1', port: 0 }]))).toBe('tower_config_invalid');
  });
});
