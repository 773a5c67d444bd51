/**
 * Test peers on 127.0.0.1: a TCP server that records every byte it receives and answers through
 * a script, so tests can play a well-behaved device, a slow one, or a hostile one.
 */
import net from 'node:net';

export interface ScriptedServer {
  port: number;
  /** Every byte received, on all connections, in order. */
  received(): Buffer;
  connections(): number;
  close(): Promise<void>;
}

export type Script = (socket: net.Socket, chunk: Buffer) => void;

export async function startScriptedServer(port: number, script: Script = () => {}): Promise<ScriptedServer> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      script(socket, chunk);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => Buffer.concat(chunks),
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Splits a byte stream of requests into MBAP frames (requests from our client are well-formed). */
export function splitAdus(bytes: Buffer): Array<{ transactionId: number; unitId: number; pdu: Buffer }> {
  const out: Array<{ transactionId: number; unitId: number; pdu: Buffer }> = [];
  let at = 0;
  while (at + 7 <= bytes.length) {
    const length = bytes.readUInt16BE(at + 4);
    out.push({ transactionId: bytes.readUInt16BE(at), unitId: bytes[at + 6]!, pdu: bytes.subarray(at + 7, at + 6 + length) });
    at += 6 + length;
  }
  return out;
}

export function adu(transactionId: number, unitId: number, pdu: number[] | Buffer): Buffer {
  const body = Buffer.from(pdu);
  const head = Buffer.alloc(7);
  head.writeUInt16BE(transactionId, 0);
  head.writeUInt16BE(0, 2);
  head.writeUInt16BE(body.length + 1, 4);
  head.writeUInt8(unitId, 6);
  return Buffer.concat([head, body]);
}

/**
 * A tiny well-behaved device for fc 3/4: register N holds N * 10. Answers each complete request
 * frame in the chunk (requests may arrive coalesced); `respond` may rewrite or drop the answer.
 */
export function registerDevice(
  respond: (req: { transactionId: number; unitId: number; pdu: Buffer }, answer: Buffer) => Buffer | Buffer[] | null = (_r, a) => a,
): Script {
  let pending = Buffer.alloc(0);
  return (socket, chunk) => {
    pending = Buffer.concat([pending, chunk]);
    const frames = splitAdus(pending);
    const consumed = frames.reduce((n, f) => n + 7 + f.pdu.length, 0);
    pending = pending.subarray(consumed);
    for (const req of frames) {
      const fc = req.pdu[0]!;
      const address = req.pdu.readUInt16BE(1);
      const quantity = req.pdu.readUInt16BE(3);
      const body = Buffer.alloc(2 + quantity * 2);
      body[0] = fc;
      body[1] = quantity * 2;
      for (let i = 0; i < quantity; i++) body.writeUInt16BE(((address + i) * 10) & 0xffff, 2 + i * 2);
      const out = respond(req, adu(req.transactionId, req.unitId, body));
      if (out === null) continue;
      for (const b of Array.isArray(out) ? out : [out]) socket.write(b);
    }
  };
}
