/**
 * The BACnet/IP driver: reads an asset's points with ReadPropertyMultiple (ReadProperty per point
 * when the device rejects RPM), judges each value by the object's status-flags, and keeps COV
 * subscriptions for `cov: true` points, pushing their notifications through `ctx.onSamples`.
 * Read-only below the socket: see frame.ts.
 */
import {
  BACNET_OBJECT_TYPES, BACNET_PROPERTIES, Quality, engineeringValue, ShellguardError,
  type BacnetPoint, type BacnetProfile, type Sample, type TimerHandle,
} from '@shellguard/protocol';
import type { Logger } from 'pino';
import { driverClosed, pointsOfSet, type DriverContext, type EquipmentDriver, type PollFailure, type PointSet, type PollResult } from '../driver.ts';
import { AppTag, type AppValue, type ObjectId } from './asn1.ts';
import { BacnetClient } from './bacnet-client.ts';
import { Confirmed, type PropertyRef } from './frame.ts';
import { decodeReadPropertyAck, decodeReadPropertyMultipleAck, type CovNotification, type PropertyResult } from './services.ts';
import { BacnetError, ERROR_CLASSES, ERROR_CODES, nameOf } from './errors.ts';

const STATUS_FLAGS = BACNET_PROPERTIES['status-flags'];
const PRESENT_VALUE = BACNET_PROPERTIES['present-value'];
/** Objects read per ReadPropertyMultiple: keeps an answer within a few segments on small devices. */
const OBJECTS_PER_RPM = 16;
/** A subscription that failed is tried again after this long. */
const COV_RETRY_MS = 30_000;
/** Object types with a Status_Flags property (clause 12: required on every one of these). */
const HAS_STATUS_FLAGS = new Set<number>([0, 1, 2, 3, 4, 5, 13, 14, 19, 23]);
/** Reject reason unrecognized-service (9), or Error services/service-request-denied: RPM not supported. */
const RPM_UNSUPPORTED = (e: BacnetError): boolean =>
  (e.code === 'bacnet_reject' && e.details.reason === 9) || (e.code === 'bacnet_error' && e.details.errorClass === 5);

export interface BacnetDriverOptions {
  /** A client built by the caller (tests); by default one is made from the equipment entry. */
  client?: BacnetClient;
  /** ReadProperty retries after a timeout. */
  retries?: number;
}

function objectOf(p: BacnetPoint): ObjectId { return { type: BACNET_OBJECT_TYPES[p.objectType], instance: p.instance }; }
function keyOf(o: ObjectId, property: number): string { return `${o.type}:${o.instance}:${property}`; }
function whereOf(p: BacnetPoint): string { return `${p.objectType}:${p.instance} ${p.property}`; }
function wantsStatus(p: BacnetPoint): boolean { return p.property === 'present-value' && HAS_STATUS_FLAGS.has(BACNET_OBJECT_TYPES[p.objectType]); }

/** What one point read gave: a sample and, when it is not good, the reason. */
type PointOutcome = { value: number | boolean | null; quality: Sample['quality']; error?: ShellguardError };

export class BacnetDriver implements EquipmentDriver {
  readonly protocol = 'bacnet' as const;
  readonly #ctx: DriverContext<BacnetProfile>;
  readonly #client: BacnetClient;
  readonly #log: Logger;
  readonly #covPoints: BacnetPoint[];
  #rpm = true;
  #closed = false;
  #subscribed = false;
  readonly #covTimers = new Map<string, TimerHandle>();
  readonly #processId: number;
  #unlisten: (() => void) | undefined;

  constructor(ctx: DriverContext<BacnetProfile>, options: BacnetDriverOptions = {}) {
    const e = ctx.equipment;
    const b = e.bacnet;
    if (!b) throw new BacnetError('bacnet_request_invalid', `equipment ${e.asset}: a BACnet asset needs a bacnet section (deviceInstance, optional route and foreignDevice)`);
    this.#ctx = ctx;
    this.#log = ctx.logger.child({ asset: e.asset, protocol: 'bacnet' });
    this.#client = options.client ?? new BacnetClient({
      host: e.host, port: e.port, timeoutMs: e.timeoutMs, clock: ctx.clock, retries: options.retries,
      ...(b.route ? { route: { network: b.route.network, address: Buffer.from(b.route.address, 'hex') } } : {}),
      ...(b.foreignDevice ? { foreignDevice: b.foreignDevice } : {}),
    });
    this.#covPoints = ctx.profile.points.filter((p) => p.cov);
    // Clause 13.14.1.1.1: the process id tells our subscriptions apart at the device; one per asset.
    this.#processId = (b.deviceInstance ^ 0x5347) >>> 0;
  }

  async read(set: PointSet): Promise<PollResult> {
    if (this.#closed) throw driverClosed(this.#ctx.equipment.asset);
    if (!this.#subscribed && this.#covPoints.length > 0) this.#startCov();
    const points = pointsOfSet(this.#ctx.profile.points, set);
    const ts = this.#ctx.clock.now();
    const outcomes = this.#rpm ? await this.#readMultiple(points) : await this.#readEach(points);
    if (this.#closed) throw driverClosed(this.#ctx.equipment.asset);
    const samples: Sample[] = [];
    const errors: PollFailure[] = [];
    points.forEach((p, i) => {
      const o = outcomes[i]!;
      samples.push({ point: p.name, ts, value: o.value, quality: o.quality });
      if (o.error) errors.push({ where: whereOf(p), points: [p.name], error: o.error });
    });
    return { samples, errors: mergeFailures(errors) };
  }

  async #readMultiple(points: BacnetPoint[]): Promise<PointOutcome[]> {
    const byObject = new Map<string, { object: ObjectId; properties: PropertyRef[] }>();
    for (const p of points) {
      const object = objectOf(p);
      const k = `${object.type}:${object.instance}`;
      const spec = byObject.get(k) ?? { object, properties: [] };
      const add = (id: number): void => { if (!spec.properties.some((x) => x.id === id)) spec.properties.push({ id }); };
      add(BACNET_PROPERTIES[p.property]);
      if (wantsStatus(p)) add(STATUS_FLAGS);
      byObject.set(k, spec);
    }
    const specs = [...byObject.values()];
    const chunks: (typeof specs)[] = [];
    for (let i = 0; i < specs.length; i += OBJECTS_PER_RPM) chunks.push(specs.slice(i, i + OBJECTS_PER_RPM));
    const results = new Map<string, PropertyResult>();
    const failed = new Map<string, BacnetError>();
    await Promise.all(chunks.map(async (chunk) => {
      try {
        const data = await this.#client.confirmed({ pdu: 'confirmed', service: Confirmed.readPropertyMultiple, specs: chunk });
        for (const r of decodeReadPropertyMultipleAck(data)) results.set(keyOf(r.object, r.property), r);
      } catch (err) {
        const e = asBacnetError(err);
        for (const s of chunk) failed.set(`${s.object.type}:${s.object.instance}`, e);
      }
    }));
    const unsupported = [...failed.values()].find(RPM_UNSUPPORTED);
    if (unsupported) {
      this.#rpm = false;
      this.#log.info({ reason: unsupported.message }, 'device does not support ReadPropertyMultiple; reading one property at a time');
      return this.#readEach(points);
    }
    return points.map((p) => {
      const object = objectOf(p);
      const chunkError = failed.get(`${object.type}:${object.instance}`);
      if (chunkError) return bad(chunkError);
      const value = results.get(keyOf(object, BACNET_PROPERTIES[p.property]));
      if (!value) return bad(new BacnetError('bacnet_response_invalid', `the ReadPropertyMultiple answer has no ${whereOf(p)}`));
      return this.#judge(p, value, wantsStatus(p) ? results.get(keyOf(object, STATUS_FLAGS)) : undefined);
    });
  }

  async #readEach(points: BacnetPoint[]): Promise<PointOutcome[]> {
    const out: PointOutcome[] = [];
    for (const p of points) {
      const object = objectOf(p);
      const readOne = async (property: number): Promise<PropertyResult> => {
        try {
          return decodeReadPropertyAck(await this.#client.confirmed({ pdu: 'confirmed', service: Confirmed.readProperty, object, property: { id: property } }));
        } catch (err) {
          const e = asBacnetError(err);
          if (e.code === 'bacnet_error') return { object, property, error: { errorClass: Number(e.details.errorClass), errorCode: Number(e.details.errorCode) } };
          throw e;
        }
      };
      try {
        const value = await readOne(BACNET_PROPERTIES[p.property]);
        const status = wantsStatus(p) && !value.error ? await readOne(STATUS_FLAGS) : undefined;
        out.push(this.#judge(p, value, status));
      } catch (err) {
        out.push(bad(asBacnetError(err)));
      }
    }
    return out;
  }

  /** The stored value and quality of a point, from its property and its object's status-flags. */
  #judge(p: BacnetPoint, result: PropertyResult, status: PropertyResult | undefined): PointOutcome {
    if (result.error) {
      return bad(new BacnetError('bacnet_error', `${whereOf(p)}: the device answered ${nameOf(ERROR_CLASSES, result.error.errorClass)}/${nameOf(ERROR_CODES, result.error.errorCode)}; check the profile's object map against the device`, { ...result.error }));
    }
    const raw = rawOf(p, result.values ?? []);
    if (raw instanceof BacnetError) return bad(raw);
    let value: number | boolean;
    try {
      value = engineeringValue(p, raw);
    } catch (err) {
      return bad(new BacnetError('bacnet_response_invalid', `${whereOf(p)}: ${(err as Error).message}`));
    }
    const flags = status?.values?.[0];
    if (flags?.tag === AppTag.bitString) {
      // Clause 12.x Status_Flags: {in-alarm, fault, overridden, out-of-service}.
      if (flags.bits[1]) return bad(new BacnetError('bacnet_point_fault', `${whereOf(p)}: the device flags the object as in fault (its reliability is not no-fault-detected); the value is not trusted`));
      if (flags.bits[3]) return { value, quality: Quality.uncertain };
    }
    return { value, quality: Quality.good };
  }

  // ---------------------------------------------------------------- change of value

  #startCov(): void {
    this.#subscribed = true;
    this.#unlisten = this.#client.onCovNotification((n) => this.#onCov(n));
    const objects = new Map<string, ObjectId>();
    for (const p of this.#covPoints) objects.set(`${BACNET_OBJECT_TYPES[p.objectType]}:${p.instance}`, objectOf(p));
    for (const [k, object] of objects) void this.#subscribe(k, object);
  }

  async #subscribe(key: string, object: ObjectId): Promise<void> {
    if (this.#closed) return;
    const lifetime = this.#ctx.equipment.bacnet!.covLifetimeSeconds;
    let next = COV_RETRY_MS;
    try {
      await this.#client.confirmed({ pdu: 'confirmed', service: Confirmed.subscribeCov, processId: this.#processId, object, confirmedNotifications: true, lifetimeSeconds: lifetime });
      // Renew at half the lifetime, so a lost renewal still leaves time for another.
      next = (lifetime * 1000) / 2;
    } catch (err) {
      if (this.#closed) return;
      this.#log.warn({ object: key, code: asBacnetError(err).code, reason: asBacnetError(err).message }, 'COV subscription failed; polling continues and the subscription is tried again');
    }
    if (this.#closed) return;
    this.#covTimers.set(key, this.#ctx.clock.setTimeout(() => { void this.#subscribe(key, object); }, next).unref());
  }

  #onCov(n: CovNotification): void {
    if (this.#closed || n.processId !== this.#processId) return;
    const ts = this.#ctx.clock.now();
    const statusValue = n.values.find((v) => v.property === STATUS_FLAGS);
    const samples: Sample[] = [];
    for (const p of this.#covPoints) {
      const o = objectOf(p);
      if (o.type !== n.object.type || o.instance !== n.object.instance) continue;
      const v = n.values.find((x) => x.property === BACNET_PROPERTIES[p.property]);
      if (!v) continue;
      const status = statusValue && wantsStatus(p) ? { object: o, property: STATUS_FLAGS, values: statusValue.values } : undefined;
      const out = this.#judge(p, { object: o, property: v.property, values: v.values }, status);
      samples.push({ point: p.name, ts, value: out.value, quality: out.quality });
    }
    if (samples.length > 0) this.#ctx.onSamples(samples);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#covTimers.values()) this.#ctx.clock.clearTimeout(t);
    this.#covTimers.clear();
    this.#unlisten?.();
    if (this.#subscribed && !this.#client.closed) {
      // Clause 13.14.1.1.4: cancel our subscriptions so the device stops notifying (best effort).
      const objects = new Map(this.#covPoints.map((p) => [`${p.objectType}:${p.instance}`, objectOf(p)]));
      await Promise.all([...objects.values()].map((object) =>
        this.#client.confirmed({ pdu: 'confirmed', service: Confirmed.subscribeCov, processId: this.#processId, object, confirmedNotifications: false }).catch(() => undefined)));
    }
    await this.#client.close();
  }
}

function bad(error: ShellguardError): PointOutcome { return { value: null, quality: Quality.bad, error }; }

function asBacnetError(err: unknown): BacnetError {
  if (err instanceof BacnetError) return err;
  return new BacnetError('bacnet_response_invalid', `unexpected failure reading the device: ${(err as Error)?.message ?? String(err)}`);
}

/** The one application value a point's property holds, as a number or boolean for engineeringValue. */
function rawOf(p: BacnetPoint, values: AppValue[]): number | boolean | BacnetError {
  const v = values[0];
  if (values.length !== 1 || !v) return new BacnetError('bacnet_response_invalid', `${whereOf(p)}: expected one value, the device sent ${values.length}`);
  switch (v.tag) {
    case AppTag.real: case AppTag.double: case AppTag.unsigned: case AppTag.signed: case AppTag.enumerated:
      return v.value;
    case AppTag.boolean:
      return v.value;
    case AppTag.null:
      return new BacnetError('bacnet_response_invalid', `${whereOf(p)} is Null on the device (no value is commanded or measured)`);
    default:
      return new BacnetError('bacnet_response_invalid', `${whereOf(p)}: a value of application tag ${v.tag}, not a number, enumeration or boolean`);
  }
}

/** One failure per distinct cause and place, so a dead device gives one error, not one per point. */
function mergeFailures(errors: PollFailure[]): PollFailure[] {
  const byCause = new Map<string, PollFailure>();
  for (const e of errors) {
    const transport = e.error.code === 'bacnet_timeout' || e.error.code === 'bacnet_socket_failed' || e.error.code === 'bacnet_client_closed' || e.error.code === 'bacnet_registration_failed' || e.error.code === 'bacnet_registration_refused';
    const key = transport ? `${e.error.code}|${e.error.message}` : `${e.where}|${e.error.code}`;
    const seen = byCause.get(key);
    if (seen) seen.points.push(...e.points);
    else byCause.set(key, { ...e, points: [...e.points], where: transport ? 'device' : e.where });
  }
  return [...byCause.values()];
}

export const PRESENT_VALUE_ID = PRESENT_VALUE;
