/**
 * A simulated BACnet/IP controller: one device object and one object per profile point, serving
 * the physics through an independent BACnet stack (@bacnet-js/client), not the guardian's. It
 * answers Who-Is, ReadProperty, ReadPropertyMultiple and SubscribeCOV (confirmed and unconfirmed
 * notifications, lifetimes, cancellation), and refuses and counts every request that would change
 * the device (WriteProperty, WritePropertyMultiple, DeviceCommunicationControl, ReinitializeDevice,
 * CreateObject, DeleteObject, AtomicWriteFile, list edits, time synchronisation, …): Shellguard
 * must never send one.
 *
 * Values follow BACnet: analog objects hold REALs in engineering units; binary objects hold the
 * enumeration inactive/active; multi-state objects are 1-based (clause 12.18.4), so a physics state
 * 0..n-1 is served as 1..n. Status_Flags report fault and out-of-service when a test sets them.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import BacnetModule, { ApplicationTag, ErrorClass, ErrorCode, ObjectType, PropertyIdentifier } from '@bacnet-js/client';
import {
  BACNET_OBJECT_TYPES, BACNET_PROPERTIES, rawValue, type BacnetPoint, type BacnetProfile,
} from '@shellguard/protocol';
import { SimError } from '../errors.ts';
import type { PointValues } from '../physics/types.ts';

type ClientConstructor = typeof BacnetModule.default;
type Client = InstanceType<ClientConstructor>;
// A CommonJS module with `exports.default`: what the default import gives depends on the loader
// (the exports object under tsx, the class itself under vitest); take the class either way.
const loaded = BacnetModule as unknown as { default?: unknown };
const ClientClass = (typeof loaded.default === 'function' ? loaded.default : BacnetModule) as ClientConstructor;

export interface BacnetWriteAttempt {
  /** The service the device was asked for: WriteProperty, ReinitializeDevice, … */
  service: string;
  /** The object it targeted, when the service names one (`analog-value:1`). */
  object?: string;
  at: number;
}

export interface BacnetDeviceOptions {
  host: string;
  /** UDP port; 0 picks a free one. */
  port: number;
  deviceInstance: number;
  profile: BacnetProfile;
  values: () => Readonly<PointValues>;
  clock?: () => number;
  onWrite?: (attempt: BacnetWriteAttempt) => void;
  /** false: a small controller that knows only ReadProperty (RPM is rejected as unrecognized). */
  readPropertyMultiple?: boolean;
  /** How often COV objects are checked for a change (ms, default 250); 0: only by checkCov(). */
  covCheckMs?: number;
  /** A change of an analog present value at least this big is notified (COV_Increment, default 0.5). */
  covIncrement?: number;
  vendorId?: number;
}

export interface BacnetSubscription {
  subscriber: string;
  processId: number;
  object: string;
  confirmed: boolean;
  /** Epoch ms the subscription ends; Infinity for lifetime 0 (indefinite). */
  expiresAt: number;
}

export interface SimulatedBacnetDevice {
  host: string;
  port: number;
  deviceInstance: number;
  writesReceived(): number;
  /** Every datagram that reached the device's socket, well-formed or not. */
  datagramsReceived(): number;
  writeLog(): readonly BacnetWriteAttempt[];
  /** The live COV subscriptions (expired ones are dropped). */
  subscriptions(): BacnetSubscription[];
  /** Confirmed notifications the subscriber acknowledged, and ones that went unanswered. */
  notifications(): { sent: number; acknowledged: number; failed: number };
  /** Sets an object's Status_Flags (by point name): fault makes Reliability unreliable-other. */
  setStatus(point: string, status: { fault?: boolean; outOfService?: boolean }): void;
  /** Looks at the COV objects now and notifies subscribers of those that changed. */
  checkCov(): Promise<void>;
  close(): Promise<void>;
}

/** Services that change a device, by the event name the stack emits for them. */
const WRITE_SERVICES: Readonly<Record<string, string>> = {
  writeProperty: 'WriteProperty', writePropertyMultiple: 'WritePropertyMultiple', deviceCommunicationControl: 'DeviceCommunicationControl',
  reinitializeDevice: 'ReinitializeDevice', createObject: 'CreateObject', deleteObject: 'DeleteObject', atomicWriteFile: 'AtomicWriteFile',
  addListElement: 'AddListElement', removeListElement: 'RemoveListElement', alarmAcknowledge: 'AcknowledgeAlarm',
  lifeSafetyOperation: 'LifeSafetyOperation', privateTransfer: 'PrivateTransfer', timeSync: 'TimeSynchronization', timeSyncUTC: 'UTCTimeSynchronization',
};

const TYPE_NAMES = new Map<number, string>(Object.entries(BACNET_OBJECT_TYPES).map(([k, v]) => [v, k]));
/** BACnetEngineeringUnits (clause 21) of the units the profiles use; others are no-units (95). */
const UNITS: Readonly<Record<string, number>> = {
  degC: 62, '%RH': 29, Pa: 53, kPa: 54, '%': 98, A: 3, V: 5, kW: 48, W: 47, kWh: 19, Hz: 27, 'mm/s': 161, 'l/s': 87, 'm3/h': 135, rpm: 104, min: 72, s: 73, kVA: 9,
};
const RELIABILITY = { noFaultDetected: 0, unreliableOther: 7 } as const;

interface SimObject {
  type: number;
  instance: number;
  name: string;
  point?: BacnetPoint;
  status: { fault: boolean; outOfService: boolean };
}

function keyOf(type: number, instance: number): string { return `${type}:${instance}`; }
function labelOf(o: { type: number; instance: number }): string { return `${TYPE_NAMES.get(o.type) ?? o.type}:${o.instance}`; }

type AppData = { type: number; value: unknown };

/**
 * A datagram transport for the stack that binds where it is told (port 0 included; the stack's
 * own transport turns 0 into 47808 and shares the port with SO_REUSEADDR, which a simulator must not).
 */
class LoopbackTransport extends EventEmitter {
  readonly #socket = dgram.createSocket({ type: 'udp4', reuseAddr: false });
  readonly #host: string;
  readonly #port: number;
  received = 0;
  constructor(host: string, port: number) {
    super();
    this.#host = host;
    this.#port = port;
    this.#socket.on('message', (msg, rinfo) => {
      this.received++;
      this.emit('message', msg, `${rinfo.address}:${rinfo.port}`);
    });
    this.#socket.on('error', (err) => this.emit('error', err));
  }
  get port(): number { return this.#socket.address().port; }
  getBroadcastAddress(): string { return '255.255.255.255'; }
  // What the I-Am announces as Max_APDU_Length_Accepted (the B/IP maximum) and the stack's frame buffer.
  getMaxPayload(): number { return 1476; }
  send(buffer: Buffer, offset: number, receiver?: string): void {
    if (!receiver) return; // no broadcasts from a simulated device: I-Am goes back to who asked
    const [address, port] = receiver.split(':');
    this.#socket.send(buffer, 0, offset, Number(port) || 47808, address);
  }
  open(): void { /* bound by listen() */ }
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#socket.once('error', onError);
      this.#socket.bind(this.#port, this.#host, () => { this.#socket.off('error', onError); resolve(); });
    });
  }
  close(): Promise<void> { return new Promise((r) => this.#socket.close(() => r())); }
}

export async function startBacnetDevice(o: BacnetDeviceOptions): Promise<SimulatedBacnetDevice> {
  const clock = o.clock ?? Date.now;
  const rpm = o.readPropertyMultiple ?? true;
  const increment = o.covIncrement ?? 0.5;
  const objects = new Map<string, SimObject>();
  const deviceKey = keyOf(ObjectType.DEVICE, o.deviceInstance);
  objects.set(deviceKey, { type: ObjectType.DEVICE, instance: o.deviceInstance, name: `${o.profile.name} ${o.deviceInstance}`, status: { fault: false, outOfService: false } });
  for (const p of o.profile.points) {
    const type = BACNET_OBJECT_TYPES[p.objectType];
    const k = keyOf(type, p.instance);
    if (objects.has(k) && objects.get(k)!.point?.property === 'present-value' && p.property === 'present-value') {
      throw new SimError('invalid_option', `profile ${o.profile.id}: points ${objects.get(k)!.name} and ${p.name} are the same object ${labelOf({ type, instance: p.instance })}`, {});
    }
    if (!objects.has(k) || p.property === 'present-value') objects.set(k, { type, instance: p.instance, name: p.name, point: p, status: { fault: false, outOfService: false } });
  }

  const transport = new LoopbackTransport(o.host, o.port);
  try {
    await transport.listen();
  } catch (err) {
    throw new SimError('port_unavailable', `cannot listen for BACnet/IP on ${o.host}:${o.port}: ${(err as Error).message}`, { host: o.host, port: o.port });
  }
  const client: Client = new ClientClass({ transport, apduTimeout: 1000 });
  client.on('error', () => { /* a bad datagram is the stack's to drop */ });
  const writes: BacnetWriteAttempt[] = [];
  const subs = new Map<string, BacnetSubscription & { address: { address: string }; last: string }>();
  const counts = { sent: 0, acknowledged: 0, failed: 0 };

  const presentValue = (obj: SimObject): AppData => {
    const p = obj.point!;
    const v = o.values()[p.name];
    if (v === undefined) return { type: ApplicationTag.NULL, value: null };
    const raw = rawValue(p, v);
    switch (obj.type) {
      case ObjectType.ANALOG_INPUT: case ObjectType.ANALOG_OUTPUT: case ObjectType.ANALOG_VALUE:
        return { type: ApplicationTag.REAL, value: raw };
      case ObjectType.BINARY_INPUT: case ObjectType.BINARY_OUTPUT: case ObjectType.BINARY_VALUE:
        return { type: ApplicationTag.ENUMERATED, value: raw ? 1 : 0 };
      case ObjectType.MULTI_STATE_INPUT: case ObjectType.MULTI_STATE_OUTPUT: case ObjectType.MULTI_STATE_VALUE:
        return { type: ApplicationTag.UNSIGNED_INTEGER, value: Math.round(raw) + 1 };
      default:
        return { type: ApplicationTag.UNSIGNED_INTEGER, value: Math.max(0, Math.round(raw)) };
    }
  };

  const statusFlags = (obj: SimObject): AppData =>
    ({ type: ApplicationTag.BIT_STRING, value: { bitsUsed: 4, value: [(obj.status.fault ? 2 : 0) | (obj.status.outOfService ? 8 : 0)] } });

  /** A property's value, or the error a device answers for it. */
  const read = (objectId: { type: number; instance: number }, property: number): AppData[] | { errorClass: number; errorCode: number } => {
    const obj = objects.get(keyOf(objectId.type, objectId.instance));
    if (!obj) return { errorClass: ErrorClass.OBJECT, errorCode: ErrorCode.UNKNOWN_OBJECT };
    const isDevice = obj.type === ObjectType.DEVICE;
    switch (property) {
      case PropertyIdentifier.OBJECT_IDENTIFIER: return [{ type: ApplicationTag.OBJECTIDENTIFIER, value: { type: obj.type, instance: obj.instance } }];
      case PropertyIdentifier.OBJECT_NAME: return [{ type: ApplicationTag.CHARACTER_STRING, value: obj.name }];
      case PropertyIdentifier.OBJECT_TYPE: return [{ type: ApplicationTag.ENUMERATED, value: obj.type }];
      case PropertyIdentifier.DESCRIPTION: return [{ type: ApplicationTag.CHARACTER_STRING, value: obj.point?.description ?? o.profile.name }];
      default: break;
    }
    if (isDevice) {
      switch (property) {
        case PropertyIdentifier.SYSTEM_STATUS: return [{ type: ApplicationTag.ENUMERATED, value: 0 }];
        case PropertyIdentifier.VENDOR_IDENTIFIER: return [{ type: ApplicationTag.UNSIGNED_INTEGER, value: o.vendorId ?? 999 }];
        case PropertyIdentifier.VENDOR_NAME: return [{ type: ApplicationTag.CHARACTER_STRING, value: 'Shellguard simulator' }];
        case PropertyIdentifier.MODEL_NAME: return [{ type: ApplicationTag.CHARACTER_STRING, value: o.profile.id }];
        case PropertyIdentifier.PROTOCOL_VERSION: return [{ type: ApplicationTag.UNSIGNED_INTEGER, value: 1 }];
        case PropertyIdentifier.PROTOCOL_REVISION: return [{ type: ApplicationTag.UNSIGNED_INTEGER, value: 22 }];
        case PropertyIdentifier.MAX_APDU_LENGTH_ACCEPTED: return [{ type: ApplicationTag.UNSIGNED_INTEGER, value: 1476 }];
        case PropertyIdentifier.SEGMENTATION_SUPPORTED: return [{ type: ApplicationTag.ENUMERATED, value: 3 }];
        default: return { errorClass: ErrorClass.PROPERTY, errorCode: ErrorCode.UNKNOWN_PROPERTY };
      }
    }
    switch (property) {
      case PropertyIdentifier.PRESENT_VALUE: return [presentValue(obj)];
      case PropertyIdentifier.STATUS_FLAGS: return [statusFlags(obj)];
      case PropertyIdentifier.RELIABILITY: return [{ type: ApplicationTag.ENUMERATED, value: obj.status.fault ? RELIABILITY.unreliableOther : RELIABILITY.noFaultDetected }];
      case PropertyIdentifier.OUT_OF_SERVICE: return [{ type: ApplicationTag.BOOLEAN, value: obj.status.outOfService }];
      case PropertyIdentifier.EVENT_STATE: return [{ type: ApplicationTag.ENUMERATED, value: 0 }];
      case PropertyIdentifier.UNITS:
        if (obj.type > 2) return { errorClass: ErrorClass.PROPERTY, errorCode: ErrorCode.UNKNOWN_PROPERTY };
        return [{ type: ApplicationTag.ENUMERATED, value: UNITS[obj.point?.unit ?? ''] ?? 95 }];
      default: return { errorClass: ErrorClass.PROPERTY, errorCode: ErrorCode.UNKNOWN_PROPERTY };
    }
  };

  client.on('whoIs', (m) => {
    const { lowLimit, highLimit } = (m.payload ?? {}) as { lowLimit?: number; highLimit?: number };
    if (lowLimit !== undefined && highLimit !== undefined && (o.deviceInstance < lowLimit || o.deviceInstance > highLimit)) return;
    if (m.header?.sender) client.iAmResponse(m.header.sender, o.deviceInstance, 3, o.vendorId ?? 999);
  });

  client.on('readProperty', (m) => {
    const sender = m.header!.sender;
    const { objectId, property } = m.payload;
    const r = read(objectId, property.id);
    if (Array.isArray(r)) client.readPropertyResponse(sender, m.invokeId!, objectId, property, r as never);
    else client.errorResponse(sender, m.service!, m.invokeId!, r.errorClass, r.errorCode);
  });

  client.on('readPropertyMultiple', (m) => {
    const sender = m.header!.sender;
    if (!rpm) {
      client.errorResponse(sender, m.service!, m.invokeId!, ErrorClass.SERVICES, ErrorCode.REJECT_UNRECOGNIZED_SERVICE);
      return;
    }
    const values = m.payload.properties.map((spec) => ({
      objectId: spec.objectId,
      values: spec.properties.map((p) => {
        const r = read(spec.objectId, p.id);
        return { property: { id: p.id, index: p.index }, value: Array.isArray(r) ? r : [{ type: 0, value: { type: 'BacnetError', errorClass: r.errorClass, errorCode: r.errorCode } }] };
      }),
    }));
    client.readPropertyMultipleResponse(sender, m.invokeId!, values as never);
  });

  const covValues = (obj: SimObject): { property: { id: number; index: number }; value: AppData[] }[] => [
    { property: { id: PropertyIdentifier.PRESENT_VALUE, index: 0xffffffff }, value: [presentValue(obj)] },
    { property: { id: PropertyIdentifier.STATUS_FLAGS, index: 0xffffffff }, value: [statusFlags(obj)] },
  ];

  const notify = async (s: BacnetSubscription & { address: { address: string } }, obj: SimObject): Promise<void> => {
    const remaining = Number.isFinite(s.expiresAt) ? Math.max(0, Math.round((s.expiresAt - clock()) / 1000)) : 0;
    const objectId = { type: obj.type, instance: obj.instance };
    if (!s.confirmed) {
      client.unconfirmedCOVNotification(s.address, s.processId, o.deviceInstance, objectId as never, remaining, covValues(obj) as never);
      counts.sent++;
      return;
    }
    counts.sent++;
    try {
      await client.confirmedCOVNotification(s.address, objectId as never, s.processId, o.deviceInstance, remaining, covValues(obj) as never);
      counts.acknowledged++;
    } catch {
      counts.failed++;
    }
  };

  /** What a subscriber has been told about an object: present value (rounded to the increment) and flags. */
  const fingerprint = (obj: SimObject): string => {
    const pv = presentValue(obj);
    const v = pv.type === ApplicationTag.REAL ? Math.round((pv.value as number) / increment) : pv.value;
    return `${String(v)}|${obj.status.fault ? 1 : 0}${obj.status.outOfService ? 1 : 0}`;
  };

  client.on('subscribeCov', (m) => {
    const sender = m.header!.sender;
    const p = m.payload as unknown as { subscriberProcessId: number; monitoredObjectId: { type: number; instance: number }; issueConfirmedNotifications?: boolean; lifetime?: number; cancellationRequest?: boolean };
    const obj = objects.get(keyOf(p.monitoredObjectId.type, p.monitoredObjectId.instance));
    if (!obj || obj.type === ObjectType.DEVICE) {
      client.errorResponse(sender, m.service!, m.invokeId!, ErrorClass.OBJECT, obj ? ErrorCode.OPTIONAL_FUNCTIONALITY_NOT_SUPPORTED : ErrorCode.UNKNOWN_OBJECT);
      return;
    }
    const k = `${sender.address ?? ''}|${p.subscriberProcessId}|${keyOf(obj.type, obj.instance)}`;
    if (p.cancellationRequest) {
      subs.delete(k);
      client.simpleAckResponse(sender, m.service!, m.invokeId!);
      return;
    }
    const lifetime = p.lifetime ?? 0;
    const s = {
      subscriber: sender.address ?? '', processId: p.subscriberProcessId, object: labelOf(obj), confirmed: p.issueConfirmedNotifications ?? false,
      expiresAt: lifetime === 0 ? Infinity : clock() + lifetime * 1000, address: { address: sender.address ?? '' }, last: fingerprint(obj),
    };
    subs.set(k, s);
    client.simpleAckResponse(sender, m.service!, m.invokeId!);
    // Clause 13.14.2: a successful subscription is followed by an initial notification.
    void notify(s, obj);
  });

  for (const [event, service] of Object.entries(WRITE_SERVICES)) {
    client.on(event as 'writeProperty', (m) => {
      const target = (m.payload as { objectId?: { type: number; instance: number } } | undefined)?.objectId;
      const attempt: BacnetWriteAttempt = { service, at: clock(), ...(target ? { object: labelOf(target) } : {}) };
      writes.push(attempt);
      o.onWrite?.(attempt);
      if (m.header?.expectingReply && m.invokeId !== undefined) {
        client.errorResponse(m.header.sender, m.service!, m.invokeId, service.startsWith('Write') ? ErrorClass.PROPERTY : ErrorClass.SERVICES,
          service.startsWith('Write') ? ErrorCode.WRITE_ACCESS_DENIED : ErrorCode.SERVICE_REQUEST_DENIED);
      }
    });
  }

  const live = (): (BacnetSubscription & { address: { address: string }; last: string })[] => {
    const now = clock();
    for (const [k, s] of subs) if (s.expiresAt <= now) subs.delete(k);
    return [...subs.values()];
  };

  let checking: Promise<void> | undefined;
  const checkCov = async (): Promise<void> => {
    if (checking) return checking;
    checking = (async () => {
      const jobs: Promise<void>[] = [];
      for (const s of live()) {
        const [typeName, instance] = s.object.split(':');
        const obj = objects.get(keyOf(BACNET_OBJECT_TYPES[typeName as keyof typeof BACNET_OBJECT_TYPES], Number(instance)))!;
        const now = fingerprint(obj);
        if (now === s.last) continue;
        s.last = now;
        jobs.push(notify(s, obj));
      }
      await Promise.all(jobs);
    })().finally(() => { checking = undefined; });
    return checking;
  };
  const covTimer = (o.covCheckMs ?? 250) > 0 ? setInterval(() => { void checkCov(); }, o.covCheckMs ?? 250) : undefined;
  covTimer?.unref();

  let closed = false;
  return {
    host: o.host,
    port: transport.port,
    deviceInstance: o.deviceInstance,
    writesReceived: () => writes.length,
    datagramsReceived: () => transport.received,
    writeLog: () => writes,
    subscriptions: () => live().map(({ subscriber, processId, object, confirmed, expiresAt }) => ({ subscriber, processId, object, confirmed, expiresAt })),
    notifications: () => ({ ...counts }),
    setStatus: (point, status) => {
      const obj = [...objects.values()].find((x) => x.point?.name === point);
      if (!obj) throw new SimError('invalid_option', `profile ${o.profile.id} has no point ${point}`, {});
      obj.status = { fault: status.fault ?? obj.status.fault, outOfService: status.outOfService ?? obj.status.outOfService };
    },
    checkCov,
    close: async () => {
      if (closed) return;
      closed = true;
      if (covTimer) clearInterval(covTimer);
      client.removeAllListeners();
      await transport.close();
    },
  };
}

export { BACNET_PROPERTIES };
