/**
 * A read-only Modbus TCP client (Modbus Messaging on TCP/IP Implementation Guide v1.0b).
 *
 * - Requests are built only by `encodeRequest` (pdu.ts), which refuses anything outside the
 *   read allow-list; `writeAdu` is the only place that writes to the socket, and it takes only an
 *   `EncodedRequest` and re-checks its function code.
 * - One request in flight per connection (a FIFO queue): many devices and gateways handle only one.
 * - A per-request timeout, or any socket or framing error, drops the connection; the next request
 *   reconnects, after an exponential backoff while failures repeat.
 * - Responses are matched by transaction id and unit id; TCP segments are reassembled, and a frame
 *   that cannot be Modbus TCP (protocol id ≠ 0, length field outside 2-254) closes the connection.
 * - Nothing here throws anything but `ModbusError`, and no peer behaviour can crash the process.
 */
import net from 'node:net';
import { ModbusError } from './errors.ts';
import {
  ALLOWED_FUNCTION_CODES,
  EncodedRequest,
  FunctionCode,
  MAX_PDU_LENGTH,
  MEI_READ_DEVICE_IDENTIFICATION,
  encodeRequest,
  parseBitsResponse,
  parseDeviceIdentificationResponse,
  parseRegistersResponse,
  type ReadDeviceIdCode,
  type ReadRequest,
} from './pdu.ts';

/** The read operations a poller needs; `ModbusTcpClient` implements it, tests may fake it. */
export interface ModbusReader {
  readCoils(unitId: number, address: number, quantity: number): Promise<boolean[]>;
  readDiscreteInputs(unitId: number, address: number, quantity: number): Promise<boolean[]>;
  readHoldingRegisters(unitId: number, address: number, quantity: number): Promise<number[]>;
  readInputRegisters(unitId: number, address: number, quantity: number): Promise<number[]>;
}

export type DeviceIdentificationLevel = 'basic' | 'regular' | 'extended';

/** Device identification objects (§6.21), by object id, plus the standard ones by name. */
export interface DeviceIdentification {
  conformityLevel: number;
  objects: Map<number, string>;
  vendorName?: string;
  productCode?: string;
  majorMinorRevision?: string;
  vendorUrl?: string;
  productName?: string;
  modelName?: string;
  userApplicationName?: string;
}

const STANDARD_OBJECT_NAMES = [
  'vendorName',
  'productCode',
  'majorMinorRevision',
  'vendorUrl',
  'productName',
  'modelName',
  'userApplicationName',
] as const;

export interface ModbusTcpClientOptions {
  host: string;
  port: number;
  /** Time allowed for connecting and for each response, in ms. Default 2000. */
  timeoutMs?: number;
  /** First reconnect delay after a failure, doubled per consecutive failure. Default 250 ms; 0 disables. */
  backoffInitialMs?: number;
  /** Longest reconnect delay. Default 10 s. */
  backoffMaxMs?: number;
  /** Clock for the backoff (inject for tests). Default `Date.now`. */
  now?: () => number;
  /** Opens the TCP connection (inject for tests). Default `net.createConnection`. */
  connect?: (host: string, port: number) => net.Socket;
}

/** MBAP header (§3.1.3 of the TCP/IP guide): transaction id, protocol id 0, length, unit id. */
const MBAP_LENGTH = 7;
/** The length field counts the unit id and the PDU: 2 (unit id + function code) to 254. */
const MIN_LENGTH_FIELD = 2;
const MAX_LENGTH_FIELD = MAX_PDU_LENGTH + 1;
/** A device-id stream longer than this is a misbehaving device, not a real one (256 object ids). */
const MAX_DEVICE_ID_PAGES = 256;

interface Pending {
  unitId: number;
  request: EncodedRequest;
  resolve: (pdu: Buffer) => void;
  reject: (err: ModbusError) => void;
}

interface InFlight extends Pending {
  transactionId: number;
  timer: NodeJS.Timeout;
}

interface Connection {
  socket: net.Socket;
  buffered: Buffer;
  /** Set once the connection is dropped, so late socket events are ignored. */
  dead: boolean;
  connectTimer?: NodeJS.Timeout;
}

function checkUnitId(unitId: number): void {
  if (!Number.isInteger(unitId) || unitId < 0 || unitId > 255) {
    throw new ModbusError('modbus_request_invalid', 'unit id must be an integer 0-255', { unitId });
  }
}

function asModbusError(err: unknown, fallback: string): ModbusError {
  if (err instanceof ModbusError) return err;
  return new ModbusError('modbus_connection_failed', `${fallback}: ${err instanceof Error ? err.message : String(err)}`);
}

export class ModbusTcpClient implements ModbusReader {
  readonly #host: string;
  readonly #port: number;
  readonly #timeoutMs: number;
  readonly #backoffInitialMs: number;
  readonly #backoffMaxMs: number;
  readonly #now: () => number;
  readonly #connectFn: (host: string, port: number) => net.Socket;

  #queue: Pending[] = [];
  #inFlight: InFlight | undefined;
  #connection: Connection | undefined;
  #connecting = false;
  /** The socket being opened, so `close()` can abandon it. */
  #opening: Connection | undefined;
  #closed = false;
  #transactionId = 0;
  #failures = 0;
  #retryAt = 0;
  /** Well-formed frames that matched no request (counted, and the connection dropped). */
  unmatchedFrames = 0;

  constructor(options: ModbusTcpClientOptions) {
    this.#host = options.host;
    this.#port = options.port;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#backoffInitialMs = options.backoffInitialMs ?? 250;
    this.#backoffMaxMs = options.backoffMaxMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#connectFn = options.connect ?? ((host, port) => net.createConnection({ host, port }));
  }

  /** fc 1 (§6.1). */
  async readCoils(unitId: number, address: number, quantity: number): Promise<boolean[]> {
    const pdu = await this.#transact(unitId, { functionCode: FunctionCode.readCoils, address, quantity });
    return parseBitsResponse(FunctionCode.readCoils, quantity, pdu);
  }

  /** fc 2 (§6.2). */
  async readDiscreteInputs(unitId: number, address: number, quantity: number): Promise<boolean[]> {
    const pdu = await this.#transact(unitId, { functionCode: FunctionCode.readDiscreteInputs, address, quantity });
    return parseBitsResponse(FunctionCode.readDiscreteInputs, quantity, pdu);
  }

  /** fc 3 (§6.3). */
  async readHoldingRegisters(unitId: number, address: number, quantity: number): Promise<number[]> {
    const pdu = await this.#transact(unitId, { functionCode: FunctionCode.readHoldingRegisters, address, quantity });
    return parseRegistersResponse(FunctionCode.readHoldingRegisters, quantity, pdu);
  }

  /** fc 4 (§6.4). */
  async readInputRegisters(unitId: number, address: number, quantity: number): Promise<number[]> {
    const pdu = await this.#transact(unitId, { functionCode: FunctionCode.readInputRegisters, address, quantity });
    return parseRegistersResponse(FunctionCode.readInputRegisters, quantity, pdu);
  }

  /**
   * fc 43 / MEI 14 (§6.21): reads a whole identification stream, following "more follows" until
   * the device says it is done.
   */
  async readDeviceIdentification(unitId: number, level: DeviceIdentificationLevel = 'regular'): Promise<DeviceIdentification> {
    const code: ReadDeviceIdCode = level === 'basic' ? 1 : level === 'regular' ? 2 : 3;
    const objects = new Map<number, string>();
    let conformityLevel = 0;
    let objectId = 0;
    for (let page = 0; page < MAX_DEVICE_ID_PAGES; page++) {
      const pdu = await this.#transact(unitId, {
        functionCode: FunctionCode.encapsulatedInterfaceTransport,
        meiType: MEI_READ_DEVICE_IDENTIFICATION,
        readDeviceIdCode: code,
        objectId,
      });
      const res = parseDeviceIdentificationResponse(code, pdu);
      conformityLevel = res.conformityLevel;
      for (const o of res.objects) if (!objects.has(o.id)) objects.set(o.id, o.value);
      if (!res.moreFollows) {
        const out: DeviceIdentification = { conformityLevel, objects };
        STANDARD_OBJECT_NAMES.forEach((name, id) => {
          const v = objects.get(id);
          if (v !== undefined) out[name] = v;
        });
        return out;
      }
      // A stream must move forward, or a hostile device could keep us asking forever.
      if (res.nextObjectId <= objectId) {
        throw new ModbusError('modbus_response_invalid', `device identification stream does not advance (next object ${res.nextObjectId})`, {
          functionCode: FunctionCode.encapsulatedInterfaceTransport,
        });
      }
      objectId = res.nextObjectId;
    }
    throw new ModbusError('modbus_response_invalid', 'device identification stream too long', {
      functionCode: FunctionCode.encapsulatedInterfaceTransport,
    });
  }

  /** Rejects every queued request, drops the connection; later requests fail with `modbus_client_closed`. */
  async close(): Promise<void> {
    this.#closed = true;
    const err = new ModbusError('modbus_client_closed', 'Modbus client closed');
    for (const p of this.#queue.splice(0)) p.reject(err);
    const opening = this.#opening;
    if (opening) {
      opening.dead = true;
      clearTimeout(opening.connectTimer);
      opening.socket.destroy();
      this.#opening = undefined;
      this.#connecting = false;
    }
    this.#drop(err);
  }

  /** Encodes first (the allow-list), so a refused request never opens, touches or queues a socket. */
  #transact(unitId: number, req: ReadRequest): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      try {
        const request = encodeRequest(req);
        checkUnitId(unitId);
        if (this.#closed) throw new ModbusError('modbus_client_closed', 'Modbus client closed');
        this.#queue.push({ unitId, request, resolve, reject });
        this.#pump();
      } catch (err) {
        reject(asModbusError(err, 'request failed'));
      }
    });
  }

  /** Starts the next queued request if none is in flight. */
  #pump(): void {
    if (this.#inFlight || this.#connecting || this.#queue.length === 0) return;
    const conn = this.#connection;
    if (conn && !conn.dead) {
      this.#send(conn, this.#queue.shift()!);
      return;
    }
    if (this.#failures > 0 && this.#now() < this.#retryAt) {
      // Fail fast while backing off, so a poller marks points bad instead of piling up requests.
      const err = new ModbusError('modbus_backing_off', `reconnect to ${this.#host}:${this.#port} deferred after ${this.#failures} failure(s)`, {
        retryInMs: this.#retryAt - this.#now(),
      });
      for (const p of this.#queue.splice(0)) p.reject(err);
      return;
    }
    this.#open();
  }

  #open(): void {
    this.#connecting = true;
    let socket: net.Socket;
    try {
      socket = this.#connectFn(this.#host, this.#port);
    } catch (err) {
      this.#connecting = false;
      this.#connectFailed(asModbusError(err, `cannot connect to ${this.#host}:${this.#port}`));
      return;
    }
    const conn: Connection = { socket, buffered: Buffer.alloc(0), dead: false };
    this.#opening = conn;
    const timer = setTimeout(() => {
      socket.destroy();
      if (!this.#connecting || conn.dead) return;
      conn.dead = true;
      this.#connecting = false;
      this.#opening = undefined;
      this.#connectFailed(new ModbusError('modbus_timeout', `connecting to ${this.#host}:${this.#port} timed out`, { timeoutMs: this.#timeoutMs }));
    }, this.#timeoutMs);
    conn.connectTimer = timer;
    socket.setNoDelay(true);
    socket.once('connect', () => {
      clearTimeout(timer);
      if (conn.dead) return;
      this.#connecting = false;
      this.#opening = undefined;
      this.#connection = conn;
      this.#pump();
    });
    socket.on('data', (chunk: Buffer) => {
      if (conn.dead) return;
      try {
        this.#receive(conn, chunk);
      } catch (err) {
        this.#drop(asModbusError(err, 'receive failed'));
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      this.#lost(conn, new ModbusError('modbus_connection_failed', `connection to ${this.#host}:${this.#port} failed: ${err.message}`));
    });
    socket.on('close', () => {
      clearTimeout(timer);
      this.#lost(conn, new ModbusError('modbus_connection_failed', `connection to ${this.#host}:${this.#port} closed by peer`));
    });
  }

  #lost(conn: Connection, err: ModbusError): void {
    if (conn.dead) return;
    conn.dead = true;
    if (this.#connection !== conn) {
      // Failed while connecting.
      this.#connecting = false;
      this.#opening = undefined;
      this.#connectFailed(err);
      return;
    }
    this.#drop(err);
  }

  #connectFailed(err: ModbusError): void {
    this.#recordFailure();
    for (const p of this.#queue.splice(0)) p.reject(err);
  }

  #recordFailure(): void {
    this.#failures++;
    const delay = this.#backoffInitialMs === 0 ? 0 : Math.min(this.#backoffMaxMs, this.#backoffInitialMs * 2 ** (this.#failures - 1));
    this.#retryAt = this.#now() + delay;
  }

  /** The one and only socket write. Takes only an allow-listed `EncodedRequest`, and checks it again. */
  #writeAdu(conn: Connection, transactionId: number, unitId: number, request: EncodedRequest): void {
    if (!(request instanceof EncodedRequest) || !ALLOWED_FUNCTION_CODES.has(request.bytes[0]!)) {
      throw new ModbusError('modbus_function_refused', 'refusing to send a request that did not pass encodeRequest');
    }
    const adu = Buffer.alloc(MBAP_LENGTH + request.bytes.length);
    adu.writeUInt16BE(transactionId, 0);
    adu.writeUInt16BE(0, 2); // protocol id: 0 = Modbus
    adu.writeUInt16BE(request.bytes.length + 1, 4);
    adu.writeUInt8(unitId, 6);
    request.bytes.copy(adu, MBAP_LENGTH);
    conn.socket.write(adu);
  }

  #send(conn: Connection, p: Pending): void {
    this.#transactionId = (this.#transactionId + 1) & 0xffff;
    const transactionId = this.#transactionId;
    const timer = setTimeout(() => {
      if (this.#inFlight?.transactionId !== transactionId) return;
      this.#drop(new ModbusError('modbus_timeout', `no response from ${this.#host}:${this.#port} unit ${p.unitId} within ${this.#timeoutMs} ms`, {
        unitId: p.unitId,
        functionCode: p.request.functionCode,
        timeoutMs: this.#timeoutMs,
      }));
    }, this.#timeoutMs);
    this.#inFlight = { ...p, transactionId, timer };
    try {
      this.#writeAdu(conn, transactionId, p.unitId, p.request);
    } catch (err) {
      this.#drop(asModbusError(err, 'write failed'));
    }
  }

  /** Reassembles MBAP frames from TCP segments (partial or coalesced). */
  #receive(conn: Connection, chunk: Buffer): void {
    conn.buffered = conn.buffered.length === 0 ? chunk : Buffer.concat([conn.buffered, chunk]);
    while (!conn.dead && conn.buffered.length >= MBAP_LENGTH) {
      const buf = conn.buffered;
      const transactionId = buf.readUInt16BE(0);
      const protocolId = buf.readUInt16BE(2);
      const length = buf.readUInt16BE(4);
      if (protocolId !== 0 || length < MIN_LENGTH_FIELD || length > MAX_LENGTH_FIELD) {
        // Not Modbus TCP, or a length that would make us buffer beyond any legal frame: close.
        this.#drop(new ModbusError('modbus_frame_invalid', `peer sent an invalid MBAP header (protocol ${protocolId}, length ${length})`, {
          protocolId,
          length,
        }));
        return;
      }
      const frameLength = 6 + length;
      if (buf.length < frameLength) return;
      const unitId = buf.readUInt8(6);
      const pdu = Buffer.from(buf.subarray(MBAP_LENGTH, frameLength));
      conn.buffered = buf.subarray(frameLength);
      this.#deliver(transactionId, unitId, pdu);
    }
  }

  #deliver(transactionId: number, unitId: number, pdu: Buffer): void {
    const current = this.#inFlight;
    if (!current || current.transactionId !== transactionId || current.unitId !== unitId) {
      // With one request in flight and a fresh connection after every timeout, a frame that is not
      // the answer to it means the stream cannot be trusted any more.
      this.unmatchedFrames++;
      this.#drop(new ModbusError('modbus_frame_invalid', `response (transaction ${transactionId}, unit ${unitId}) matches no outstanding request`, {
        transactionId,
        unitId,
      }));
      return;
    }
    clearTimeout(current.timer);
    this.#inFlight = undefined;
    this.#failures = 0;
    current.resolve(pdu);
    this.#pump();
  }

  /** Drops the connection: the in-flight request fails with `err`; queued ones go on a new connection. */
  #drop(err: ModbusError): void {
    const conn = this.#connection;
    this.#connection = undefined;
    if (conn) {
      conn.dead = true;
      conn.socket.destroy();
    }
    const current = this.#inFlight;
    this.#inFlight = undefined;
    if (current) {
      clearTimeout(current.timer);
      current.reject(err);
    }
    if (err.code !== 'modbus_client_closed') this.#recordFailure();
    if (!this.#closed) queueMicrotask(() => this.#pump());
  }
}
