/**
 * One simulated SNMP agent on the wire (net-snmp's Agent): serves an snmp profile's OIDs from
 * the physics' values (through `rawValue`, plus the profile's MIB-native values, mib-values.ts),
 * to v2c with its community and to v3 USM users.
 *
 * Like a real device it answers SetRequest (notWritable, as for the MIB's read-only objects, or
 * accepting when `acceptWrites`), and it counts every SetRequest: the guardian must never send
 * one, and tests assert the count stays 0. It sends traps and informs from its own UDP socket
 * (so a receiver can match the source address to the asset), by `sendTrap` or on physics events
 * (on_battery rising -> upsTrapOnBattery, RFC 1628 §upsTraps).
 */
import dgram from 'node:dgram';
import snmp from 'net-snmp';
import { ListenError, rawValue, type SnmpProfile } from '@shellguard/protocol';
import { SimError } from '../errors.ts';
import type { PointValues } from '../physics/types.ts';
import { mibValues } from './mib-values.ts';

export interface SnmpWriteAttempt {
  /** The OIDs the SetRequest named. */
  oids: string[];
  /** Security name: the community or the v3 user. */
  securityName: string;
  at: number;
}

export interface SimulatedSnmpUser {
  name: string;
  authProtocol: 'sha224' | 'sha256' | 'sha384' | 'sha512';
  authKey: string;
  /** aes128: RFC 3826; aes256: Blumenthal key extension (Net-SNMP's AES-256). */
  privProtocol: 'aes128' | 'aes256';
  privKey: string;
}

export interface SnmpTrapTarget {
  host: string;
  port: number;
  /** v2c community; or `user` for v3. */
  community?: string;
  user?: SimulatedSnmpUser;
  /** Send InformRequests (acknowledged) instead of traps. */
  inform?: boolean;
}

export interface SnmpAgentOptions {
  host: string;
  /** UDP port; 0 picks a free one. */
  port: number;
  profile: SnmpProfile;
  values: () => Readonly<PointValues>;
  onWrite?: (attempt: SnmpWriteAttempt) => void;
  clock?: () => number;
  /** v2c read community. */
  community?: string;
  users?: SimulatedSnmpUser[];
  /** Replaces `{index}` in the profile's OIDs (default 1). */
  index?: string;
  /** Answer SetRequests as a device with writable objects would (default: notWritable). */
  acceptWrites?: boolean;
  /** snmpEngineID (hex); keep it across a restart so v3 managers see the same engine. */
  engineID?: string;
  /** Where automatic traps on physics events go; none when absent. */
  trapTarget?: SnmpTrapTarget;
  /** How often physics events are looked for (ms, default 500); 0: only by checkEvents(). */
  eventCheckMs?: number;
}

export interface SimulatedSnmpAgent {
  host: string;
  port: number;
  engineID: string;
  writesReceived(): number;
  writeLog(): readonly SnmpWriteAttempt[];
  /** Sends one notification (snmpTrapOID.0 = trapOid) from the agent's socket to `target` (default trapTarget). */
  sendTrap(trapOid: string, varbinds?: { oid: string; type: 'integer' | 'string'; value: number | string }[], target?: SnmpTrapTarget): Promise<void>;
  /** Looks at the physics now and sends the traps its changes call for. */
  checkEvents(): Promise<void>;
  close(): Promise<void>;
}

const AUTH = { sha224: snmp.AuthProtocols.sha224, sha256: snmp.AuthProtocols.sha256, sha384: snmp.AuthProtocols.sha384, sha512: snmp.AuthProtocols.sha512 } as const;
const PRIV = { aes128: snmp.PrivProtocols.aes, aes256: snmp.PrivProtocols.aes256b } as const;

function usmUser(u: SimulatedSnmpUser): snmp.User {
  return { name: u.name, level: snmp.SecurityLevel.authPriv, authProtocol: AUTH[u.authProtocol], authKey: u.authKey, privProtocol: PRIV[u.privProtocol], privKey: u.privKey };
}

/** UPS-MIB notifications (RFC 1628): upsTraps = upsMIB.2; upsAlarmDescr = upsAlarmEntry 2; well-known alarms under upsWellKnownAlarms. */
const UPS = {
  trapOnBattery: '1.3.6.1.2.1.33.2.1',
  trapAlarmEntryAdded: '1.3.6.1.2.1.33.2.3',
  trapAlarmEntryRemoved: '1.3.6.1.2.1.33.2.4',
  estimatedMinutesRemaining: '1.3.6.1.2.1.33.1.2.3.0',
  secondsOnBattery: '1.3.6.1.2.1.33.1.2.2.0',
  alarmId: '1.3.6.1.2.1.33.1.6.2.1.1',
  alarmDescr: '1.3.6.1.2.1.33.1.6.2.1.2',
  alarmOnBattery: '1.3.6.1.2.1.33.1.6.3.2',
  alarmLowBattery: '1.3.6.1.2.1.33.1.6.3.3',
};

export async function startSnmpAgent(options: SnmpAgentOptions): Promise<SimulatedSnmpAgent> {
  const { host, profile } = options;
  const clock = options.clock ?? Date.now;
  if (options.community === undefined && (options.users ?? []).length === 0) {
    throw new SimError('invalid_option', 'an SNMP agent needs a community (v2c) or users (v3)', {});
  }
  let socket: dgram.Socket | undefined;
  const dgramModule = {
    createSocket: (type: dgram.SocketType) => {
      socket = dgram.createSocket(type);
      const s = socket;
      const bind = s.bind.bind(s) as (...a: unknown[]) => dgram.Socket;
      // net-snmp turns port 0 into 161; bind where we were asked.
      (s as unknown as { bind: () => dgram.Socket }).bind = () => bind(options.port, host);
      return s;
    },
  };
  let started = false;
  let listenFailure: ((err: Error) => void) | undefined;
  const agent = snmp.createAgent({
    port: options.port === 0 ? 1 : options.port, address: host, transport: 'udp4', dgramModule,
    disableAuthorization: false, accessControlModelType: snmp.AccessControlModelType.None,
    ...(options.engineID ? { engineID: options.engineID } : {}),
  }, (err: unknown) => {
    if (err && !started) listenFailure?.(err as Error);
  });
  const s = socket!;
  await new Promise<void>((resolve, reject) => {
    listenFailure = (err) => reject(new ListenError('port_in_use', `cannot listen for SNMP on ${host}:${options.port}: ${err.message}`, { host, port: options.port }));
    s.once('listening', () => resolve());
  }).catch((err: unknown) => {
    try { agent.close(); } catch { /* not bound */ }
    throw err instanceof ListenError ? err : new SimError('port_unavailable', String(err), { host });
  });
  started = true;
  const port = s.address().port;
  const authorizer = agent.getAuthorizer();
  if (options.community !== undefined) authorizer.addCommunity(options.community);
  for (const u of options.users ?? []) authorizer.addUser(usmUser(u));

  // The MIB: one scalar provider per parent OID gives every instance its MAX-ACCESS.
  const mib = agent.getMib();
  const maxAccess = options.acceptWrites ? snmp.MaxAccess['read-write'] : snmp.MaxAccess['read-only'];
  const index = options.index ?? '1';
  const served = profile.points.filter((p) => p.oid !== undefined).map((p) => ({ point: p, oid: p.oid!.replaceAll('{index}', index) }));
  const parents = new Set(served.map((x) => x.oid.slice(0, x.oid.lastIndexOf('.'))));
  for (const parent of parents) {
    const provider = { name: `p${parent}`, type: snmp.MibProviderType.Scalar, oid: parent, scalarType: snmp.ObjectType.Integer, maxAccess };
    mib.registerProvider(provider);
    mib.addProviderToNode(provider);
  }
  const nodes = served.map((x) => ({ ...x, node: mib.addNodesForOid(x.oid) as { value: unknown; valueType: number } }));
  const refresh = (): void => {
    const values = mibValues(profile.id, options.values());
    for (const { point, node } of nodes) {
      const v = values[point.name];
      if (v === undefined) { node.value = undefined; continue; }
      const raw = Math.round(rawValue(point, v));
      if (raw >= -0x80000000 && raw <= 0x7fffffff) { node.valueType = snmp.ObjectType.Integer; node.value = raw; }
      else if (raw >= 0 && raw <= 0xffffffff) { node.valueType = snmp.ObjectType.Gauge; node.value = raw; }
      else {
        const b = Buffer.alloc(8);
        b.writeBigUInt64BE(BigInt(Math.max(0, raw)));
        node.valueType = snmp.ObjectType.Counter64; node.value = b;
      }
    }
  };
  refresh();
  const a = agent as unknown as Record<string, (socket: unknown, message: { pdu: { varbinds: { oid: string }[] }; community?: string; user?: { name: string } }, rinfo: unknown) => void>;
  for (const op of ['getRequest', 'getNextRequest', 'getBulkRequest'] as const) {
    const original = a[op]!.bind(agent);
    a[op] = (sock, message, rinfo) => { refresh(); original(sock, message, rinfo); };
  }
  const writes: SnmpWriteAttempt[] = [];
  let writeCount = 0;
  const originalSet = a.setRequest!.bind(agent);
  a.setRequest = (sock, message, rinfo) => {
    const attempt: SnmpWriteAttempt = { oids: message.pdu.varbinds.map((v) => v.oid), securityName: message.user?.name ?? message.community ?? '', at: clock() };
    writeCount++;
    if (writes.length < 1000) writes.push(attempt);
    options.onWrite?.(attempt);
    originalSet(sock, message, rinfo);
  };

  // Notifications leave from the agent's own socket (a session given that socket).
  const listeners: ((...args: unknown[]) => void)[] = [];
  const shared = {
    createSocket: () => ({
      send: s.send.bind(s),
      on(event: string, fn: (...args: unknown[]) => void) { if (event === 'message') { s.on('message', fn); listeners.push(fn); } return this; },
      unref() { return this; }, ref() { return this; }, bind() { return this; }, close() { /* the agent owns the socket */ },
      address: () => s.address(),
    }),
  };
  const engineID = (agent as unknown as { engine: { engineID: Buffer } }).engine.engineID.toString('hex');
  const sessions = new Map<string, snmp.Session>();
  const sessionFor = (t: SnmpTrapTarget): snmp.Session => {
    const key = `${t.host}:${t.port}:${t.community ?? t.user?.name}`;
    let session = sessions.get(key);
    if (!session) {
      const common = { port: t.port, trapPort: t.port, dgramModule: shared, timeout: 2000, retries: 2 };
      session = t.user
        ? snmp.createV3Session(t.host, usmUser(t.user), { ...common, version: snmp.Version3, engineID })
        : snmp.createSession(t.host, t.community ?? 'public', { ...common, version: snmp.Version2c });
      session.on('error', () => undefined);
      sessions.set(key, session);
    }
    return session;
  };
  const sendTrap = (trapOid: string, varbinds: { oid: string; type: 'integer' | 'string'; value: number | string }[] = [], target = options.trapTarget): Promise<void> => {
    if (!target) return Promise.reject(new SimError('invalid_option', 'no trap target: give trapTarget or a target', {}));
    const vbs = varbinds.map((v) => ({ oid: v.oid, type: v.type === 'integer' ? snmp.ObjectType.Integer : snmp.ObjectType.OctetString, value: v.value }));
    const session = sessionFor(target);
    return new Promise<void>((resolve, reject) => {
      const done = (err: unknown): void => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve());
      if (target.inform) session.inform(trapOid, vbs, {}, done as never);
      else session.trap(trapOid, vbs, done as never);
    });
  };

  let last: PointValues = mibValues(profile.id, options.values());
  const checkEvents = async (): Promise<void> => {
    if (profile.id !== 'ups-rfc1628' || !options.trapTarget) return;
    const now = mibValues(profile.id, options.values());
    const before = last;
    last = now;
    const alarm = (id: number, alarmOid: string) => [{ oid: `${UPS.alarmId}.${id}`, type: 'integer' as const, value: id }, { oid: `${UPS.alarmDescr}.${id}`, type: 'string' as const, value: alarmOid }];
    if (now.on_battery && !before.on_battery) {
      await sendTrap(UPS.trapOnBattery, [
        { oid: UPS.estimatedMinutesRemaining, type: 'integer', value: Math.round(Number(now.runtime_remaining ?? 0)) },
        { oid: UPS.secondsOnBattery, type: 'integer', value: 0 },
      ]);
      await sendTrap(UPS.trapAlarmEntryAdded, alarm(1, UPS.alarmOnBattery));
    } else if (!now.on_battery && before.on_battery) {
      await sendTrap(UPS.trapAlarmEntryRemoved, alarm(1, UPS.alarmOnBattery));
    }
    if (now.battery_low && !before.battery_low) await sendTrap(UPS.trapAlarmEntryAdded, alarm(2, UPS.alarmLowBattery));
    else if (!now.battery_low && before.battery_low) await sendTrap(UPS.trapAlarmEntryRemoved, alarm(2, UPS.alarmLowBattery));
  };
  const eventMs = options.eventCheckMs ?? 500;
  const timer = eventMs > 0 && options.trapTarget ? setInterval(() => { checkEvents().catch(() => undefined); }, eventMs) : undefined;
  timer?.unref();

  let closed = false;
  return {
    host, port, engineID,
    writesReceived: () => writeCount,
    writeLog: () => [...writes],
    sendTrap,
    checkEvents,
    close: async () => {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      for (const session of sessions.values()) session.cancelRequests(new Error('agent closed'));
      for (const fn of listeners) s.off('message', fn);
      await new Promise<void>((resolve) => agent.close(() => resolve()));
    },
  };
}
