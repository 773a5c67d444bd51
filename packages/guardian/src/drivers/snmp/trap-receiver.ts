/**
 * One listener for the SNMP notifications of every SNMP asset of this guardian (the
 * `snmpTraps` section of its config): v2c traps with the configured community, v3 traps and
 * informs from the configured USM users (authPriv only). Informs are acknowledged with the
 * Response RFC 3416 §4.2.7 asks for; that Response and the v3 discovery Report (RFC 3414 §4) are
 * the only PDUs this listener may send, checked before encoding as in read-only-session.ts.
 *
 * A notification is handed to the asset registered for its source address: the host, and the
 * port too when several assets share a host (agents behind one address, or simulators). What
 * matches no asset, fails authentication or cannot be decoded is counted and logged (source
 * address and reason only: a wrong community is itself a secret of someone's) and dropped.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import type { Logger } from 'pino';
import snmp from 'net-snmp';
import { systemClock, type Clock } from '@shellguard/protocol';
import type { SnmpTrapListenerConfig } from '../../config/config.ts';
import type { SnmpTrapEvent, SnmpTrapRegistry } from '../driver.ts';
import { SnmpError } from './errors.ts';
import { isApproved, pduTypeName } from './read-only-session.ts';
import { readSecretFile, usmUser } from './security.ts';
import { rawNumberOf } from './varbind-value.ts';

/** What the receiver may send: the Response acknowledging an InformRequest, and the Report of USM discovery. */
export const ALLOWED_RECEIVER_PDUS: ReadonlySet<number> = new Set([snmp.PduType.GetResponse, snmp.PduType.Report]);

/** snmpTrapOID.0 (SNMPv2-MIB, RFC 3418) and the generic traps of RFC 3584 §3.1 (snmpTraps.N). */
const SNMP_TRAP_OID = '1.3.6.1.6.3.1.1.4.1.0';
const SNMP_TRAPS = '1.3.6.1.6.3.1.1.5';

export interface SnmpTrapReceiverOptions extends SnmpTrapListenerConfig {
  logger: Logger;
  clock?: Clock;
}

export interface SnmpTrapStats {
  /** Notifications that passed authentication. */
  received: number;
  /** Given to a registered asset. */
  delivered: number;
  /** From an address no registered asset has (or several, ambiguously). */
  unmatched: number;
  /** Wrong community, unknown user, wrong digest, not authPriv. */
  unauthenticated: number;
  /** Not SNMP, or a PDU a receiver does not take (a GetRequest other than discovery, a SetRequest). */
  malformed: number;
  /** Informs acknowledged. */
  acknowledged: number;
}

interface Registration { asset: string; host: string; port: number; addresses: Set<string>; onTrap: (t: SnmpTrapEvent) => void }

const LOG_EVERY_MS = 10_000;

export class SnmpTrapReceiver implements SnmpTrapRegistry {
  readonly host: string;
  readonly port: number;
  readonly #receiver: { close(cb?: () => void): void };
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #registrations = new Set<Registration>();
  readonly #stats: SnmpTrapStats = { received: 0, delivered: 0, unmatched: 0, unauthenticated: 0, malformed: 0, acknowledged: 0 };
  readonly #lastLogged = new Map<string, number>();
  #closed = false;

  private constructor(receiver: { close(cb?: () => void): void }, host: string, port: number, logger: Logger, clock: Clock) {
    this.#receiver = receiver;
    this.host = host;
    this.port = port;
    this.#logger = logger;
    this.#clock = clock;
  }

  /** Listens on `host:port` (port 0 picks a free one); rejects with a clear error when it cannot. */
  static async start(options: SnmpTrapReceiverOptions): Promise<SnmpTrapReceiver> {
    const community = options.communityFile === undefined ? undefined : readSecretFile(options.communityFile, 'SNMP trap community');
    const users = options.users.map(usmUser);
    let socket: dgram.Socket | undefined;
    const approved = new WeakSet<Buffer>();
    const dgramModule = {
      createSocket: (type: dgram.SocketType) => {
        socket = dgram.createSocket(type);
        const s = socket;
        const bind = s.bind.bind(s) as (...a: unknown[]) => dgram.Socket;
        // net-snmp turns port 0 into 161/162; bind where the config says.
        (s as unknown as { bind: () => dgram.Socket }).bind = () => bind(options.port, options.host);
        const send = s.send.bind(s) as (...a: unknown[]) => void;
        (s as unknown as { send: (...a: unknown[]) => void }).send = (buffer: unknown, ...rest: unknown[]) => {
          if (!isApproved(buffer, approved)) throw new SnmpError('snmp_send_refused', 'refused a datagram that did not come from the receiver\'s allow-listed encoder', {});
          send(buffer, ...rest);
        };
        return s;
      },
    };
    const holder: { self?: SnmpTrapReceiver } = {};
    let startError: ((err: Error) => void) | undefined;
    const receiver = snmp.createReceiver({
      port: options.port === 0 ? 1 : options.port, address: options.host, transport: net.isIPv6(options.host) ? 'udp6' : 'udp4',
      dgramModule, disableAuthorization: false, includeAuthentication: false,
    }, (err: unknown, data: unknown) => {
      if (err && !(err as { rinfo?: unknown }).rinfo && startError) { startError(err as Error); return; }
      holder.self?.onNotification(err, data);
    });
    const authorizer = receiver.getAuthorizer();
    if (community !== undefined) authorizer.addCommunity(community);
    for (const u of users) authorizer.addUser(u);
    guardListenerSend(receiver.listener, approved, () => holder.self?.countAck());
    const s = socket!;
    await new Promise<void>((resolve, reject) => {
      startError = (err) => reject(new SnmpError('snmp_socket_failed', `cannot listen for SNMP traps on ${options.host}:${options.port}: ${err.message}; choose another snmpTraps.port (162 needs root or CAP_NET_BIND_SERVICE)`, { host: options.host, port: options.port }));
      s.once('listening', () => resolve());
    });
    startError = undefined;
    const address = s.address();
    holder.self = new SnmpTrapReceiver(receiver, address.address, address.port, options.logger, options.clock ?? systemClock);
    return holder.self;
  }

  register(agent: { asset: string; host: string; port: number }, onTrap: (trap: SnmpTrapEvent) => void): () => void {
    const reg: Registration = { ...agent, addresses: new Set(net.isIP(agent.host) ? [agent.host] : []), onTrap };
    if (!net.isIP(agent.host)) {
      lookup(agent.host, { all: true }).then((all) => { for (const a of all) reg.addresses.add(a.address); })
        .catch(() => this.#logger.warn({ asset: agent.asset, host: agent.host }, 'cannot resolve the host of an SNMP asset; its traps will not be matched'));
    }
    this.#registrations.add(reg);
    return () => { this.#registrations.delete(reg); };
  }

  stats(): SnmpTrapStats {
    return { ...this.#stats };
  }

  countAck(): void {
    this.#stats.acknowledged++;
  }

  /** net-snmp's receiver callback: a notification, or why a datagram was dropped. */
  onNotification(err: unknown, data: unknown): void {
    if (this.#closed) return;
    try {
      if (err) return this.#dropped(err);
      const { pdu, rinfo } = data as { pdu: { type: number; varbinds: { oid: string; type: number; value: unknown }[]; enterprise?: string; generic?: number; specific?: number }; rinfo: dgram.RemoteInfo };
      this.#stats.received++;
      const event: SnmpTrapEvent = {
        trapOid: trapOidOf(pdu),
        varbinds: pdu.varbinds.map((vb) => ({ oid: vb.oid, value: plainValue(vb) })),
        ts: this.#clock.now(),
        inform: pdu.type === snmp.PduType.InformRequest,
      };
      const target = this.#match(rinfo);
      if (!target) {
        this.#stats.unmatched++;
        this.#rateLimited(`unmatched:${rinfo.address}`, () => this.#logger.warn({ from: `${rinfo.address}:${rinfo.port}`, trapOid: event.trapOid }, 'SNMP notification from an address no SNMP asset has (or several share); add the agent to equipment, or check its source address'));
        return;
      }
      this.#stats.delivered++;
      target.onTrap(event);
    } catch (e) {
      this.#stats.malformed++;
      this.#rateLimited('malformed', () => this.#logger.warn({ err: (e as Error).message }, 'dropped an SNMP notification that could not be read'));
    }
  }

  #match(rinfo: dgram.RemoteInfo): Registration | undefined {
    const onHost = [...this.#registrations].filter((r) => r.addresses.has(rinfo.address));
    if (onHost.length === 1) return onHost[0];
    const onPort = onHost.filter((r) => r.port === rinfo.port);
    return onPort.length === 1 ? onPort[0] : undefined;
  }

  #dropped(err: unknown): void {
    const rinfo = (err as { rinfo?: dgram.RemoteInfo }).rinfo;
    const from = rinfo ? `${rinfo.address}:${rinfo.port}` : 'unknown';
    // Authentication failures are RequestFailedError (unknown community or user, missing
    // auth/priv) and ResponseInvalidError (wrong digest); their messages can hold the community
    // that was tried, so only the kind of failure is logged.
    if (err instanceof snmp.RequestFailedError || err instanceof snmp.ResponseInvalidError) {
      this.#stats.unauthenticated++;
      this.#rateLimited(`auth:${from}`, () => this.#logger.warn({ from }, 'refused an SNMP notification that failed authentication (unknown community or user, wrong keys, or not authPriv)'));
    } else {
      this.#stats.malformed++;
      this.#rateLimited(`bad:${from}`, () => this.#logger.warn({ from }, 'dropped a datagram on the SNMP trap port that is not an SNMP notification'));
    }
  }

  #rateLimited(key: string, log: () => void): void {
    const now = this.#clock.now();
    if (now - (this.#lastLogged.get(key) ?? -Infinity) < LOG_EVERY_MS) return;
    if (this.#lastLogged.size > 1000) this.#lastLogged.clear();
    this.#lastLogged.set(key, now);
    log();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#registrations.clear();
    await new Promise<void>((resolve) => this.#receiver.close(() => resolve()));
  }
}

/** Checks each message the receiver is about to encode against ALLOWED_RECEIVER_PDUS. */
function guardListenerSend(listener: { send: (message: unknown, rinfo: unknown, socket: unknown) => void }, approved: WeakSet<Buffer>, onAck: () => void): void {
  const send = listener.send.bind(listener);
  listener.send = (message, rinfo, socket) => {
    const m = message as { pdu?: { type?: number }; toBuffer: () => Buffer };
    const type = m?.pdu?.type;
    if (!ALLOWED_RECEIVER_PDUS.has(type as number)) throw new SnmpError('snmp_pdu_refused', `the trap receiver refused to send a ${pduTypeName(type)} PDU (it only acknowledges informs and answers USM discovery)`, { pduType: type });
    const encode = m.toBuffer;
    m.toBuffer = function guardedEncode() {
      const buffer = encode.call(this);
      approved.add(buffer);
      return buffer;
    };
    if (type === snmp.PduType.GetResponse) onAck();
    send(message, rinfo, socket);
  };
}

/** snmpTrapOID.0 of a v2c/v3 notification; RFC 3584 §3.1 for a v1 Trap-PDU. */
function trapOidOf(pdu: { type: number; varbinds: { oid: string; value: unknown }[]; enterprise?: string; generic?: number; specific?: number }): string {
  if (pdu.type === snmp.PduType.Trap) {
    if (pdu.generic === 6) return `${pdu.enterprise}.0.${pdu.specific}`;
    return `${SNMP_TRAPS}.${(pdu.generic ?? 0) + 1}`;
  }
  const vb = pdu.varbinds.find((v) => v.oid === SNMP_TRAP_OID);
  if (!vb || typeof vb.value !== 'string') throw new SnmpError('snmp_response_invalid', 'a notification without snmpTrapOID.0 (RFC 3416 §4.2.6 puts it second)', {});
  return vb.value;
}

function plainValue(vb: { oid: string; type: number; value: unknown }): number | string | boolean | null {
  if (vb.value === null || vb.value === undefined) return null;
  if (typeof vb.value === 'string' || typeof vb.value === 'boolean') return vb.value;
  try {
    return rawNumberOf({ oid: vb.oid, type: vb.type, value: vb.value });
  } catch {
    return vb.value instanceof Buffer ? vb.value.toString('utf8') : String(vb.value);
  }
}
