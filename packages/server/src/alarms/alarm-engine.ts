/**
 * The alarm engine: rules bound to assets' points, evaluated sample by sample, with the
 * ISA-18.2 / IEC 62682 state machine (see alarm-state.ts), shelving, suppression by design, out
 * of service, flood detection, persistence and notifications.
 *
 * Time: sample-driven conditions use the sample's timestamp; deadlines (on/off-delay, stale data,
 * shelving expiry, the flood window) are checked by `tick(now)`, which `start()` runs every
 * `tickIntervalMs` on the injected clock. Deadlines are persisted, so a new engine on the same
 * database resumes them.
 *
 * Hot path: `evaluate` is two Map lookups (site → asset → point) when no rule applies to the
 * point, and stays synchronous: the engine decides in memory and hands each change to an ordered
 * write queue (write-queue.ts), which commits the changes in the order they were made, retries
 * them through database outages and is drained by `stop()`. Only changes write, never a sample
 * that changes nothing. An operator's action returns once its change and its audit event have
 * committed together; webhooks are told of a change once it has committed.
 *
 * One engine per database for now: the alarms' state lives in this engine's memory, loaded by
 * `load()`. A second engine on the same PostgreSQL would neither see the first one's rules,
 * overrides, modes and operator actions (until it restarts) nor its alarms' transitions; both
 * would write the same alarms' records (the last write wins) and create the same new alarms (the
 * second insert of a key fails, and its write queue retries it forever). Ids are already safe to
 * share (reserved from the database); exactly-once evaluation across replicas is issue 12's
 * NATS part.
 */
import type { EquipmentProfile, Sample } from '@shellguard/protocol';
import { Quality, systemClock, type Clock, type TimerHandle } from '@shellguard/protocol';
import type { AuditEventInput } from '../audit/audit-log.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import {
  FLOOD_RULE_ID, type Alarm, type AlarmEvent, type AlarmEventKind, type AlarmFilter, type AssetMode,
} from './alarm.ts';
import { AlarmError } from './alarm-error.ts';
import { AlarmIdPool } from './alarm-id-pool.ts';
import {
  DEFAULT_MAX_SHELVE_MS, applyRuleOverride, checkRuleAgainstProfile, limitLevels, parseAlarmRule,
  type AlarmPriority, type AlarmRule, type LimitLevel, type RuleOverride,
} from './alarm-rule.ts';
import { isAcknowledged, nextAlarmState, stateOnReturn } from './alarm-state.ts';
import type { AlarmStore } from './alarm-store.ts';
import { AlarmWrite, type AlarmStores } from './alarm-write.ts';
import type { AlarmNotifier } from './webhook-notifier.ts';
import { OrderedWriteQueue, RefusedWriteError, type WriteFailure } from './write-queue.ts';

export type { AlarmStores } from './alarm-write.ts';

export interface FloodOptions {
  /** More than this many new annunciated alarms per site in the window raise the flood alarm (default 10). */
  threshold: number;
  /** Default 10 minutes (ISA-18.2 §16.5: "10 alarms per 10 minutes per operator"). */
  windowMs: number;
}

/** A write that failed: retried (`final` false) or dropped while stopping. */
export interface AlarmPersistFailure extends WriteFailure {
  what: 'alarm changes' | 'alarm id reservation';
}

export interface AlarmEngineOptions {
  /** Loads the engine's state at start, reads history, reserves alarm ids. */
  store: AlarmStore;
  /** Every change commits through it: an alarm's record with its history, an operator's action with its audit event. */
  unitOfWork: UnitOfWork<AlarmStores>;
  /** Time, and the periodic tick (default systemClock; its timers are unref'd). */
  clock?: Clock;
  /** Interval of the periodic tick started by `start()` (default 1 s). */
  tickIntervalMs?: number;
  /** Profile of an asset the engine has not been told about with `setAssetProfile` (e.g. the site registry). */
  assetProfile?: (site: string, asset: string) => string | undefined;
  /** Equipment profiles, to check that a rule's point exists and fits (unknown profiles are not checked). */
  profiles?: (id: string) => EquipmentProfile | undefined;
  notifier?: AlarmNotifier;
  /** Every recorded change of an alarm (annunciated or not), with a copy of it: the live event stream. */
  onAlarmChanged?: (alarm: Alarm) => void;
  /** A change could not be stored; it is retried in order until it commits, or dropped by `stop()` (`final`). */
  onPersistError?: (err: unknown, failure: AlarmPersistFailure) => void;
  flood?: Partial<FloodOptions>;
  /** Maximum shelving time of the flood alarm (rules carry their own). */
  defaultMaxShelveMs?: number;
  /** Alarm ids reserved from the store at a time (default 256). */
  idBlockSize?: number;
  /**
   * False for a standby replica (issue 12): it loads and shows the alarms as stored, but another
   * replica evaluates them, so operator actions and rule changes are refused here
   * (`alarm_standby`) until `setActive(true)`. Default true (one server).
   */
  active?: boolean;
}

export interface ShelveRequest {
  kind: 'one-shot' | 'timed';
  /** Required for timed shelving; at most the rule's maxShelveMs. One-shot shelving lasts at most that too. */
  durationMs?: number;
  comment?: string;
}

/** What the webhook receives for each annunciated change. */
export interface AlarmNotification extends Record<string, unknown> {
  type: 'alarm.changed';
  event: AlarmEvent;
  alarm: Alarm;
}

const SYSTEM = 'system';
/** Handled bus message ids kept (beyond the bus's own retention, so a redelivery is always recognised). */
const HANDLED_KEEP_MS = 14 * 86_400_000;
const HANDLED_CLEANUP_EVERY = 10_000;
const MAX_ROC_SAMPLES = 1024;
const MAX_COMMENT = 1000;
const MAX_HISTORY = 10_000;
const PRIORITY_RANK: Record<AlarmPriority, number> = { critical: 0, high: 1, medium: 2, low: 3 };

interface Runtime {
  alarm: Alarm;
  /** Effective rule (override applied); null for the flood alarm and retired alarms. */
  rule: AlarmRule | null;
  /** Condition as last evaluated, with hysteresis (deadband) applied. */
  raw: boolean;
  lastTs: number;
  /** Receive time of the last good sample (stale rules). */
  lastGoodAt: number;
  rocTs: number[];
  rocValues: number[];
}

type PointMap = Map<string, Runtime[]>;

function keyOf(site: string, asset: string, point: string, ruleId: string, level: LimitLevel | null): string {
  return `${site}/${asset}/${point}/${ruleId}${level ? `:${level}` : ''}`;
}

function isGood(sample: Sample): boolean {
  return sample.quality === Quality.good && sample.value !== null;
}

function checkActor(actor: string): string {
  if (typeof actor !== 'string' || actor.trim().length === 0 || actor.length > 200) {
    throw new AlarmError('actor_required', 'who acts must be named (actor: 1-200 characters)');
  }
  return actor;
}

function checkComment(comment: string | undefined): string {
  return typeof comment === 'string' ? comment.slice(0, MAX_COMMENT) : '';
}

export class AlarmEngine {
  private readonly store: AlarmStore;
  private readonly writes: OrderedWriteQueue<AlarmStores>;
  private readonly ids: AlarmIdPool;
  private readonly clock: Clock;
  private readonly now: () => number;
  private readonly tickIntervalMs: number;
  private readonly resolveProfile: (site: string, asset: string) => string | undefined;
  private readonly profiles: (id: string) => EquipmentProfile | undefined;
  private readonly notifier: AlarmNotifier | undefined;
  private readonly onAlarmChanged: ((alarm: Alarm) => void) | undefined;
  private readonly onPersistError: (err: unknown, failure: AlarmPersistFailure) => void;
  private readonly flood: FloodOptions;
  private readonly defaultMaxShelveMs: number;

  // The engine's state, loaded once by load() and kept here: the only writer of these tables is
  // this engine (see the file comment), so nothing else can make it stale.
  private readonly ruleDefs = new Map<string, AlarmRule>();
  /** site\0asset → ruleId → patch */
  private readonly overrides = new Map<string, Map<string, Record<string, unknown>>>();
  private readonly assetProfiles = new Map<string, string>();
  private readonly assetModes = new Map<string, AssetMode>();
  /** Owner (e.g. `workorder:7`) → `site\0asset\0point` keys it suppresses by design. */
  private readonly designSuppressions = new Map<string, Set<string>>();
  private readonly byId = new Map<number, Runtime>();
  private readonly byKey = new Map<string, Runtime>();
  /** site → asset → point → runtimes: the hot-path index. */
  private readonly bindings = new Map<string, Map<string, PointMap>>();
  /** site\0asset of assets bound without some of their alarms: no id was left to create them. */
  private readonly waitingForIds = new Set<string>();
  private readonly floodTimes = new Map<string, number[]>();
  /** Sites with new annunciations whose flood count is checked once their change is queued. */
  private readonly floodChecks = new Set<string>();
  private tickTimer: TimerHandle | undefined;
  private loading: Promise<void> | undefined;
  /** Loaded and not stopped: evaluating, ticking and taking operators' actions. */
  private live = false;
  private active: boolean;
  /** While a bus message is evaluated: every change it makes, committed once with its marker. */
  private capture: AlarmWrite | undefined;
  private handledSinceCleanup = 0;
  private running = false;
  private stopped = false;

  constructor(opts: AlarmEngineOptions) {
    this.active = opts.active ?? true;
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.now = () => this.clock.now();
    this.tickIntervalMs = opts.tickIntervalMs ?? 1_000;
    this.resolveProfile = opts.assetProfile ?? (() => undefined);
    this.profiles = opts.profiles ?? (() => undefined);
    this.notifier = opts.notifier;
    this.onAlarmChanged = opts.onAlarmChanged;
    this.onPersistError = opts.onPersistError ?? (() => {});
    this.flood = { threshold: opts.flood?.threshold ?? 10, windowMs: opts.flood?.windowMs ?? 600_000 };
    this.defaultMaxShelveMs = opts.defaultMaxShelveMs ?? DEFAULT_MAX_SHELVE_MS;
    this.writes = new OrderedWriteQueue({
      unitOfWork: opts.unitOfWork, clock: this.clock,
      onError: (err, failure) => this.onPersistError(err, { ...failure, what: 'alarm changes' }),
    });
    this.ids = new AlarmIdPool({
      reserve: (count) => this.store.reserveAlarmIds(count),
      ...(opts.idBlockSize !== undefined ? { blockSize: opts.idBlockSize } : {}),
      onReserved: () => this.bindWaiting(),
      onError: (err, attempt) => this.onPersistError(err, { what: 'alarm id reservation', attempt, pending: this.waitingForIds.size, final: false }),
    });
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Loads rules, overrides, assets and alarms from the store and binds the known assets (once;
   * later calls wait for the first). Until it has resolved the engine evaluates nothing.
   */
  load(): Promise<void> {
    this.loading ??= this.restore().catch((err: unknown) => {
      this.loading = undefined;
      throw err;
    });
    return this.loading;
  }

  /** Loads (if not yet done), then (when active) runs `tick(now())` every `tickIntervalMs` until `stop()`. */
  async start(): Promise<void> {
    await this.load();
    if (this.running || this.stopped || !this.active) return;
    this.running = true;
    const loop = (): void => {
      if (!this.running) return;
      this.tick();
      this.tickTimer = this.clock.setTimeout(loop, this.tickIntervalMs).unref();
    };
    this.tickTimer = this.clock.setTimeout(loop, this.tickIntervalMs).unref();
  }

  /**
   * Stops ticking and evaluating, and resolves once every change made before has been stored
   * (or, if the database fails now, dropped and reported as `final`).
   */
  async stop(): Promise<void> {
    this.running = false;
    this.live = false;
    this.stopped = true;
    this.clock.clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
    await this.ids.idle();
    await this.writes.close();
  }

  /** Resolves once every change made so far has been stored (or dropped by `stop()`). */
  settled(): Promise<void> {
    return this.writes.settled();
  }

  /** Changes waiting to be stored (they pile up while the database is unreachable). */
  get pendingWrites(): number {
    return this.writes.pending;
  }

  private async restore(replace = false): Promise<void> {
    const now = this.now();
    const rules = await this.store.loadRules();
    const overrides = await this.store.loadOverrides();
    const alarms = await this.store.loadAlarms();
    const assets = await this.store.loadAssets();
    const annunciations = await this.store.annunciationsSince(now - this.flood.windowMs);
    // A reload keeps the ids it holds (a standby reloads every few seconds).
    if (!replace || this.ids.available === 0) await this.ids.fill();
    if (replace) {
      // What another replica stored replaces what this one knew (design suppressions are this
      // replica's panels' and stay).
      for (const m of [this.ruleDefs, this.overrides, this.assetProfiles, this.assetModes, this.byId, this.byKey, this.bindings, this.floodTimes]) m.clear();
      this.waitingForIds.clear();
      this.floodChecks.clear();
    }
    for (const rule of rules) this.ruleDefs.set(rule.id, rule);
    for (const o of overrides) this.overridesOf(o.site, o.asset, true)!.set(o.ruleId, o.patch);
    for (const alarm of alarms) {
      const rt: Runtime = {
        alarm, rule: null, raw: alarm.pending ? alarm.pending.to === 'active' : alarm.active,
        lastTs: -Infinity, lastGoodAt: now, rocTs: [], rocValues: [],
      };
      this.byId.set(alarm.id, rt);
      this.byKey.set(alarm.key, rt);
    }
    for (const a of assets) {
      const k = `${a.site}\0${a.asset}`;
      if (a.profile) this.assetProfiles.set(k, a.profile);
      if (a.mode === 'maintenance') this.assetModes.set(k, a.mode);
    }
    for (const k of this.assetProfiles.keys()) {
      const [site, asset] = k.split('\0') as [string, string];
      this.bind(site, asset);
    }
    // A new database, or new rules since the last start, may need more ids than one block.
    while (this.waitingForIds.size > 0) await this.ids.fill();
    for (const rt of this.byId.values()) if (rt.alarm.kind === 'flood') this.floodWindow(rt.alarm.site);
    for (const { site, at } of annunciations) this.floodWindow(site).push(at);
    this.live = !this.stopped;
  }

  private requireLoaded(): void {
    if (this.stopped) throw new Error('the alarm engine has stopped');
    if (!this.live) throw new Error('the alarm engine is not loaded yet: await start() or load() first');
    if (!this.active) {
      throw new AlarmError('alarm_standby', 'this server replica is a standby: alarms are evaluated and operated on the active replica; send the request there (its /api/v1/health shows replica.role active)');
    }
  }

  // ---------------------------------------------------------------- replicas (issue 12)

  /** False on a standby replica (see AlarmEngineOptions.active). */
  get isActive(): boolean {
    return this.active;
  }

  /**
   * Reads everything again from the store, replacing what this engine held: a standby refreshes
   * what it shows, and a replica about to become active takes over what the last active one stored.
   * Waits for this engine's own writes first.
   */
  async reload(): Promise<void> {
    if (this.stopped) return;
    await this.writes.settled();
    if (!this.loading) {
      await this.load();
      return;
    }
    await this.loading;
    await this.restore(true);
  }

  /**
   * Makes this replica the one that evaluates and is operated on (true), or a standby (false: no
   * tick, no evaluation, actions refused). Becoming active does not reload: call `reload()` first.
   */
  setActive(active: boolean): void {
    this.active = active;
    if (!active) {
      this.running = false;
      this.clock.clearTimeout(this.tickTimer);
      this.tickTimer = undefined;
    }
  }

  /**
   * Evaluates one bus message once (issue 12): `evaluate` runs synchronously (calls `evaluate` /
   * `evaluateScore`), and every change it makes commits in one transaction together with the
   * message's id. A message whose id was recorded before is not evaluated again (false): a
   * redelivery after a replica died between commit and acknowledgement changes nothing.
   * `maybeSeen: false` skips looking the id up first (the caller knows it is new); a repeat is
   * then still refused at commit, at the cost of a reload. Resolves once the changes are stored.
   */
  async evaluateOnce(messageId: string, evaluate: () => void, options: { maybeSeen?: boolean } = {}): Promise<boolean> {
    this.requireLoaded();
    // A message that cannot have been seen (first delivery, stored after this replica took over)
    // skips the lookup; if it was seen after all, its id is refused at commit (below).
    if ((options.maybeSeen ?? true) && await this.store.wasHandled(messageId)) return false;
    if (!this.live || !this.active) throw new AlarmError('alarm_standby', 'this replica stopped being the active one while a message waited; it is redelivered to the active one');
    const w = new AlarmWrite();
    this.capture = w;
    try {
      evaluate();
    } finally {
      this.capture = undefined;
    }
    const at = this.now();
    // Another replica that evaluated at the same moment may have named a new alarm first: its
    // key is then taken, and this message's changes are refused as a whole, like its id below.
    w.refuseConflicts(`bus message ${messageId}: another replica created one of its alarms first; this one's changes are not stored`);
    w.also(async (stores) => {
      // The id and the changes commit together; if another replica stored this message's effects
      // meanwhile (two leaders for a moment), none of ours is stored.
      if (!(await stores.alarms.markHandled(messageId, at))) {
        throw new RefusedWriteError(`bus message ${messageId} was evaluated by another replica: this one's changes are not stored`);
      }
    });
    if (++this.handledSinceCleanup >= HANDLED_CLEANUP_EVERY) {
      this.handledSinceCleanup = 0;
      w.also((stores) => stores.alarms.forgetHandledBefore(at - HANDLED_KEEP_MS));
    }
    try {
      await this.commit(w);
    } catch (err) {
      if (err instanceof RefusedWriteError) {
        // What this engine holds now went beyond what is stored: read it again.
        await this.reload();
        return false;
      }
      throw err;
    }
    return true;
  }

  // ---------------------------------------------------------------- rules

  /**
   * Defines (or redefines) a rule for a profile's point. Validates it (AlarmError `rule_invalid`
   * naming the field) and, when the profile is known, checks the point exists and fits.
   * Resolves once the rule and its audit event are stored.
   */
  async defineRule(input: unknown, actor: string): Promise<AlarmRule> {
    this.requireLoaded();
    checkActor(actor);
    const rule = parseAlarmRule(input);
    const profile = this.profiles(rule.profile);
    if (profile) checkRuleAgainstProfile(rule, profile);
    const existing = this.ruleDefs.get(rule.id);
    if (existing && (existing.profile !== rule.profile || existing.point !== rule.point || existing.kind !== rule.kind)) {
      throw new AlarmError('rule_invalid',
        `rule: id: ${rule.id} already is a ${existing.kind} rule on ${existing.profile}/${existing.point}; give the new rule its own id`,
        { path: 'id' });
    }
    // Every asset's override must still make a valid rule with the new definition.
    for (const [assetKey, patches] of this.overrides) {
      const patch = patches.get(rule.id);
      if (patch) applyRuleOverride(rule, patch, `override of ${assetKey.replace('\0', '/')}`);
    }
    const at = this.now();
    this.ruleDefs.set(rule.id, rule);
    const stored = this.commit(new AlarmWrite()
      .also((s) => s.alarms.saveRule(rule, at))
      .audit({ actor, action: 'alarm.rule.define', target: `alarm-rule:${rule.id}`, detail: { rule } }));
    this.rebindProfile(rule.profile);
    await stored;
    return rule;
  }

  /**
   * Overrides a rule's parameters for one asset (replacing any earlier override of that rule
   * there). `patch` holds only parameters, e.g. `{ h: 27, onDelayMs: 30000 }` or `{ enabled: false }`;
   * `null` removes a limit level. Resolves with the effective rule for that asset once stored.
   */
  async overrideRule(site: string, asset: string, ruleId: string, patch: unknown, actor: string): Promise<AlarmRule> {
    this.requireLoaded();
    checkActor(actor);
    const base = this.requireRule(ruleId);
    const effective = applyRuleOverride(base, patch);
    const o: RuleOverride = { site, asset, ruleId, patch: patch as Record<string, unknown> };
    const at = this.now();
    this.overridesOf(site, asset, true)!.set(ruleId, o.patch);
    const stored = this.commit(new AlarmWrite()
      .also((s) => s.alarms.saveOverride(o, at))
      .audit({ actor, action: 'alarm.rule.override', target: `alarm-rule:${ruleId}`, detail: { site, asset, patch: o.patch } }));
    this.bind(site, asset);
    await stored;
    return effective;
  }

  /** Removes an asset's override; the profile's rule applies again. Resolves false if there was none. */
  async removeOverride(site: string, asset: string, ruleId: string, actor: string): Promise<boolean> {
    this.requireLoaded();
    checkActor(actor);
    const patches = this.overridesOf(site, asset, false);
    if (!patches?.has(ruleId)) return false;
    patches.delete(ruleId);
    const stored = this.commit(new AlarmWrite()
      .also((s) => s.alarms.deleteOverride(site, asset, ruleId))
      .audit({ actor, action: 'alarm.rule.override_removed', target: `alarm-rule:${ruleId}`, detail: { site, asset } }));
    this.bind(site, asset);
    await stored;
    return true;
  }

  /** Rule definitions, optionally of one profile, sorted by id. */
  rules(filter: { profile?: string } = {}): AlarmRule[] {
    return [...this.ruleDefs.values()].filter((r) => !filter.profile || r.profile === filter.profile)
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Per-asset overrides, optionally of one site or asset. */
  ruleOverrides(filter: { site?: string; asset?: string } = {}): RuleOverride[] {
    const out: RuleOverride[] = [];
    for (const [k, patches] of this.overrides) {
      const [site, asset] = k.split('\0') as [string, string];
      if ((filter.site && filter.site !== site) || (filter.asset && filter.asset !== asset)) continue;
      for (const [ruleId, patch] of patches) out.push({ site, asset, ruleId, patch });
    }
    return out;
  }

  /** The rules that apply to an asset, overrides applied, disabled ones left out. */
  effectiveRules(site: string, asset: string): AlarmRule[] {
    const profile = this.profileOf(site, asset);
    if (!profile) return [];
    const patches = this.overridesOf(site, asset, false);
    const out: AlarmRule[] = [];
    for (const rule of this.ruleDefs.values()) {
      if (rule.profile !== profile) continue;
      const patch = patches?.get(rule.id);
      const eff = patch ? applyRuleOverride(rule, patch) : rule;
      if (eff.enabled) out.push(eff);
    }
    return out;
  }

  // ---------------------------------------------------------------- inputs

  /** Tells the engine an asset's equipment profile (from its birth); rebinds its rules if it changed. */
  setAssetProfile(site: string, asset: string, profile: string): void {
    if (!this.live) return;
    const k = `${site}\0${asset}`;
    if (this.assetProfiles.get(k) === profile && this.bindings.get(site)?.has(asset)) return;
    this.assetProfiles.set(k, profile);
    void this.commit(new AlarmWrite().also((s) => s.alarms.saveAssetProfile(site, asset, profile)));
    this.bind(site, asset);
  }

  /** Evaluates one sample of one point. Cheap when no rule applies to the point. */
  evaluate(site: string, asset: string, point: string, sample: Sample): void {
    if (!this.live || !this.active) return;
    const runtimes = (this.bindings.get(site)?.get(asset) ?? this.bind(site, asset)).get(point);
    if (runtimes === undefined) return;
    // A sample stamped ahead of the server's clock counts as "now": it must never hold back the
    // samples that follow it (ingest refuses far-future times; this holds for the rest).
    const at = Math.min(sample.ts, this.now());
    for (const rt of runtimes) {
      const rule = rt.rule!;
      if (rule.kind === 'anomaly' || at < rt.lastTs) continue;
      rt.lastTs = at;
      const good = isGood(sample);
      if (good) rt.alarm.value = sample.value;
      switch (rule.kind) {
        case 'stale':
          if (good) {
            rt.lastGoodAt = Math.max(rt.lastGoodAt, this.now());
            this.applyCondition(rt, false, at);
          }
          break;
        case 'limit': {
          if (!good || typeof sample.value !== 'number') break;
          const limit = rule[rt.alarm.level!]!;
          const high = rt.alarm.level === 'hh' || rt.alarm.level === 'h';
          const v = sample.value;
          const raw = high ? (rt.raw ? v >= limit - rule.deadband : v >= limit) : (rt.raw ? v <= limit + rule.deadband : v <= limit);
          this.applyCondition(rt, raw, at);
          break;
        }
        case 'rate-of-change': {
          if (!good || typeof sample.value !== 'number') break;
          const rate = this.rateOfChange(rt, rule.windowMs, at, sample.value);
          const m = rule.direction === 'rising' ? rate : rule.direction === 'falling' ? -rate : Math.abs(rate);
          const raw = rt.raw ? m >= rule.ratePerMinute - rule.deadband : m >= rule.ratePerMinute;
          this.applyCondition(rt, raw, at);
          break;
        }
        case 'binary': {
          if (!good) break;
          const on = sample.value === true || (typeof sample.value === 'number' && sample.value !== 0);
          this.applyCondition(rt, on === rule.alarmWhen, at);
          break;
        }
      }
    }
  }

  /** Evaluates a detector's anomaly score in [0, 1] for a point (anomaly rules only). */
  evaluateScore(site: string, asset: string, point: string, ts: number, score: number): void {
    if (!this.live || !this.active) return;
    const runtimes = (this.bindings.get(site)?.get(asset) ?? this.bind(site, asset)).get(point);
    if (runtimes === undefined || !Number.isFinite(score)) return;
    for (const rt of runtimes) {
      const rule = rt.rule!;
      if (rule.kind !== 'anomaly' || ts < rt.lastTs) continue;
      rt.lastTs = Math.min(ts, this.now());
      rt.alarm.value = score;
      const raw = rt.raw ? score >= rule.threshold - rule.deadband : score >= rule.threshold;
      this.applyCondition(rt, raw, ts);
    }
  }

  /**
   * Advances time: stale data, on/off-delays that ran out, shelving that expired, the flood window.
   * `start()` calls it periodically; tests call it with fake time.
   */
  tick(now: number = this.now()): void {
    if (!this.live || !this.active) return;
    for (const rt of this.byId.values()) {
      const a = rt.alarm;
      if (a.retired) continue;
      if (rt.rule?.kind === 'stale') {
        if (now - rt.lastGoodAt >= rt.rule.timeoutMs) this.applyCondition(rt, true, now);
      }
      if (a.pending && a.pending.deadline <= now) this.transition(rt, a.pending.to === 'active', now);
      if (a.shelved && a.shelved.until <= now) {
        const w = new AlarmWrite();
        this.leaveShelving(rt, SYSTEM, `${a.shelved.kind} shelving expired`, now, w);
        void this.commit(w);
      }
    }
    for (const site of this.floodTimes.keys()) this.evaluateFlood(site, now);
    // A reservation that failed is asked for again here, not in a tight loop.
    if (this.waitingForIds.size > 0) this.ids.refill();
  }

  /**
   * Suppression by design (ISA-18.2 state "suppressed by design"): while an asset is in
   * maintenance its alarms keep tracking their condition but do not annunciate. Resolves once the
   * mode, the alarms' changes and the audit event are stored.
   */
  async setAssetMode(site: string, asset: string, mode: AssetMode, actor: string = SYSTEM, comment = ''): Promise<void> {
    this.requireLoaded();
    checkActor(actor);
    if (mode !== 'normal' && mode !== 'maintenance') {
      throw new AlarmError('asset_mode_invalid', `asset mode must be normal or maintenance (got ${JSON.stringify(mode)})`);
    }
    const k = `${site}\0${asset}`;
    const before = this.assetModes.get(k) ?? 'normal';
    if (before === mode) return;
    const note = checkComment(comment);
    const now = this.now();
    const w = new AlarmWrite().also((s) => s.alarms.saveAssetMode(site, asset, mode));
    if (mode === 'maintenance') this.assetModes.set(k, mode);
    else this.assetModes.delete(k);
    for (const rt of this.byId.values()) {
      const a = rt.alarm;
      if (a.site !== site || a.asset !== asset || a.retired) continue;
      const suppressed = this.isSuppressed(a.site, a.asset, a.point);
      if (suppressed === a.suppressed) continue;
      a.suppressed = suppressed;
      this.record(rt, suppressed ? 'suppress' : 'unsuppress', actor, note, now, {}, w);
    }
    w.audit({
      actor, action: mode === 'maintenance' ? 'alarm.suppress' : 'alarm.unsuppress', target: `asset:${site}/${asset}`,
      detail: { site, asset, mode, comment: note },
    });
    await this.commit(w);
  }

  /**
   * Suppression by design of exactly these points (a released work order's expected changes: the
   * breaker it operates, the feed current it drops): their alarms keep tracking but do not
   * annunciate while `owner` holds them. Another point of the same asset still annunciates.
   * Replaces what `owner` suppressed before; an empty list lifts it. Held in memory: the owner
   * re-applies it at start. Applies at once; the returned promise resolves once it is stored.
   */
  setDesignSuppression(owner: string, points: readonly { site: string; asset: string; point: string }[], actor: string = SYSTEM): Promise<void> {
    this.requireLoaded();
    checkActor(actor);
    const before = this.designSuppressions.get(owner) ?? new Set<string>();
    const after = new Set(points.map((p) => `${p.site}\0${p.asset}\0${p.point}`));
    if (after.size === before.size && [...after].every((k) => before.has(k))) return Promise.resolve();
    if (after.size > 0) this.designSuppressions.set(owner, after);
    else this.designSuppressions.delete(owner);
    const touched = new Set([...before, ...after]);
    const now = this.now();
    const w = new AlarmWrite();
    for (const rt of this.byId.values()) {
      const a = rt.alarm;
      if (a.retired || !touched.has(`${a.site}\0${a.asset}\0${a.point}`)) continue;
      const suppressed = this.isSuppressed(a.site, a.asset, a.point);
      if (suppressed === a.suppressed) continue;
      a.suppressed = suppressed;
      this.record(rt, suppressed ? 'suppress' : 'unsuppress', actor, `suppressed by design for ${owner}`, now, {}, w);
    }
    w.audit({
      actor, action: after.size > 0 ? 'alarm.suppress.design' : 'alarm.unsuppress.design', target: owner,
      detail: { points: points.map((p) => `${p.site}/${p.asset}/${p.point}`) },
    });
    return this.commit(w);
  }

  /** Suppressed by design: the asset is in maintenance, or a work order expects the point to change. */
  isSuppressed(site: string, asset: string, point: string): boolean {
    if (this.assetMode(site, asset) === 'maintenance') return true;
    const k = `${site}\0${asset}\0${point}`;
    for (const keys of this.designSuppressions.values()) if (keys.has(k)) return true;
    return false;
  }

  assetMode(site: string, asset: string): AssetMode {
    return this.assetModes.get(`${site}\0${asset}`) ?? 'normal';
  }

  // ---------------------------------------------------------------- operator actions
  // Each takes effect at once (the next sample is evaluated against it) and resolves with the
  // alarm as the action left it once the change, its history entry and its audit event are stored.

  /** Acknowledges an unacknowledged alarm (unack-active → ack-active, unack-rtn → normal). */
  async acknowledge(alarmId: number, actor: string, comment = ''): Promise<Alarm> {
    this.requireLoaded();
    checkActor(actor);
    const rt = this.require(alarmId);
    const a = rt.alarm;
    a.state = nextAlarmState(a.state, 'acknowledge');
    a.acknowledged = true;
    const note = checkComment(comment);
    const w = new AlarmWrite();
    this.record(rt, 'acknowledge', actor, note, this.now(), {}, w);
    w.audit(this.actionAudit(rt, actor, 'alarm.acknowledge', note));
    return this.commitAction(rt, w);
  }

  /**
   * Shelves an alarm (ISA-18.2 §10.5.2; OPC UA Part 9 TimedShelve / OneShotShelve): it stops
   * annunciating until unshelved, until `durationMs` (timed) or until it clears (one-shot), and in
   * no case longer than the rule's maxShelveMs (`shelve_too_long` otherwise).
   */
  async shelve(alarmId: number, actor: string, request: ShelveRequest): Promise<Alarm> {
    this.requireLoaded();
    checkActor(actor);
    const rt = this.require(alarmId);
    const a = rt.alarm;
    if (a.shelved) throw new AlarmError('alarm_already_shelved', `alarm ${alarmId} is already shelved until ${new Date(a.shelved.until).toISOString()}`, { alarmId });
    const max = rt.rule?.maxShelveMs ?? this.defaultMaxShelveMs;
    const d = request.durationMs;
    if (request.kind !== 'timed' && request.kind !== 'one-shot') {
      throw new AlarmError('shelve_duration_invalid', 'shelving kind must be one-shot or timed');
    }
    if (d !== undefined && (typeof d !== 'number' || !Number.isFinite(d) || d <= 0)) {
      throw new AlarmError('shelve_duration_invalid', 'durationMs must be a positive number of milliseconds', { durationMs: d });
    }
    if (request.kind === 'timed' && d === undefined) {
      throw new AlarmError('shelve_duration_invalid', 'timed shelving needs durationMs', {});
    }
    if (d !== undefined && d > max) {
      throw new AlarmError('shelve_too_long', `alarms of this rule may be shelved for at most ${max} ms (asked ${d} ms)`, { maxShelveMs: max, durationMs: d });
    }
    if (request.kind === 'one-shot' && !a.active) {
      throw new AlarmError('alarm_not_active', `one-shot shelving holds an active alarm until it clears; alarm ${alarmId} is not active`, { alarmId });
    }
    const now = this.now();
    const note = checkComment(request.comment);
    a.shelved = { kind: request.kind, by: actor, at: now, until: now + (d ?? max), comment: note };
    const w = new AlarmWrite();
    this.record(rt, 'shelve', actor, note, now, { kind: request.kind, until: a.shelved.until }, w);
    w.audit(this.actionAudit(rt, actor, 'alarm.shelve', note, { kind: request.kind, until: a.shelved.until }));
    return this.commitAction(rt, w);
  }

  async unshelve(alarmId: number, actor: string, comment = ''): Promise<Alarm> {
    this.requireLoaded();
    checkActor(actor);
    const rt = this.require(alarmId);
    if (!rt.alarm.shelved) throw new AlarmError('alarm_not_shelved', `alarm ${alarmId} is not shelved`, { alarmId });
    const note = checkComment(comment);
    const w = new AlarmWrite();
    this.leaveShelving(rt, actor, note, this.now(), w);
    return this.commitAction(rt, w);
  }

  /** Removes an alarm from service (ISA-18.2 "out of service"), e.g. a broken transmitter awaiting repair. */
  async removeFromService(alarmId: number, actor: string, comment = ''): Promise<Alarm> {
    this.requireLoaded();
    checkActor(actor);
    const rt = this.require(alarmId);
    if (rt.alarm.outOfService) throw new AlarmError('alarm_already_out_of_service', `alarm ${alarmId} is already out of service`, { alarmId });
    const now = this.now();
    const note = checkComment(comment);
    rt.alarm.outOfService = { by: actor, at: now, comment: note };
    const w = new AlarmWrite();
    this.record(rt, 'remove-from-service', actor, note, now, {}, w);
    w.audit(this.actionAudit(rt, actor, 'alarm.remove_from_service', note));
    return this.commitAction(rt, w);
  }

  async returnToService(alarmId: number, actor: string, comment = ''): Promise<Alarm> {
    this.requireLoaded();
    checkActor(actor);
    const rt = this.require(alarmId);
    if (!rt.alarm.outOfService) throw new AlarmError('alarm_not_out_of_service', `alarm ${alarmId} is in service`, { alarmId });
    const note = checkComment(comment);
    rt.alarm.outOfService = null;
    const w = new AlarmWrite();
    this.record(rt, 'return-to-service', actor, note, this.now(), {}, w);
    w.audit(this.actionAudit(rt, actor, 'alarm.return_to_service', note));
    return this.commitAction(rt, w);
  }

  // ---------------------------------------------------------------- reads

  get(alarmId: number): Alarm | undefined {
    const rt = this.byId.get(alarmId);
    return rt ? { ...rt.alarm } : undefined;
  }

  /** Alarms by priority (critical first), then most recently changed first. */
  list(filter: AlarmFilter = {}): Alarm[] {
    const out: Alarm[] = [];
    for (const { alarm: a } of this.byId.values()) {
      if (a.retired && !filter.includeRetired) continue;
      if (filter.site !== undefined && a.site !== filter.site) continue;
      if (filter.asset !== undefined && a.asset !== filter.asset) continue;
      if (filter.priority !== undefined && a.priority !== filter.priority) continue;
      if (filter.state !== undefined) {
        const s = filter.state;
        const ok = s === 'shelved' ? a.shelved !== null : s === 'suppressed' ? a.suppressed
          : s === 'out-of-service' ? a.outOfService !== null : a.state === s;
        if (!ok) continue;
      }
      out.push({ ...a });
    }
    return out.sort((x, y) => PRIORITY_RANK[x.priority] - PRIORITY_RANK[y.priority] || y.changedAt - x.changedAt || x.id - y.id);
  }

  /** The alarm's history, oldest first, including every change made before the call. */
  async history(alarmId: number, limit = MAX_HISTORY): Promise<AlarmEvent[]> {
    this.require(alarmId);
    await this.writes.settled();
    return this.store.history(alarmId, Math.max(1, Math.min(MAX_HISTORY, Math.trunc(limit))));
  }

  /** Finds the alarm of a rule on a point (limit rules: one alarm per level). */
  find(site: string, asset: string, point: string, ruleId: string, level: LimitLevel | null = null): Alarm | undefined {
    const rt = this.byKey.get(keyOf(site, asset, point, ruleId, level));
    return rt ? { ...rt.alarm } : undefined;
  }

  /** The flood summary alarm of a site, once it has ever been raised. */
  floodAlarm(site: string): Alarm | undefined {
    const rt = this.byKey.get(`${site}/${FLOOD_RULE_ID}`);
    return rt ? { ...rt.alarm } : undefined;
  }

  // ---------------------------------------------------------------- internals: binding

  private overridesOf(site: string, asset: string, create: boolean): Map<string, Record<string, unknown>> | undefined {
    const k = `${site}\0${asset}`;
    let m = this.overrides.get(k);
    if (!m && create) this.overrides.set(k, (m = new Map()));
    return m;
  }

  /** The asset's profile: as told by setAssetProfile, else from the resolver (remembered). */
  private profileOf(site: string, asset: string): string | undefined {
    const k = `${site}\0${asset}`;
    const known = this.assetProfiles.get(k);
    if (known !== undefined) return known;
    const resolved = this.resolveProfile(site, asset);
    if (resolved !== undefined) {
      this.assetProfiles.set(k, resolved);
      void this.commit(new AlarmWrite().also((s) => s.alarms.saveAssetProfile(site, asset, resolved)));
    }
    return resolved;
  }

  private requireRule(ruleId: string): AlarmRule {
    const rule = this.ruleDefs.get(ruleId);
    if (!rule) throw new AlarmError('rule_not_found', `no alarm rule ${ruleId}`, { ruleId });
    return rule;
  }

  private require(alarmId: number): Runtime {
    const rt = this.byId.get(alarmId);
    if (!rt) throw new AlarmError('alarm_not_found', `no alarm ${alarmId}`, { alarmId });
    return rt;
  }

  private rebindProfile(profile: string): void {
    for (const [k, p] of this.assetProfiles) {
      if (p !== profile) continue;
      const [site, asset] = k.split('\0') as [string, string];
      this.bind(site, asset);
    }
  }

  /** Binds the assets that waited for alarm ids (a block has arrived). */
  private bindWaiting(): void {
    if (this.stopped) return;
    const waiting = [...this.waitingForIds];
    this.waitingForIds.clear();
    for (const k of waiting) {
      const [site, asset] = k.split('\0') as [string, string];
      this.bind(site, asset);
    }
  }

  /**
   * (Re)builds an asset's point index from its effective rules, keeping existing alarms' state.
   * An alarm that has no id yet (none left in the pool) is left out, and the asset bound again
   * once ids have arrived.
   */
  private bind(site: string, asset: string): PointMap {
    const points: PointMap = new Map();
    const bound = new Set<Runtime>();
    const now = this.now();
    const w = new AlarmWrite();
    for (const rule of this.effectiveRules(site, asset)) {
      const levels: (LimitLevel | null)[] = rule.kind === 'limit' ? limitLevels(rule) : [null];
      for (const level of levels) {
        const rt = this.runtimeFor(site, asset, rule, level, now, w);
        if (!rt) {
          if (this.active) this.waitingForIds.add(`${site}\0${asset}`);
          continue;
        }
        bound.add(rt);
        let list = points.get(rule.point);
        if (!list) points.set(rule.point, (list = []));
        list.push(rt);
      }
    }
    // Alarms of this asset whose rule no longer applies are retired (cleared, kept for their history).
    for (const rt of this.byId.values()) {
      const a = rt.alarm;
      if (a.site !== site || a.asset !== asset || a.kind === 'flood' || a.retired || bound.has(rt)) continue;
      rt.rule = null;
      a.retired = true;
      a.active = false;
      a.acknowledged = true;
      a.state = 'normal';
      a.pending = null;
      a.activeSince = null;
      this.record(rt, 'retire', SYSTEM, 'the rule no longer applies to this point', now, {}, w);
    }
    if (!w.isEmpty) void this.commit(w);
    let assets = this.bindings.get(site);
    if (!assets) this.bindings.set(site, (assets = new Map()));
    assets.set(asset, points);
    return points;
  }

  private runtimeFor(site: string, asset: string, rule: AlarmRule, level: LimitLevel | null, now: number, w: AlarmWrite): Runtime | undefined {
    const key = keyOf(site, asset, rule.point, rule.id, level);
    const priority = (level && rule.kind === 'limit' ? rule.levelPriority[level] : undefined) ?? rule.priority;
    let rt = this.byKey.get(key);
    if (rt) {
      const a = rt.alarm;
      const wasRetired = a.retired;
      rt.rule = rule;
      if (a.priority !== priority || a.description !== rule.description || wasRetired) {
        a.priority = priority;
        a.description = rule.description;
        a.retired = false;
        a.annunciated = !a.shelved && !a.suppressed && !a.outOfService;
        w.save(a);
      }
      return rt;
    }
    // A standby names no new alarm: the active replica creates it, and a reload shows it here.
    if (!this.active) return undefined;
    const id = this.ids.take();
    if (id === undefined) return undefined;
    const suppressed = this.isSuppressed(site, asset, rule.point);
    const alarm: Alarm = {
      id, key, ruleId: rule.id, kind: rule.kind, level, site, asset, point: rule.point, priority, description: rule.description,
      state: 'normal', active: false, acknowledged: true, shelved: null, suppressed, outOfService: null,
      annunciated: !suppressed, activeSince: null, changedAt: now, value: null, pending: null, retired: false,
    };
    w.save(alarm);
    rt = { alarm, rule, raw: false, lastTs: -Infinity, lastGoodAt: now, rocTs: [], rocValues: [] };
    this.byId.set(id, rt);
    this.byKey.set(key, rt);
    return rt;
  }

  // ---------------------------------------------------------------- internals: conditions

  /** Rate over the window ending at `ts`, in units per minute; bounded memory per point. */
  private rateOfChange(rt: Runtime, windowMs: number, ts: number, value: number): number {
    const { rocTs, rocValues } = rt;
    rocTs.push(ts);
    rocValues.push(value);
    let drop = 0;
    while (drop < rocTs.length - 1 && rocTs[drop]! < ts - windowMs) drop++;
    if (rocTs.length - drop > MAX_ROC_SAMPLES) drop = rocTs.length - MAX_ROC_SAMPLES;
    if (drop > 0) {
      rocTs.splice(0, drop);
      rocValues.splice(0, drop);
    }
    if (rocTs.length < 2) return 0;
    const dt = ts - rocTs[0]!;
    return dt <= 0 ? 0 : ((value - rocValues[0]!) / dt) * 60_000;
  }

  /**
   * The condition as now evaluated: start, keep or cancel the on-delay / off-delay
   * (ISA-18.2 §10.4.2), or change state at once when there is no delay.
   */
  private applyCondition(rt: Runtime, raw: boolean, t: number): void {
    rt.raw = raw;
    const a = rt.alarm;
    if (raw === a.active) {
      if (a.pending) {
        a.pending = null;
        void this.commit(new AlarmWrite().save(a));
      }
      return;
    }
    const to = raw ? 'active' : 'cleared';
    if (a.pending && a.pending.to === to) {
      if (t >= a.pending.deadline) this.transition(rt, raw, t);
      return;
    }
    const delay = rt.rule ? (raw ? rt.rule.onDelayMs : rt.rule.offDelayMs) : 0;
    if (delay <= 0) {
      this.transition(rt, raw, t);
      return;
    }
    a.pending = { to, deadline: t + delay };
    void this.commit(new AlarmWrite().save(a));
  }

  private transition(rt: Runtime, active: boolean, t: number): void {
    const a = rt.alarm;
    a.pending = null;
    const w = new AlarmWrite();
    if (a.active === active) {
      void this.commit(w.save(a));
      return;
    }
    a.state = nextAlarmState(a.state, active ? 'activate' : 'clear');
    a.active = active;
    a.acknowledged = isAcknowledged(a.state);
    a.activeSince = active ? t : null;
    this.record(rt, active ? 'activate' : 'clear', SYSTEM, '', t, {}, w);
    if (!active && a.shelved?.kind === 'one-shot') {
      // One-shot shelving ends when the alarm clears (OPC UA Part 9 §5.8.10 OneShotShelved).
      this.leaveShelving(rt, SYSTEM, 'the alarm cleared: one-shot shelving ends', t, w);
    }
    void this.commit(w);
  }

  private leaveShelving(rt: Runtime, actor: string, comment: string, t: number, w: AlarmWrite): void {
    const shelved = rt.alarm.shelved;
    rt.alarm.shelved = null;
    this.record(rt, 'unshelve', actor, comment, t, { kind: shelved?.kind }, w);
    w.audit(this.actionAudit(rt, actor, 'alarm.unshelve', comment, { kind: shelved?.kind }));
  }

  /**
   * Records a change into `w`: recomputes annunciation (re-evaluating on return, ISA-18.2: a
   * still-active condition comes back unacknowledged), adds the alarm's record and history entry,
   * counts new annunciations for flood detection and tells the live stream. The webhooks hear of
   * it once `w` has committed, when an operator could see the change.
   */
  private record(rt: Runtime, kind: AlarmEventKind, actor: string, comment: string, t: number, detail: Record<string, unknown>, w: AlarmWrite): void {
    const a = rt.alarm;
    const wasAnnunciated = a.annunciated;
    a.annunciated = !a.shelved && !a.suppressed && !a.outOfService && !a.retired;
    if (a.annunciated && !wasAnnunciated && kind !== 'retire') {
      a.state = stateOnReturn(a.active);
      a.acknowledged = isAcknowledged(a.state);
    }
    a.changedAt = t;
    const newAnnunciation = a.kind !== 'flood' && a.annunciated && a.state === 'unack-active'
      && (kind === 'activate' || !wasAnnunciated);
    w.change(a, {
      alarmId: a.id, at: t, kind, actor, comment, state: a.state, annunciated: a.annunciated, value: a.value, detail,
    }, newAnnunciation, this.notifier !== undefined && (wasAnnunciated || a.annunciated));
    if (this.onAlarmChanged) {
      try {
        this.onAlarmChanged({ ...a });
      } catch {
        // A live subscriber must never stop evaluation.
      }
    }
    if (newAnnunciation) {
      this.floodWindow(a.site).push(this.now());
      this.floodChecks.add(a.site);
    }
  }

  private actionAudit(rt: Runtime, actor: string, action: string, comment: string, extra: Record<string, unknown> = {}): AuditEventInput {
    const a = rt.alarm;
    return {
      actor, action, target: `alarm:${a.id}`,
      detail: { key: a.key, site: a.site, asset: a.asset, point: a.point, ruleId: a.ruleId, state: a.state, comment, ...extra },
    };
  }

  // ---------------------------------------------------------------- internals: persistence

  /**
   * Queues `w` behind every change made before it; resolves once it has committed (and the
   * webhooks were told). Then checks the flood count of the sites it annunciated at, so a flood
   * alarm's change is always stored after the changes that raised it.
   */
  private commit(w: AlarmWrite): Promise<void> {
    if (!this.active) {
      // A standby never writes (what it changed in memory is replaced by its next reload); a
      // caller that waits learns that nothing was stored.
      const refused = Promise.reject(new AlarmError('alarm_standby', 'this replica is a standby: nothing it changed was stored'));
      refused.catch(() => {});
      return refused;
    }
    if (this.capture && this.capture !== w) {
      // Inside evaluateOnce: joins the message's one transaction (the flood check runs at its commit).
      this.capture.absorb(w);
      return Promise.resolve();
    }
    const stored = this.writes.enqueue((stores) => w.run(stores)).then((changes) => {
      for (const c of changes) this.notify({ type: 'alarm.changed', event: c.event, alarm: c.alarm });
    });
    // Failures are reported through onPersistError (and retried); callers that wait see them too.
    stored.catch(() => {});
    if (this.floodChecks.size > 0) {
      const sites = [...this.floodChecks];
      this.floodChecks.clear();
      const now = this.now();
      for (const site of sites) this.evaluateFlood(site, now);
    }
    return stored;
  }

  /** An operator's action: resolves with the alarm as the action left it, once stored. */
  private async commitAction(rt: Runtime, w: AlarmWrite): Promise<Alarm> {
    const after = { ...rt.alarm };
    await this.commit(w);
    return after;
  }

  private notify(note: AlarmNotification): void {
    if (!this.notifier) return;
    try {
      this.notifier.notify(note);
    } catch {
      // A notifier must never stop evaluation.
    }
  }

  // ---------------------------------------------------------------- internals: flood

  private floodWindow(site: string): number[] {
    let w = this.floodTimes.get(site);
    if (!w) this.floodTimes.set(site, (w = []));
    return w;
  }

  /**
   * ISA-18.2 §16.5 alarm flood: more than `threshold` new annunciated alarms in the window raise
   * one summary alarm for the site; it clears once the count is back below the threshold (the gap
   * between "more than" and "below" keeps the summary alarm itself from chattering).
   */
  private evaluateFlood(site: string, now: number): void {
    const w = this.floodWindow(site);
    let drop = 0;
    while (drop < w.length && w[drop]! <= now - this.flood.windowMs) drop++;
    if (drop > 0) w.splice(0, drop);
    const count = w.length;
    let rt = this.byKey.get(`${site}/${FLOOD_RULE_ID}`);
    if (!rt) {
      if (count <= this.flood.threshold) return;
      rt = this.floodRuntime(site, now);
      if (!rt) return; // no id left: the next tick tries again
    }
    const active = rt.alarm.active;
    if (!active && count > this.flood.threshold) {
      rt.alarm.value = count;
      this.transition(rt, true, now);
    } else if (active && count < this.flood.threshold) {
      rt.alarm.value = count;
      this.transition(rt, false, now);
    } else if (rt.alarm.value !== count) {
      rt.alarm.value = count;
    }
  }

  private floodRuntime(site: string, now: number): Runtime | undefined {
    const id = this.ids.take();
    if (id === undefined) return undefined;
    const key = `${site}/${FLOOD_RULE_ID}`;
    const alarm: Alarm = {
      id, key, ruleId: FLOOD_RULE_ID, kind: 'flood', level: null, site, asset: '', point: '', priority: 'high',
      description: `more than ${this.flood.threshold} alarms in ${Math.round(this.flood.windowMs / 60_000)} min at ${site}`,
      state: 'normal', active: false, acknowledged: true, shelved: null, suppressed: false, outOfService: null,
      annunciated: true, activeSince: null, changedAt: now, value: 0, pending: null, retired: false,
    };
    void this.commit(new AlarmWrite().save(alarm));
    const rt: Runtime = { alarm, rule: null, raw: false, lastTs: -Infinity, lastGoodAt: now, rocTs: [], rocValues: [] };
    this.byId.set(id, rt);
    this.byKey.set(key, rt);
    return rt;
  }
}
