/**
 * One simulated device on the wire: a Modbus TCP server (modbus-serial's ServerTCP) serving an
 * asset's values through its profile's register map.
 *
 * Real equipment would accept writes, and so does this one, but it counts every write request it
 * receives: Shellguard's guardian must never send one, and tests assert the count stays 0.
 */
import net from 'node:net';
import { ServerTCP, type IServiceVector } from 'modbus-serial';
import { ListenError, listenErrorOf, type ModbusProfile } from '@shellguard/protocol';
import { SimError } from '../errors.ts';
import type { PointValues } from '../physics/types.ts';
import { RegisterMap } from './register-map.ts';

/** Function codes that write (MAP v1.1b3 §6): 5, 6, 15, 16, 21 (file record), 22 (mask), 23 (read/write). */
export const WRITE_FUNCTION_CODES: ReadonlySet<number> = new Set([5, 6, 15, 16, 21, 22, 23]);

export interface WriteAttempt {
  functionCode: number;
  /** Starting address of the request, when the frame carries one. */
  address?: number;
  /** Wall-clock time it arrived (epoch ms). */
  at: number;
}

export interface EquipmentServerOptions {
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** The unit id the server answers to (1-247). */
  unitId: number;
  profile: ModbusProfile;
  /** Current engineering values of the asset, read on every request. */
  values: () => Readonly<PointValues>;
  /** Told about each write request as it arrives. */
  onWrite?: (attempt: WriteAttempt) => void;
  /** Wall clock for write timestamps (default Date.now). */
  clock?: () => number;
}

const MAX_WRITE_LOG = 1000;
const MBAP_HEADER = 7;

interface ServerInternals {
  _server?: net.Server;
}

export class EquipmentServer {
  readonly host: string;
  readonly port: number;
  readonly unitId: number;
  private readonly server: ServerTCP;
  private readonly log: WriteLog;
  private closed = false;

  private constructor(server: ServerTCP, log: WriteLog, host: string, port: number, unitId: number) {
    this.server = server;
    this.log = log;
    this.host = host;
    this.port = port;
    this.unitId = unitId;
  }

  static async start(options: EquipmentServerOptions): Promise<EquipmentServer> {
    const { host, unitId, profile } = options;
    if (!Number.isInteger(unitId) || unitId < 1 || unitId > 247) {
      throw new SimError('invalid_option', 'unitId must be 1..247', { unitId });
    }
    // modbus-serial treats port 0 as "default 502", so find a free port ourselves.
    const port = options.port === 0 ? await findFreePort(host) : options.port;
    const clock = options.clock ?? Date.now;
    const map = new RegisterMap(profile);
    const log = new WriteLog();
    let tapped = false;
    const record = (functionCode: number, address: number | undefined): void => {
      const attempt: WriteAttempt = { functionCode, ...(address === undefined ? {} : { address }), at: clock() };
      log.add(attempt);
      options.onWrite?.(attempt);
    };
    // Write handlers accept (as a device would); they count only if the frame tap is missing.
    const accept = (functionCode: number) => (address: number): void => {
      if (!tapped) record(functionCode, address);
    };
    const acceptCoil = accept(5);
    const acceptRegister = accept(6);
    const acceptRegisters = accept(16);
    // Arity matters: modbus-serial calls 2-argument getters synchronously (and 3-argument ones
    // for multi-register reads); a trailing callback parameter would switch it to callback style.
    const vector = {
      getCoil: (addr: number, _unit: number) => map.bit('coil', addr, options.values()),
      getDiscreteInput: (addr: number, _unit: number) => map.bit('discrete', addr, options.values()),
      getInputRegister: (addr: number, _unit: number) => map.words('input', addr, 1, options.values())[0],
      getHoldingRegister: (addr: number, _unit: number) => map.words('holding', addr, 1, options.values())[0],
      getMultipleInputRegisters: (addr: number, length: number, _unit: number) => map.words('input', addr, length, options.values()),
      getMultipleHoldingRegisters: (addr: number, length: number, _unit: number) => map.words('holding', addr, length, options.values()),
      setCoil: (addr: number, _value: boolean, _unit: number) => acceptCoil(addr),
      setRegister: (addr: number, _value: number, _unit: number) => acceptRegister(addr),
      setRegisterArray: (addr: number, _value: number[], _unit: number) => acceptRegisters(addr),
      // FC43/14 Read Device Identification (MAP v1.1b3 §6.21).
      readDeviceIdentification: (_unit: number) => ({
        0x00: 'Shellguard Simulated Equipment',
        0x01: profile.id,
        0x02: '0.1.0',
        0x04: profile.name,
      }),
    };
    const server = new ServerTCP(vector as unknown as IServiceVector, { host, port, unitID: unitId });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: unknown): void => {
        server.removeListener('initialized', onReady);
        const translated = listenErrorOf(err, {
          what: `simulated ${profile.id} equipment`, host, port,
          setting: '--base-port for shellguard sim, --sim-port for shellguard demo; asset i takes the first port + i',
        });
        reject(translated instanceof ListenError ? translated
          : new SimError('port_unavailable', `cannot listen on ${host}:${port}: ${(err as Error).message ?? String(err)}`, { host, port }));
      };
      const onReady = (): void => {
        server.removeListener('serverError', onError);
        resolve();
      };
      server.once('initialized', onReady);
      server.once('serverError', onError);
    });
    // A client resetting its connection is not our failure; never let it become an unhandled 'error'.
    server.on('socketError', () => undefined);
    server.on('serverError', () => undefined);
    server.on('error', () => undefined);
    tapped = tapWrites(server, record);
    return new EquipmentServer(server, log, host, port, unitId);
  }

  /** Number of write requests received since start. */
  writesReceived(): number {
    return this.log.count;
  }

  /** The most recent write requests (up to 1000). */
  writeLog(): readonly WriteAttempt[] {
    return [...this.log.recent];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

class WriteLog {
  count = 0;
  readonly recent: WriteAttempt[] = [];

  add(attempt: WriteAttempt): void {
    this.count++;
    this.recent.push(attempt);
    if (this.recent.length > MAX_WRITE_LOG) this.recent.shift();
  }
}

/**
 * Counts write requests from the raw Modbus TCP frames (MBAP header, then the function code),
 * so that writes modbus-serial would reject without calling us (FC 21, 22, 23) are counted too.
 * Returns false if the library's internals are not where we expect; the write handlers then count.
 */
function tapWrites(server: ServerTCP, record: (functionCode: number, address: number | undefined) => void): boolean {
  const inner = (server as unknown as ServerInternals)._server;
  if (!(inner instanceof net.Server)) return false;
  inner.on('connection', (sock: net.Socket) => {
    let pending = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= MBAP_HEADER + 1) {
        // MBAP: transaction (2), protocol (2), length (2) counting unit id + PDU.
        const length = pending.readUInt16BE(4);
        if (pending.length < 6 + length) break;
        const fc = pending[MBAP_HEADER]!;
        if (WRITE_FUNCTION_CODES.has(fc)) {
          record(fc, 6 + length >= MBAP_HEADER + 3 ? pending.readUInt16BE(MBAP_HEADER + 1) : undefined);
        }
        pending = pending.subarray(6 + Math.max(length, 1));
      }
    });
  });
  return true;
}

/** Asks the OS for a free loopback port (bind to 0, read it, release it). */
export async function findFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ host, port: 0 }, () => {
      const addr = probe.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
