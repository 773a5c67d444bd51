/**
 * The SNMP driver: GETs an asset's points through the read-only session (read-only-session.ts),
 * a batch of OIDs per request, and turns traps from its agent into samples.
 *
 * - v2c with the community from its file, or v3 at authPriv only (security.ts).
 * - `{index}` in a profile OID is the equipment's `snmp.index` (an interface, an outlet, a line).
 * - A varbind exception (noSuchObject, noSuchInstance, endOfMibView; RFC 3416 §4.2.1) makes only
 *   that point bad; a timeout makes every point of the read bad, and the session is reopened on
 *   the next read (so a v3 agent that restarted with new engine boots is rediscovered).
 * - Traps (trap-receiver.ts): a trap whose OID is a trap-fed point's `set` or `clear` becomes a
 *   sample of that point, and any trap from the agent triggers an immediate read whose samples go
 *   to `onSamples` too ("trap-directed polling", RFC 3411 §1.3's notification originator model).
 */
import { ProtocolError, Quality, engineeringValue, type Sample, type SnmpPoint, type SnmpProfile } from '@shellguard/protocol';
import { ConfigError } from '../../config/config.ts';
import { driverClosed, pointsOfSet, type DriverContext, type EquipmentDriver, type PointSet, type PollFailure, type PollResult, type SnmpTrapEvent } from '../driver.ts';
import { SnmpError } from './errors.ts';
import { ReadOnlySnmpSession, type ReadOnlySessionOptions, type SnmpVarbind } from './read-only-session.ts';
import { readSecretFile, usmUser } from './security.ts';
import { rawNumberOf } from './varbind-value.ts';

/** Varbinds per GetRequest: small enough for a 484-octet minimum message size agent to answer (RFC 3417 §3.2). */
export const DEFAULT_MAX_VARBINDS = 10;

export interface SnmpDriverOptions {
  maxVarbinds?: number;
  /** Opens the session (tests inject one pointed elsewhere); default ReadOnlySnmpSession.open. */
  openSession?: (options: ReadOnlySessionOptions) => ReadOnlySnmpSession;
}

interface PolledPoint { point: SnmpPoint; oid: string }

/** The profile's OID for this equipment: `{index}` replaced by snmp.index. */
export function resolveOid(oid: string, index: string | undefined, asset: string, point: string): string {
  if (!oid.includes('{index}')) return oid;
  if (index === undefined) {
    throw new ConfigError(`equipment ${asset}: point ${point} reads the table OID ${oid}; set snmp.index to the row (an interface or outlet number)`, { asset, field: 'snmp.index' });
  }
  return oid.replaceAll('{index}', index);
}

export class SnmpDriver implements EquipmentDriver {
  readonly protocol = 'snmp' as const;
  readonly #ctx: DriverContext<SnmpProfile>;
  readonly #sessionOptions: ReadOnlySessionOptions;
  readonly #open: (options: ReadOnlySessionOptions) => ReadOnlySnmpSession;
  readonly #maxVarbinds: number;
  readonly #sets: Record<PointSet, PolledPoint[]>;
  readonly #unregister: (() => void) | undefined;
  #session: ReadOnlySnmpSession | undefined;
  #closed = false;
  #trapRead: Promise<void> | undefined;
  #trapReadAgain = false;

  constructor(ctx: DriverContext<SnmpProfile>, options: SnmpDriverOptions = {}) {
    const e = ctx.equipment;
    const s = e.snmp;
    if (!s) throw new ConfigError(`equipment ${e.asset}: an snmp section is needed (version, communityFile or user)`, { asset: e.asset, field: 'snmp' });
    this.#ctx = ctx;
    this.#open = options.openSession ?? ReadOnlySnmpSession.open;
    this.#maxVarbinds = options.maxVarbinds ?? DEFAULT_MAX_VARBINDS;
    const polled = (set: PointSet): PolledPoint[] => pointsOfSet(ctx.profile.points, set).map((point) => ({ point, oid: resolveOid(point.oid!, s.index, e.asset, point.name) }));
    this.#sets = { all: polled('all'), fast: polled('fast') };
    this.#sessionOptions = {
      host: e.host, port: e.port, version: s.version, timeoutMs: e.timeoutMs, retries: s.retries,
      ...(s.version === '3' ? { user: usmUser(s.user!) } : { community: readSecretFile(s.communityFile!, `SNMP community of ${e.asset}`) }),
      onDecodeError: (err) => ctx.logger.debug({ asset: e.asset, err: err.message }, 'ignored an SNMP datagram that could not be decoded'),
    };
    this.#unregister = ctx.services.snmpTraps?.register({ asset: e.asset, host: e.host, port: e.port }, (trap) => this.#onTrap(trap));
  }

  read(set: PointSet): Promise<PollResult> {
    if (this.#closed) return Promise.reject(driverClosed(this.#ctx.equipment.asset));
    return this.#read(this.#sets[set]);
  }

  async #read(points: PolledPoint[]): Promise<PollResult> {
    const values = new Map<string, number | boolean>();
    const errors: PollFailure[] = [];
    let fatal: SnmpError | undefined;
    for (let i = 0; i < points.length; i += this.#maxVarbinds) {
      const batch = points.slice(i, i + this.#maxVarbinds);
      if (fatal) {
        errors.push({ where: whereOf(batch), points: batch.map((b) => b.point.name), error: fatal });
        continue;
      }
      try {
        await this.#readBatch(batch, values, errors);
      } catch (err) {
        const error = err instanceof SnmpError ? err : new SnmpError('snmp_response_invalid', (err as Error).message, {});
        errors.push({ where: whereOf(batch), points: batch.map((b) => b.point.name), error });
        if (error.code === 'snmp_timeout' || error.code === 'snmp_auth_failed' || error.code === 'snmp_socket_failed') {
          // The agent is gone or refuses us: the rest would wait as long again for the same answer.
          fatal = error;
          this.#dropSession();
        }
      }
    }
    const ts = this.#ctx.clock.now();
    const samples: Sample[] = points.map(({ point }) => {
      const v = values.get(point.name);
      return v === undefined ? { point: point.name, ts, value: null, quality: Quality.bad } : { point: point.name, ts, value: v, quality: Quality.good };
    });
    return { samples, errors };
  }

  async #readBatch(batch: PolledPoint[], values: Map<string, number | boolean>, errors: PollFailure[]): Promise<void> {
    let vbs: SnmpVarbind[];
    try {
      vbs = await this.#sessionNow().get(batch.map((b) => b.oid));
    } catch (err) {
      // RFC 3416 §4.2.1: tooBig means the response would not fit; ask for half as many at a time.
      if (err instanceof SnmpError && err.code === 'snmp_error_status' && /TooBig/i.test(err.message) && batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        await this.#readBatch(batch.slice(0, half), values, errors);
        await this.#readBatch(batch.slice(half), values, errors);
        return;
      }
      throw err;
    }
    batch.forEach(({ point, oid }, i) => {
      try {
        values.set(point.name, engineeringValue(point, rawNumberOf(vbs[i]!)));
      } catch (err) {
        const error = err instanceof SnmpError ? err
          : new SnmpError('snmp_value_invalid', `${oid}: ${(err as Error).message}`, { oid, ...(err instanceof ProtocolError ? { cause: err.code } : {}) });
        errors.push({ where: oid, points: [point.name], error });
      }
    });
  }

  #sessionNow(): ReadOnlySnmpSession {
    this.#session ??= this.#open(this.#sessionOptions);
    return this.#session;
  }

  #dropSession(): void {
    this.#session?.close();
    this.#session = undefined;
  }

  #onTrap(trap: SnmpTrapEvent): void {
    if (this.#closed) return;
    const pushed: Sample[] = [];
    for (const point of this.#ctx.profile.points) {
      if (!point.trap) continue;
      if (point.trap.set === trap.trapOid) pushed.push({ point: point.name, ts: trap.ts, value: true, quality: Quality.good });
      else if (point.trap.clear === trap.trapOid) pushed.push({ point: point.name, ts: trap.ts, value: false, quality: Quality.good });
    }
    if (pushed.length > 0) this.#ctx.onSamples(pushed);
    this.#trapDirectedRead();
  }

  /** One read at a time; traps that arrive during it cause one more read after it. */
  #trapDirectedRead(): void {
    if (this.#trapRead) { this.#trapReadAgain = true; return; }
    this.#trapRead = (async () => {
      do {
        this.#trapReadAgain = false;
        if (this.#closed) break;
        const result = await this.#read(this.#sets.all);
        if (this.#closed) break;
        this.#ctx.onSamples(result.samples);
        if (result.errors.length > 0) this.#ctx.logger.debug({ asset: this.#ctx.equipment.asset, errors: result.errors.map((x) => x.error.code) }, 'trap-directed read left points bad');
      } while (this.#trapReadAgain);
    })().catch((err: unknown) => this.#ctx.logger.warn({ asset: this.#ctx.equipment.asset, err: (err as Error).message }, 'trap-directed read failed'))
      .finally(() => { this.#trapRead = undefined; });
  }

  /** Settles when no trap-directed read is running (tests). */
  async idle(): Promise<void> {
    while (this.#trapRead) await this.#trapRead;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unregister?.();
    this.#dropSession();
    await this.#trapRead;
  }
}

function whereOf(batch: PolledPoint[]): string {
  return batch.length === 1 ? `GET ${batch[0]!.oid}` : `GET ${batch[0]!.oid} and ${batch.length - 1} more OIDs`;
}
