/**
 * Read-only below the socket (ARCHITECTURE.md §2): every write path net-snmp has — session.set,
 * trap, inform, a hand-built SetRequest handed to the session's send, a raw datagram on its
 * socket, a v3 set hiding behind discovery — is refused before a byte exists: a UDP socket
 * standing in for the agent receives nothing, and the simulator's agent counts zero writes.
 * A tshark capture shows only get/get-next/get-bulk requests leave the guardian.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import snmp from 'net-snmp';
import { SnmpError } from '../../../src/drivers/snmp/errors.ts';
import { ReadOnlySnmpSession } from '../../../src/drivers/snmp/read-only-session.ts';
import { usmUser } from '../../../src/drivers/snmp/security.ts';
import { listTableIndexes } from '../../../src/drivers/snmp/table-indexes.ts';
import { COMMUNITY, snmpOptions, startSimUps, type SimDevice } from './sim-device.ts';
import { hasTshark, startCapture, warnIfNoTshark, type Capture } from '../packet-capture.ts';

const SET_OID = '1.3.6.1.2.1.33.1.2.4.0';

function errorOf(run: (cb: (err: unknown) => void) => void): Promise<unknown> {
  return new Promise((resolve) => run((err) => resolve(err)));
}

async function countingSocket(): Promise<{ port: number; received: () => number; close: () => void }> {
  const s = dgram.createSocket('udp4');
  let n = 0;
  s.on('message', () => { n++; });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { port: s.address().port, received: () => n, close: () => s.close() };
}

/** A real net-snmp request object as an unguarded session would send it. */
function capturedRequest(build: (s: snmp.Session) => void): unknown {
  const plain = snmp.createSession('127.0.0.1', COMMUNITY, { version: snmp.Version2c, port: 9 });
  let captured: unknown;
  (plain as unknown as { send: (req: unknown) => void }).send = (req) => { captured = req; };
  build(plain);
  plain.close();
  return captured;
}

describe('ReadOnlySnmpSession', () => {
  it('refuses every write path before encoding: nothing reaches the socket', async () => {
    const sink = await countingSocket();
    const session = ReadOnlySnmpSession.open({ host: '127.0.0.1', port: sink.port, version: '2c', community: COMMUNITY, timeoutMs: 200, retries: 0 });
    const raw = session.guardedSession;
    try {
      const refusals: unknown[] = [
        await errorOf((cb) => raw.set([{ oid: SET_OID, type: snmp.ObjectType.Integer, value: 1 }], cb as never)),
        await errorOf((cb) => raw.trap('1.3.6.1.2.1.33.2.1', cb as never)),
        await errorOf((cb) => raw.inform('1.3.6.1.2.1.33.2.1', cb as never)),
      ];
      // A SetRequest built by the library itself, handed straight to the session's send path.
      const setReq = capturedRequest((s) => s.set([{ oid: SET_OID, type: snmp.ObjectType.Integer, value: 1 }], () => undefined)) as { responseCb: (e: unknown) => void };
      refusals.push(await new Promise((resolve) => { setReq.responseCb = resolve; (raw as unknown as { send: (r: unknown) => void }).send(setReq); }));
      // A GetRequest turned into a SetRequest after it was built.
      const swapped = capturedRequest((s) => s.get([SET_OID], () => undefined)) as { message: { pdu: { type: number } }; responseCb: (e: unknown) => void };
      swapped.message.pdu.type = snmp.PduType.SetRequest;
      refusals.push(await new Promise((resolve) => { swapped.responseCb = resolve; (raw as unknown as { send: (r: unknown) => void }).send(swapped); }));
      for (const err of refusals) {
        expect(err).toBeInstanceOf(SnmpError);
        expect((err as SnmpError).code).toBe('snmp_pdu_refused');
        expect((err as SnmpError).message).toMatch(/only reads equipment/);
      }
      // Bytes made by hand, written to the session's own socket.
      const socket = (raw as unknown as { dgram: dgram.Socket }).dgram;
      expect(() => socket.send(Buffer.from('3026020101040670726976617465a3190201010201000201003010300e060a2b060102012101020400020101', 'hex'), sink.port, '127.0.0.1'))
        .toThrow(expect.objectContaining({ code: 'snmp_send_refused' }) as Error);
      expect(session.refusals()).toBe(6);
      await new Promise((r) => setTimeout(r, 100));
      expect(sink.received()).toBe(0);
      // The same session still reads: the one GetRequest is the first datagram the sink sees.
      await expect(session.get([SET_OID])).rejects.toMatchObject({ code: 'snmp_timeout' });
      expect(sink.received()).toBe(1);
    } finally {
      session.close();
      sink.close();
    }
  });

  it('refuses a v3 SetRequest before its discovery message is sent', async () => {
    const sink = await countingSocket();
    const dir = snmpOptions('3');
    const session = ReadOnlySnmpSession.open({ host: '127.0.0.1', port: sink.port, version: '3', user: usmUser(dir.user!), timeoutMs: 200, retries: 0 });
    try {
      const err = await errorOf((cb) => session.guardedSession.set([{ oid: SET_OID, type: snmp.ObjectType.Integer, value: 1 }], cb as never));
      expect(err).toMatchObject({ code: 'snmp_pdu_refused' });
      await new Promise((r) => setTimeout(r, 100));
      expect(sink.received()).toBe(0);
    } finally {
      session.close();
      sink.close();
    }
  });

  it('sends the agent no write, which it would have counted (it answers an unguarded set as a device does)', async () => {
    const device = await startSimUps('2c');
    const session = ReadOnlySnmpSession.open({ host: '127.0.0.1', port: device.equipment.port, version: '2c', community: COMMUNITY, timeoutMs: 500, retries: 0 });
    try {
      await errorOf((cb) => session.guardedSession.set([{ oid: SET_OID, type: snmp.ObjectType.Integer, value: 1 }], cb as never));
      expect((await session.get([SET_OID]))[0]!.type).toBe(snmp.ObjectType.Integer);
      expect(device.writesReceived()).toBe(0);
      // The agent does count a write: an unguarded manager's set arrives and is answered notWritable.
      const plain = snmp.createSession('127.0.0.1', COMMUNITY, { version: snmp.Version2c, port: device.equipment.port, timeout: 500, retries: 0 });
      const err = await errorOf((cb) => plain.set([{ oid: SET_OID, type: snmp.ObjectType.Integer, value: 1 }], cb as never));
      plain.close();
      expect(String((err as Error).message)).toMatch(/NotWritable/);
      expect(device.writesReceived()).toBe(1);
    } finally {
      session.close();
      await device.close();
    }
  });

  it('lists a table\'s rows with GETBULK (commissioning: choosing snmp.index)', async () => {
    const device = await startSimUps('2c');
    const session = ReadOnlySnmpSession.open({ host: '127.0.0.1', port: device.equipment.port, version: '2c', community: COMMUNITY, timeoutMs: 500, retries: 0 });
    try {
      // upsInputVoltage: three input lines.
      const rows = await listTableIndexes(session, '1.3.6.1.2.1.33.1.3.3.1.3', 2);
      expect(rows.map((r) => r.index)).toEqual(['1', '2', '3']);
      expect(rows.map((r) => r.value)).toEqual([1, 2, 3].map((l) => Math.round(Number(device.served()[`input_voltage_l${l}`]))));
    } finally {
      session.close();
      await device.close();
    }
  });
});

warnIfNoTshark('snmp wire-capture');

describe.skipIf(!hasTshark)('SNMP traffic on the wire (tshark capture)', () => {
  let dir: string;
  let device: SimDevice;
  beforeAll(async () => { dir = mkdtempSync(path.join(tmpdir(), 'shellguard-snmp-capture-')); device = await startSimUps('2c'); });
  afterAll(async () => { await device?.close(); rmSync(dir, { recursive: true, force: true }); });

  const pduTypes = (capture: Capture, port: number): string[] =>
    capture.read(['-d', `udp.port==${port},snmp`, '-Y', 'snmp', '-T', 'fields', '-e', 'snmp.data']).split(/\s+/).filter(Boolean);

  it('carries only get-request, get-next-request, get-bulk-request and their responses while reading and while writes are attempted', async () => {
    const port = device.equipment.port;
    const file = path.join(dir, 'snmp.pcap');
    const capture = await startCapture(file, `udp port ${port}`);
    const session = ReadOnlySnmpSession.open({ host: '127.0.0.1', port, version: '2c', community: COMMUNITY, timeoutMs: 1000, retries: 0 });
    try {
      for (let i = 0; i < 5; i++) {
        await session.get([SET_OID, '1.3.6.1.2.1.33.1.2.5.0']);
        await errorOf((cb) => session.guardedSession.set([{ oid: SET_OID, type: snmp.ObjectType.Integer, value: 1 }], cb as never));
        await new Promise<void>((r) => session.guardedSession.getNext([SET_OID], () => r()));
        await session.walk('1.3.6.1.2.1.33.1.3.3.1.3', 2);
      }
      await expect.poll(() => pduTypes(capture, port).length, { timeout: 30_000, interval: 200 }).toBeGreaterThanOrEqual(5 * 2 * 4);
    } finally {
      session.close();
      await capture.stop();
    }
    // RFC 3416 PDUs choice: 0 get-request, 1 get-next-request, 2 response, 3 set-request, 5 getBulkRequest.
    expect(new Set(pduTypes(capture, port))).toEqual(new Set(['0', '1', '2', '5']));
    expect(device.writesReceived()).toBe(0);
  });
});
