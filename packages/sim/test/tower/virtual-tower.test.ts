import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { PNS_ACK, PNS_NAK, andonCommand, encodeAndon, encodePnsCommand, type PnsCommand } from '@shellguard/protocol';
import { initialTowerState, startSimulatedSite, startVirtualTower, type SimulatedSite, type VirtualTower } from '../../src/index.ts';

// Port range for this package's tests: 15000-15999; towers at fixed ports use 15600-15699.
const towers: VirtualTower[] = [];
const sites: SimulatedSite[] = [];
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(towers.splice(0).map((t) => t.close()));
  await Promise.all(sites.splice(0).map((s) => s.stop()));
});

async function tower(): Promise<VirtualTower> {
  const t = await startVirtualTower({ port: 0 });
  towers.push(t);
  return t;
}

/** A raw PNS peer: writes bytes as given, collects every answer byte. */
async function peer(port: number): Promise<{ send(...chunks: Buffer[]): Promise<void>; answers(): number[] }> {
  const socket = net.createConnection({ host: '127.0.0.1', port });
  sockets.push(socket);
  socket.setNoDelay(true);
  const answers: number[] = [];
  socket.on('data', (chunk: Buffer) => answers.push(...chunk));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    // Each chunk is its own write, after the previous one has been flushed and a moment has passed,
    // so the tower sees them as separate segments.
    send: async (...chunks) => {
      for (const chunk of chunks) {
        await new Promise<void>((resolve) => socket.write(chunk, () => resolve()));
        await new Promise<void>((resolve) => setTimeout(resolve, 5));
      }
    },
    answers: () => [...answers],
  };
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

const released = encodeAndon('released');
const deviation = encodeAndon('deviation');

describe('startVirtualTower', () => {
  it('starts dark and silent', async () => {
    const t = await tower();
    expect(t.state()).toEqual(initialTowerState());
    expect(t.state()).toEqual({ red: 'off', amber: 'off', green: 'off', blue: 'off', white: 'off', buzzer: 'stop' });
    expect(t.port).toBeGreaterThan(0);
  });

  it('applies a frame, answers ACK, and records it with its receive times', async () => {
    const t = await tower();
    const p = await peer(t.port);
    const wallBefore = Date.now();
    await p.send(released);
    await expect.poll(() => p.answers()).toEqual([PNS_ACK]);
    expect(t.state()).toMatchObject({ blue: 'on', red: 'off', buzzer: 'stop' });
    const [frame] = t.frames();
    expect(frame).toMatchObject({ seq: 1, connection: 1, answer: 'ack', applied: true, command: andonCommand('released') });
    expect(frame!.bytes.equals(released)).toBe(true);
    expect(frame!.receivedAtWallMs).toBeGreaterThanOrEqual(wallBefore);
    expect(Number.isFinite(frame!.receivedAt)).toBe(true);
  });

  it('reassembles a frame split byte by byte', async () => {
    const t = await tower();
    const p = await peer(t.port);
    await p.send(...[...deviation].map((b) => Buffer.from([b])));
    await expect.poll(() => p.answers()).toEqual([PNS_ACK]);
    expect(t.frames()).toHaveLength(1);
    expect(t.state()).toMatchObject({ red: 'flash-1', buzzer: 'pattern-1' });
  });

  it('answers each of several frames that arrive in one segment, in order', async () => {
    const t = await tower();
    const p = await peer(t.port);
    await p.send(Buffer.concat([encodeAndon('released'), encodeAndon('in-progress'), encodeAndon('step-done')]));
    await expect.poll(() => p.answers()).toEqual([PNS_ACK, PNS_ACK, PNS_ACK]);
    expect(t.frames().map((f) => f.command)).toEqual([andonCommand('released'), andonCommand('in-progress'), andonCommand('step-done')]);
    expect(t.frames().map((f) => f.seq)).toEqual([1, 2, 3]);
    expect(t.state()).toEqual({ red: 'off', amber: 'off', green: 'on', blue: 'on', white: 'off', buzzer: 'stop' });
  });

  it('handles frames split across segment boundaries (one and a half, then the rest)', async () => {
    const t = await tower();
    const p = await peer(t.port);
    const both = Buffer.concat([encodeAndon('stop'), encodeAndon('complete')]);
    await p.send(both.subarray(0, 18), both.subarray(18));
    await expect.poll(() => p.answers()).toEqual([PNS_ACK, PNS_ACK]);
    expect(t.state()).toEqual({ red: 'off', amber: 'off', green: 'flash-2', blue: 'off', white: 'off', buzzer: 'stop' });
  });

  it('answers NAK once for garbage, then resynchronises on the next frame start', async () => {
    const t = await tower();
    const p = await peer(t.port);
    await p.send(Buffer.from('GET / HTTP/1.1\r\n'), Buffer.from('Host: tower\r\n\r\nXX'), Buffer.concat([Buffer.from('XXQ'), released]));
    await expect.poll(() => p.answers()).toEqual([PNS_NAK, PNS_ACK]);
    expect(t.frames().map((f) => [f.answer, f.refusal])).toEqual([['nak', 'pns_header_invalid'], ['ack', undefined]]);
    expect(t.state().blue).toBe('on');
  });

  it.each([
    ['a wrong data size', Buffer.from([0x58, 0x58, 0x53, 0x00, 0x00, 0x05, 0, 0, 0, 0, 0]), 'pns_data_size'],
    ['a non-zero empty byte', Buffer.from([0x58, 0x58, 0x53, 0x07, 0x00, 0x06, 0, 0, 0, 0, 0, 0]), 'pns_header_invalid'],
    ['a lamp value out of range', Buffer.from([0x58, 0x58, 0x53, 0x00, 0x00, 0x06, 0x01, 0x04, 0, 0, 0, 0]), 'pns_value_invalid'],
    ['another product category', Buffer.from([0x41, 0x42, 0x53, 0x00, 0x00, 0x06, 0x01, 0, 0, 0, 0, 0]), 'pns_header_invalid'],
  ])('refuses %s with NAK, leaves the tower as it was, and takes the next frame', async (_name, bad, refusal) => {
    const t = await tower();
    const p = await peer(t.port);
    await p.send(Buffer.concat([bad, deviation]));
    await expect.poll(() => p.answers()).toEqual([PNS_NAK, PNS_ACK]);
    expect(t.frames()[0]).toMatchObject({ answer: 'nak', refusal, applied: false, state: initialTowerState() });
    expect(t.state()).toMatchObject({ red: 'flash-1', buzzer: 'pattern-1' });
  });

  it('leaves a lamp or the buzzer as it was on 0x09 (no change)', async () => {
    const t = await tower();
    const p = await peer(t.port);
    const keepAll: PnsCommand = { red: 'no-change', amber: 'no-change', green: 'no-change', blue: 'no-change', white: 'no-change', buzzer: 'no-change' };
    await p.send(
      encodeAndon('deviation'),
      encodePnsCommand({ ...keepAll, green: 'on' }),
      encodePnsCommand({ ...keepAll, buzzer: 'stop', white: 'flash-2' }),
      encodePnsCommand(keepAll),
    );
    await expect.poll(() => p.answers()).toEqual([PNS_ACK, PNS_ACK, PNS_ACK, PNS_ACK]);
    expect(t.state()).toEqual({ red: 'flash-1', amber: 'off', green: 'on', blue: 'off', white: 'flash-2', buzzer: 'stop' });
  });

  it('converges from any state: each Andon state sets the whole tower', async () => {
    const t = await tower();
    const p = await peer(t.port);
    await p.send(encodePnsCommand({ red: 'on', amber: 'on', green: 'on', blue: 'on', white: 'on', buzzer: 'pattern-4' }), encodeAndon('released'));
    await expect.poll(() => p.answers().length).toBe(2);
    expect(t.state()).toEqual({ red: 'off', amber: 'off', green: 'off', blue: 'on', white: 'off', buzzer: 'stop' });
  });

  it('answers NAK to the next valid frame after nakNext(), without applying it', async () => {
    const t = await tower();
    const p = await peer(t.port);
    t.nakNext();
    await p.send(released, deviation);
    await expect.poll(() => p.answers()).toEqual([PNS_NAK, PNS_ACK]);
    expect(t.frames()[0]).toMatchObject({ refusal: 'forced_nak', applied: false, command: andonCommand('released') });
    expect(t.state()).toMatchObject({ blue: 'off', red: 'flash-1' });
  });

  it('applies but never answers while silenced', async () => {
    const t = await tower();
    const p = await peer(t.port);
    t.silence(true);
    await p.send(released);
    await expect.poll(() => t.frames().length).toBe(1);
    expect(t.frames()[0]!.answer).toBe('none');
    expect(t.state().blue).toBe('on');
    t.silence(false);
    await p.send(deviation);
    await expect.poll(() => p.answers()).toEqual([PNS_ACK]);
  });

  it('tells onFrame listeners about each frame until they unsubscribe', async () => {
    const t = await tower();
    const p = await peer(t.port);
    const seen: number[] = [];
    const stop = t.onFrame((f) => seen.push(f.seq));
    await p.send(released);
    await expect.poll(() => seen).toEqual([1]);
    stop();
    await p.send(deviation);
    await expect.poll(() => t.frames().length).toBe(2);
    expect(seen).toEqual([1]);
  });

  it('keeps connections apart: a half frame on one does not corrupt the other', async () => {
    const t = await tower();
    const a = await peer(t.port);
    const b = await peer(t.port);
    await a.send(released.subarray(0, 5));
    await b.send(deviation);
    await expect.poll(() => b.answers()).toEqual([PNS_ACK]);
    await a.send(released.subarray(5));
    await expect.poll(() => a.answers()).toEqual([PNS_ACK]);
    expect(t.connections()).toBe(2);
    expect(t.frames().map((f) => f.connection)).toEqual([2, 1]);
  });

  it('refuses a port that is taken with port_in_use', async () => {
    const t = await tower();
    await expect(startVirtualTower({ port: t.port })).rejects.toMatchObject({ code: 'port_in_use' });
  });

  it('stops listening on close', async () => {
    const t = await startVirtualTower({ port: 0 });
    await t.close();
    expect(await refused(t.port)).toBe(true);
  });
});

describe('startSimulatedSite with towers', () => {
  it('starts one tower per panel, and none for other assets', async () => {
    const s = await startSimulatedSite({ site: 'tower-site', basePort: 0, assets: 32, towers: { basePort: 0 } });
    sites.push(s);
    const panels = s.assets.filter((a) => a.type === 'panel');
    expect(panels).toHaveLength(8);
    expect([...s.towers.keys()]).toEqual(panels.map((a) => a.id));
    for (const a of s.assets) {
      if (a.type === 'panel') expect(a.tower).toEqual({ host: '127.0.0.1', port: s.towers.get(a.id)!.port });
      else expect(a.tower).toBeUndefined();
    }
    const first = panels[0]!;
    const p = await peer(first.tower!.port);
    await p.send(encodeAndon('intrusion'));
    await expect.poll(() => p.answers()).toEqual([PNS_ACK]);
    expect(s.towers.get(first.id)!.state()).toMatchObject({ red: 'flash-2', buzzer: 'pattern-2' });
    expect(s.towers.get(panels[1]!.id)!.state()).toEqual(initialTowerState());
  });

  it('puts panel i\'s tower on towers.basePort + i', async () => {
    const s = await startSimulatedSite({ site: 'tower-site', basePort: 0, assets: 32, towers: { basePort: 15600 } });
    sites.push(s);
    expect([...s.towers.values()].map((t) => t.port)).toEqual(Array.from({ length: 8 }, (_, i) => 15600 + i));
  });

  it('has no towers without the option', async () => {
    const s = await startSimulatedSite({ site: 'tower-site', basePort: 0, assets: 6 });
    sites.push(s);
    expect(s.towers.size).toBe(0);
    expect(s.assets.some((a) => 'tower' in a)).toBe(false);
  });

  it('closes its towers on stop', async () => {
    const s = await startSimulatedSite({ site: 'tower-site', basePort: 0, assets: 6, towers: { basePort: 0 } });
    const [t] = [...s.towers.values()];
    await s.stop();
    expect(await refused(t!.port)).toBe(true);
    expect(await refused(s.assets[0]!.port)).toBe(true);
  });

  it('refuses tower ports that overlap the equipment ports, before listening', async () => {
    await expect(startSimulatedSite({ site: 's', basePort: 15650, assets: 6, towers: { basePort: 15652 } }))
      .rejects.toMatchObject({ code: 'invalid_option' });
    await expect(startSimulatedSite({ site: 's', basePort: 0, assets: 32, towers: { basePort: 65530 } }))
      .rejects.toMatchObject({ code: 'invalid_option' });
  });

  it('releases every port when a tower cannot listen', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen({ host: '127.0.0.1', port: 15670 }, r));
    try {
      await expect(startSimulatedSite({ site: 's', basePort: 15660, assets: 6, towers: { basePort: 15670 } })).rejects.toMatchObject({
        code: 'port_in_use',
        message: expect.stringContaining('towers.basePort'),
      });
      expect(await refused(15660)).toBe(true);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});
