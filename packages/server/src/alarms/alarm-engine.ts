/**
 * The alarm engine: rules bound to assets' points, evaluated sample by sample, with the
 * ISA-18.2 / IEC 62682 state machine (see alarm-state.ts), shelving, suppression by design, out
 * of service, flood detection, persistence and notifications.
 *
 * Time: sample-driven conditions use the sample's timestamp; deadlines (on/off-delay, stale data,
 * shelving expiry, the flood window) are checked by `tick(now)`, which `start()` runs every
 * `tickIntervalMs` on the injected scheduler. Deadlines are persisted, so a new engine on the same
 * database resumes them.
 *
 * Hot path: `evaluate` is two Map lookups (site → asset → point) when no rule applies to the
 * point; it writes to the database only when an alarm changes state or starts/cancels a delay.
 */
import type { EquipmentProfile, Sample } from '@shellguard/protocol';
import { Quality } from '@shellguard/protocol';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SqliteDatabase } from '../db/database.ts';
import {
  FLOOD_RULE_ID, type Alarm, type AlarmEvent, type AlarmEventKind, type AlarmFilter, type AssetMode,
} from './alarm.ts';
import { AlarmError } from './alarm-error.ts';
import {
  DEFAULT_MAX_SHELVE_MS, applyRuleOverride, checkRuleAgainstProfile, limitLevels, parseAlarmRule,
  type AlarmPriority, type AlarmRule, type LimitLevel, type RuleOverride,
} from './alarm-rule.ts';
import { isAcknowledged, nextAlarmState, stateOnReturn } from './alarm-state.ts';
import { systemScheduler, type Scheduler } from './scheduler.ts';
import { SqliteAlarmStore } from './sqlite-alarm-store.ts';
import type { AlarmNotifier } from './webhook-notifier.ts';

export interface FloodOptions {
  /** More than this many new annunciated alarms per site in the window raise the flood alarm (default 10). */
  threshold: number;
  /** Default 10 minutes (ISA-18.2 §16.5: "10 alarms per 10 minutes per operator"). */
  windowMs: number;
}

export interface AlarmEngineOptions {
  db: SqliteDatabase;
  audit: AuditLog;
  now?: () => number;
  scheduler?: Scheduler;
  /** Interval of the periodic tick started by `start()` (default 1 s). */
  tickIntervalMs?: number;
  /** Profile of an asset the engine has not been told about with `setAssetProfile` (e.g. the site registry). */
  assetProfile?: (site: string, asset: string) => string | undefined;
  /** Equipment profiles, to check that a rule's point exists and fits (unknown profiles are not checked). */
  profiles?: (id: string) => EquipmentProfile | undefined;
  notifier?: AlarmNotifier;
  /** Every recorded change of an alarm (annunciated or not), with a copy of it: the live event stream. */
  onAlarmChanged?: (alarm: Alarm) => void;
  flood?: Partial<FloodOptions>;
  /** Maximum shelving time of the flood alarm (rules carry their own). */
  defaultMaxShelveMs?: number;
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
  private readonly store: SqliteAlarmStore;
  private readonly audit: AuditLog;
  private readonly now: () => number;
  private readonly scheduler: Scheduler;
  private readonly tickIntervalMs: number;
  private readonly resolveProfile: (site: string, asset: string) => string | undefined;
  private readonly profiles: (id: string) => EquipmentProfile | undefined;
  private readonly notifier: AlarmNotifier | undefined;
  private readonly onAlarmChanged: ((alarm: Alarm) => void) | undefined;
  private readonly flood: FloodOptions;
  private readonly defaultMaxShelveMs: number;

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
  private readonly floodTimes = new Map<string, number[]>();
  private tickTimer: unknown;
  private running = false;

  constructor(opts: AlarmEngineOptions) {
    this.store = new SqliteAlarmStore(opts.db);
    this.audit = opts.audit;
    this.now = opts.now ?? Date.now;
    this.scheduler = opts.scheduler ?? systemScheduler;
    this.tickIntervalMs = opts.tickIntervalMs ?? 1_000;
    this.resolveProfile = opts.assetProfile ?? (() => undefined);
    this.profiles = opts.profiles ?? (() => undefined);
    this.notifier = opts.notifier;
    this.onAlarmChanged = opts.onAlarmChanged;
    this.flood = { threshold: opts.flood?.threshold ?? 10, windowMs: opts.flood?.windowMs ?? 600_000 };
    this.defaultMaxShelveMs = opts.defaultMaxShelveMs ?? DEFAULT_MAX_SHELVE_MS;
    this.restore();
  }

  // ---------------------------------------------------------------- lifecycle

  /** Runs `tick(now())` every `tickIntervalMs` until `stop()`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = (): void => {
      if (!this.running) return;
      this.tick();
      this.tickTimer = this.scheduler.setTimeout(loop, this.tickIntervalMs);
    };
    this.tickTimer = this.scheduler.setTimeout(loop, this.tickIntervalMs);
  }

  stop(): void {
    this.running = false;
    if (this.tickTimer !== undefined) this.scheduler.clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
  }

  private restore(): void {
    for (const rule of this.store.loadRules()) this.ruleDefs.set(rule.id, rule);
    for (const o of this.store.loadOverrides()) this.overridesOf(o.site, o.asset, true)!.set(o.ruleId, o.patch);
    const now = this.now();
    for (const alarm of this.store.loadAlarms()) {
      const rt: Runtime = {
        alarm, rule: null, raw: alarm.pending ? alarm.pending.to === 'active' : alarm.active,
        lastTs: -Infinity, lastGoodAt: now, rocTs: [], rocValues: [],
      };
      this.byId.set(alarm.id, rt);
      this.byKey.set(alarm.key, rt);
    }
    for (const a of this.store.loadAssets()) {
      const k = `${a.site}\0${a.asset}`;
      if (a.profile) this.assetProfiles.set(k, a.profile);
      if (a.mode === 'maintenance') this.assetModes.set(k, a.mode);
    }
    for (const k of this.assetProfiles.keys()) {
      const [site, asset] = k.split('\0') as [string, string];
      this.bind(site, asset);
    }
    for (const rt of this.byId.values()) if (rt.alarm.kind === 'flood') this.floodWindow(rt.alarm.site);
    const since = now - this.flood.windowMs;
    for (const { site, at } of this.store.annunciationsSince(since)) this.floodWindow(site).push(at);
  }

  // ---------------------------------------------------------------- rules

  /**
   * Defines (or redefines) a rule for a profile's point. Validates it (AlarmError `rule_invalid`
   * naming the field) and, when the profile is known, checks the point exists and fits.
   */
  defineRule(input: unknown, actor: string): AlarmRule {
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
    this.store.saveRule(rule, this.now());
    this.ruleDefs.set(rule.id, rule);
    this.audit.record({ actor, action: 'alarm.rule.define', target: `alarm-rule:${rule.id}`, detail: { rule } });
    this.rebindProfile(rule.profile);
    return rule;
  }

  /**
   * Overrides a rule's parameters for one asset (replacing any earlier override of that rule
   * there). `patch` holds only parameters, e.g. `{ h: 27, onDelayMs: 30000 }` or `{ enabled: false }`;
   * `null` removes a limit level. Returns the effective rule for that asset.
   */
  overrideRule(site: string, asset: string, ruleId: string, patch: unknown, actor: string): AlarmRule {
    checkActor(actor);
    const base = this.requireRule(ruleId);
    const effective = applyRuleOverride(base, patch);
    const o: RuleOverride = { site, asset, ruleId, patch: patch as Record<string, unknown> };
    this.store.saveOverride(o, this.now());
    this.overridesOf(site, asset, true)!.set(ruleId, o.patch);
    this.audit.record({ actor, action: 'alarm.rule.override', target: `alarm-rule:${ruleId}`, detail: { site, asset, patch: o.patch } });
    this.bind(site, asset);
    return effective;
  }

  /** Removes an asset's override; the profile's rule applies again. Returns false if there was none. */
  removeOverride(site: string, asset: string, ruleId: string, actor: string): boolean {
    checkActor(actor);
    if (!this.store.deleteOverride(site, asset, ruleId)) return false;
    this.overridesOf(site, asset, false)?.delete(ruleId);
    this.audit.record({ actor, action: 'alarm.rule.override_removed', target: `alarm-rule:${ruleId}`, detail: { site, asset } });
    this.bind(site, asset);
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
    const k = `${site}\0${asset}`;
    if (this.assetProfiles.get(k) === profile && this.bindings.get(site)?.has(asset)) return;
    this.assetProfiles.set(k, profile);
    this.store.saveAssetProfile(site, asset, profile);
    this.bind(site, asset);
  }

  /** Evaluates one sample of one point. Cheap when no rule applies to the point. */
  evaluate(site: string, asset: string, point: string, sample: Sample): void {
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
    for (const rt of this.byId.values()) {
      const a = rt.alarm;
      if (a.retired) continue;
      if (rt.rule?.kind === 'stale') {
        if (now - rt.lastGoodAt >= rt.rule.timeoutMs) this.applyCondition(rt, true, now);
      }
      if (a.pending && a.pending.deadline <= now) this.transition(rt, a.pending.to === 'active', now);
      if (a.shelved && a.shelved.until <= now) {
        this.leaveShelving(rt, SYSTEM, `${a.shelved.kind} shelving expired`, now);
      }
    }
    for (const site of this.floodTimes.keys()) this.evaluateFlood(site, now);
  }

  /**
   * Suppression by design (ISA-18.2 state "suppressed by design"): while an asset is in
   * maintenance its alarms keep tracking their condition but do not annunciate.
   */
  setAssetMode(site: string, asset: string, mode: AssetMode, actor: string = SYSTEM, comment = ''): void {
    checkActor(actor);
    if (mode !== 'normal' && mode !== 'maintenance') {
      throw new AlarmError('asset_mode_invalid', `asset mode must be normal or maintenance (got ${JSON.stringify(mode)})`);
    }
    const k = `${site}\0${asset}`;
    const before = this.assetModes.get(k) ?? 'normal';
    if (before === mode) return;
    const note = checkComment(comment);
    const now = this.now();
    this.store.transaction(() => {
      this.store.saveAssetMode(site, asset, mode);
      if (mode === 'maintenance') this.assetModes.set(k, mode);
      else this.assetModes.delete(k);
      for (const rt of this.byId.values()) {
        const a = rt.alarm;
        if (a.site !== site || a.asset !== asset || a.retired) continue;
        const suppressed = this.isSuppressed(a.site, a.asset, a.point);
        if (suppressed === a.suppressed) continue;
        a.suppressed = suppressed;
        this.changed(rt, suppressed ? 'suppress' : 'unsuppress', actor, note, now);
      }
    });
    this.audit.record({
      actor, action: mode === 'maintenance' ? 'alarm.suppress' : 'alarm.unsuppress', target: `asset:${site}/${asset}`,
      detail: { site, asset, mode, comment: note },
    });
  }

  /**
   * Suppression by design of exactly these points (a released work order's expected changes: the
   * breaker it operates, the feed current it drops): their alarms keep tracking but do not
   * annunciate while `owner` holds them. Another point of the same asset still annunciates.
   * Replaces what `owner` suppressed before; an empty list lifts it. Held in memory: the owner
   * re-applies it at start.
   */
  setDesignSuppression(owner: string, points: readonly { site: string; asset: string; point: string }[], actor: string = SYSTEM): void {
    checkActor(actor);
    const before = this.designSuppressions.get(owner) ?? new Set<string>();
    const after = new Set(points.map((p) => `${p.site}\0${p.asset}\0${p.point}`));
    if (after.size === before.size && [...after].every((k) => before.has(k))) return;
    if (after.size > 0) this.designSuppressions.set(owner, after);
    else this.designSuppressions.delete(owner);
    const touched = new Set([...before, ...after]);
    const now = this.now();
    this.store.transaction(() => {
      for (const rt of this.byId.values()) {
        const a = rt.alarm;
        if (a.retired || !touched.has(`${a.site}\0${a.asset}\0${a.point}`)) continue;
        const suppressed = this.isSuppressed(a.site, a.asset, a.point);
        if (suppressed === a.suppressed) continue;
        a.suppressed = suppressed;
        this.changed(rt, suppressed ? 'suppress' : 'unsuppress', actor, `suppressed by design for ${owner}`, now);
      }
    });
    this.audit.record({
      actor, action: after.size > 0 ? 'alarm.suppress.design' : 'alarm.unsuppress.design', target: owner,
      detail: { points: points.map((p) => `${p.site}/${p.asset}/${p.point}`) },
    });
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

  /** Acknowledges an unacknowledged alarm (unack-active → ack-active, unack-rtn → normal). */
  acknowledge(alarmId: number, actor: string, comment = ''): Alarm {
    checkActor(actor);
    const rt = this.require(alarmId);
    const a = rt.alarm;
    a.state = nextAlarmState(a.state, 'acknowledge');
    a.acknowledged = true;
    const note = checkComment(comment);
    this.changed(rt, 'acknowledge', actor, note, this.now());
    this.auditAction(rt, actor, 'alarm.acknowledge', note);
    return { ...a };
  }

  /**
   * Shelves an alarm (ISA-18.2 §10.5.2; OPC UA Part 9 TimedShelve / OneShotShelve): it stops
   * annunciating until unshelved, until `durationMs` (timed) or until it clears (one-shot), and in
   * no case longer than the rule's maxShelveMs (`shelve_too_long` otherwise).
   */
  shelve(alarmId: number, actor: string, request: ShelveRequest): Alarm {
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
    this.changed(rt, 'shelve', actor, note, now, { kind: request.kind, until: a.shelved.until });
    this.auditAction(rt, actor, 'alarm.shelve', note, { kind: request.kind, until: a.shelved.until });
    return { ...a };
  }

  unshelve(alarmId: number, actor: string, comment = ''): Alarm {
    checkActor(actor);
    const rt = this.require(alarmId);
    if (!rt.alarm.shelved) throw new AlarmError('alarm_not_shelved', `alarm ${alarmId} is not shelved`, { alarmId });
    const note = checkComment(comment);
    this.leaveShelving(rt, actor, note, this.now());
    return { ...rt.alarm };
  }

  /** Removes an alarm from service (ISA-18.2 "out of service"), e.g. a broken transmitter awaiting repair. */
  removeFromService(alarmId: number, actor: string, comment = ''): Alarm {
    checkActor(actor);
    const rt = this.require(alarmId);
    if (rt.alarm.outOfService) throw new AlarmError('alarm_already_out_of_service', `alarm ${alarmId} is already out of service`, { alarmId });
    const now = this.now();
    const note = checkComment(comment);
    rt.alarm.outOfService = { by: actor, at: now, comment: note };
    this.changed(rt, 'remove-from-service', actor, note, now);
    this.auditAction(rt, actor, 'alarm.remove_from_service', note);
    return { ...rt.alarm };
  }

  returnToService(alarmId: number, actor: string, comment = ''): Alarm {
    checkActor(actor);
    const rt = this.require(alarmId);
    if (!rt.alarm.outOfService) throw new AlarmError('alarm_not_out_of_service', `alarm ${alarmId} is in service`, { alarmId });
    const note = checkComment(comment);
    rt.alarm.outOfService = null;
    this.changed(rt, 'return-to-service', actor, note, this.now());
    this.auditAction(rt, actor, 'alarm.return_to_service', note);
    return { ...rt.alarm };
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

  /** The alarm's history, oldest first. */
  history(alarmId: number, limit = MAX_HISTORY): AlarmEvent[] {
    this.require(alarmId);
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
      this.store.saveAssetProfile(site, asset, resolved);
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

  /** (Re)builds an asset's point index from its effective rules, keeping existing alarms' state. */
  private bind(site: string, asset: string): PointMap {
    const points: PointMap = new Map();
    const bound = new Set<Runtime>();
    const now = this.now();
    for (const rule of this.effectiveRules(site, asset)) {
      const levels: (LimitLevel | null)[] = rule.kind === 'limit' ? limitLevels(rule) : [null];
      for (const level of levels) {
        const rt = this.runtimeFor(site, asset, rule, level, now);
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
      this.changed(rt, 'retire', SYSTEM, 'the rule no longer applies to this point', now);
    }
    let assets = this.bindings.get(site);
    if (!assets) this.bindings.set(site, (assets = new Map()));
    assets.set(asset, points);
    return points;
  }

  private runtimeFor(site: string, asset: string, rule: AlarmRule, level: LimitLevel | null, now: number): Runtime {
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
        this.store.saveAlarm(a);
      }
      return rt;
    }
    const suppressed = this.isSuppressed(site, asset, rule.point);
    const fresh: Omit<Alarm, 'id'> = {
      key, ruleId: rule.id, kind: rule.kind, level, site, asset, point: rule.point, priority, description: rule.description,
      state: 'normal', active: false, acknowledged: true, shelved: null, suppressed, outOfService: null,
      annunciated: !suppressed, activeSince: null, changedAt: now, value: null, pending: null, retired: false,
    };
    const id = this.store.insertAlarm(fresh);
    rt = { alarm: { ...fresh, id }, rule, raw: false, lastTs: -Infinity, lastGoodAt: now, rocTs: [], rocValues: [] };
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
        this.store.saveAlarm(a);
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
    this.store.saveAlarm(a);
  }

  private transition(rt: Runtime, active: boolean, t: number): void {
    const a = rt.alarm;
    a.pending = null;
    if (a.active === active) {
      this.store.saveAlarm(a);
      return;
    }
    a.state = nextAlarmState(a.state, active ? 'activate' : 'clear');
    a.active = active;
    a.acknowledged = isAcknowledged(a.state);
    a.activeSince = active ? t : null;
    if (!active && a.shelved?.kind === 'one-shot') {
      // One-shot shelving ends when the alarm clears (OPC UA Part 9 §5.8.10 OneShotShelved).
      this.store.transaction(() => {
        this.changed(rt, 'clear', SYSTEM, '', t);
        this.leaveShelving(rt, SYSTEM, 'the alarm cleared: one-shot shelving ends', t);
      });
      return;
    }
    this.changed(rt, active ? 'activate' : 'clear', SYSTEM, '', t);
  }

  private leaveShelving(rt: Runtime, actor: string, comment: string, t: number): void {
    const shelved = rt.alarm.shelved;
    rt.alarm.shelved = null;
    this.changed(rt, 'unshelve', actor, comment, t, { kind: shelved?.kind });
    this.auditAction(rt, actor, 'alarm.unshelve', comment, { kind: shelved?.kind });
  }

  /**
   * Records a change: recomputes annunciation (re-evaluating on return, ISA-18.2: a still-active
   * condition comes back unacknowledged), persists, appends history, counts new annunciations
   * for flood detection and notifies when an operator could see the change.
   */
  private changed(rt: Runtime, kind: AlarmEventKind, actor: string, comment: string, t: number, detail: Record<string, unknown> = {}): void {
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
    const event = this.store.transaction(() => {
      this.store.saveAlarm(a);
      return this.store.appendEvent({
        alarmId: a.id, at: t, kind, actor, comment, state: a.state, annunciated: a.annunciated, value: a.value, detail,
      }, a.site, newAnnunciation);
    });
    if (this.notifier && (wasAnnunciated || a.annunciated)) {
      const note: AlarmNotification = { type: 'alarm.changed', event, alarm: { ...a } };
      try {
        this.notifier.notify(note);
      } catch {
        // A notifier must never stop evaluation.
      }
    }
    if (this.onAlarmChanged) {
      try {
        this.onAlarmChanged({ ...a });
      } catch {
        // Nor may a live subscriber.
      }
    }
    if (newAnnunciation) {
      this.floodWindow(a.site).push(this.now());
      this.evaluateFlood(a.site, this.now());
    }
  }

  private auditAction(rt: Runtime, actor: string, action: string, comment: string, extra: Record<string, unknown> = {}): void {
    const a = rt.alarm;
    this.audit.record({
      actor, action, target: `alarm:${a.id}`,
      detail: { key: a.key, site: a.site, asset: a.asset, point: a.point, ruleId: a.ruleId, state: a.state, comment, ...extra },
    });
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

  private floodRuntime(site: string, now: number): Runtime {
    const key = `${site}/${FLOOD_RULE_ID}`;
    const fresh: Omit<Alarm, 'id'> = {
      key, ruleId: FLOOD_RULE_ID, kind: 'flood', level: null, site, asset: '', point: '', priority: 'high',
      description: `more than ${this.flood.threshold} alarms in ${Math.round(this.flood.windowMs / 60_000)} min at ${site}`,
      state: 'normal', active: false, acknowledged: true, shelved: null, suppressed: false, outOfService: null,
      annunciated: true, activeSince: null, changedAt: now, value: 0, pending: null, retired: false,
    };
    const id = this.store.insertAlarm(fresh);
    const rt: Runtime = { alarm: { ...fresh, id }, rule: null, raw: false, lastTs: -Infinity, lastGoodAt: now, rocTs: [], rocValues: [] };
    this.byId.set(id, rt);
    this.byKey.set(key, rt);
    return rt;
  }
}
