/**
 * `shellguard alarms list|show|ack|shelve|unshelve|oos|rts`, `shellguard alarm-rules list|define`
 * and `shellguard asset mode`: ISA-18.2 alarms over the HTTP API. The server decides who may do
 * what and records every action (with the token as actor) in the alarm history and audit log.
 */
import { parse as parseYaml } from 'yaml';
import { ShellguardError } from '@shellguard/protocol';
import type { Alarm, AlarmEvent, AlarmRule } from '@shellguard/server';
import type { ApiClient } from '../api-client.ts';
import { formatTable, isoTime, type Output } from './fleet.ts';

export type AlarmCliErrorCode = 'cli_usage' | 'alarm_rule_file_invalid' | 'cli_unsupported';

export class AlarmCliError extends ShellguardError<AlarmCliErrorCode> {}

/**
 * The asset mode is set with PUT /assets/:site/:asset/mode. `put` is optional until ApiClient
 * offers it, so this compiles against both.
 */
export interface PutClient {
  put<T>(path: string, body: unknown): Promise<T>;
}

const MINUTE_MS = 60_000;

/** An alarm id as typed: a whole number above 0. */
export function parseAlarmId(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new AlarmCliError('cli_usage', `"${text}" is not an alarm id: use the number in the ID column of shellguard alarms list`);
  }
  return n;
}

const alarmPath = (id: number, action = '') => `/alarms/${id}${action ? `/${action}` : ''}`;

function what(a: Alarm): string {
  if (a.kind === 'flood') return `${a.site} alarm flood`;
  return `${a.site}/${a.asset} ${a.point} ${a.ruleId}${a.level ? `:${a.level}` : ''}`;
}

function flags(a: Alarm): string {
  const f: string[] = [];
  if (a.shelved) f.push(`shelved ${a.shelved.kind} until ${isoTime(a.shelved.until)}`);
  if (a.suppressed) f.push('suppressed (maintenance)');
  if (a.outOfService) f.push('out of service');
  if (a.pending) f.push(`${a.pending.to === 'active' ? 'activating' : 'clearing'} at ${isoTime(a.pending.deadline)}`);
  return f.join(', ') || '-';
}

const valueText = (v: Alarm['value']) => (v === null ? '-' : String(v));

export interface ListAlarmsOptions {
  state?: string;
  site?: string;
  asset?: string;
  priority?: string;
  /** Also alarms in the normal state (cleared and acknowledged); by default an operator sees only what needs attention. */
  all?: boolean;
  json?: boolean;
}

export async function listAlarms(client: ApiClient, out: Output, opts: ListAlarmsOptions = {}): Promise<void> {
  const { alarms } = await client.get<{ alarms: Alarm[] }>('/alarms', {
    state: opts.state, site: opts.site, asset: opts.asset, priority: opts.priority,
  });
  const shown = opts.state || opts.all ? alarms : alarms.filter((a) => a.state !== 'normal');
  if (opts.json) {
    out.write(`${JSON.stringify(shown, null, 2)}\n`);
    return;
  }
  if (shown.length === 0) {
    out.write(alarms.length === 0 ? 'no alarms match\n' : `no alarms need attention (${alarms.length} in the normal state; --all lists them)\n`);
    return;
  }
  out.write(formatTable(
    ['ID', 'PRIORITY', 'STATE', 'ALARM', 'VALUE', 'CHANGED', 'DESCRIPTION', 'NOTES'],
    shown.map((a) => [String(a.id), a.priority, a.state, what(a), valueText(a.value), isoTime(a.changedAt), a.description || '-', flags(a)]),
  ));
}

/** The alarm and its history, oldest event first. */
export async function showAlarm(client: ApiClient, out: Output, id: number, opts: { json?: boolean } = {}): Promise<void> {
  const { alarm } = await client.get<{ alarm: Alarm }>(alarmPath(id));
  const { events } = await client.get<{ events: AlarmEvent[] }>(alarmPath(id, 'history'));
  if (opts.json) {
    out.write(`${JSON.stringify({ alarm, events }, null, 2)}\n`);
    return;
  }
  out.write([
    `alarm ${alarm.id}: ${what(alarm)}${alarm.description ? ` (${alarm.description})` : ''}`,
    `  priority   ${alarm.priority}`,
    `  state      ${alarm.state}${alarm.annunciated ? '' : ' (not annunciated)'}`,
    `  value      ${valueText(alarm.value)}`,
    `  active     ${alarm.activeSince !== null ? `since ${isoTime(alarm.activeSince)}` : 'no'}`,
    `  notes      ${flags(alarm)}`,
    ...(alarm.shelved ? [`  shelved    by ${alarm.shelved.by}${alarm.shelved.comment ? `: ${alarm.shelved.comment}` : ''}`] : []),
    ...(alarm.outOfService ? [`  oos        by ${alarm.outOfService.by}${alarm.outOfService.comment ? `: ${alarm.outOfService.comment}` : ''}`] : []),
    '',
  ].join('\n'));
  if (events.length === 0) {
    out.write('no history yet\n');
    return;
  }
  out.write(formatTable(
    ['AT', 'EVENT', 'STATE', 'VALUE', 'BY', 'COMMENT'],
    events.map((e) => [isoTime(e.at), e.kind, e.state, valueText(e.value), e.actor, e.comment || '-']),
  ));
}

const withComment = (comment: string | undefined) => (comment ? { comment } : {});

export async function acknowledgeAlarm(client: ApiClient, out: Output, id: number, opts: { comment?: string } = {}): Promise<void> {
  const { alarm } = await client.post<{ alarm: Alarm }>(alarmPath(id, 'ack'), withComment(opts.comment));
  out.write(`acknowledged alarm ${alarm.id} (${what(alarm)}): now ${alarm.state}\n`);
}

export interface ShelveOptions {
  kind: string;
  minutes?: number;
  comment?: string;
}

/** Timed shelving needs --minutes; the server refuses more than the rule's maximum. */
export async function shelveAlarm(client: ApiClient, out: Output, id: number, opts: ShelveOptions): Promise<void> {
  if (opts.kind !== 'timed' && opts.kind !== 'one-shot') {
    throw new AlarmCliError('cli_usage', `--kind must be one-shot (until the alarm clears) or timed (with --minutes), not "${opts.kind}"`);
  }
  if (opts.kind === 'timed' && opts.minutes === undefined) {
    throw new AlarmCliError('cli_usage', 'timed shelving needs --minutes N');
  }
  const body = {
    kind: opts.kind,
    ...(opts.minutes !== undefined ? { durationMs: opts.minutes * MINUTE_MS } : {}),
    ...withComment(opts.comment),
  };
  const { alarm } = await client.post<{ alarm: Alarm }>(alarmPath(id, 'shelve'), body);
  const until = alarm.shelved ? isoTime(alarm.shelved.until) : '-';
  out.write(`shelved alarm ${alarm.id} (${what(alarm)}) ${opts.kind === 'one-shot' ? `until it clears, at most until ${until}` : `until ${until}`}\n`);
}

export async function unshelveAlarm(client: ApiClient, out: Output, id: number, opts: { comment?: string } = {}): Promise<void> {
  const { alarm } = await client.post<{ alarm: Alarm }>(alarmPath(id, 'unshelve'), withComment(opts.comment));
  out.write(`unshelved alarm ${alarm.id} (${what(alarm)}): now ${alarm.state}\n`);
}

export async function removeAlarmFromService(client: ApiClient, out: Output, id: number, opts: { comment?: string } = {}): Promise<void> {
  const { alarm } = await client.post<{ alarm: Alarm }>(alarmPath(id, 'remove-from-service'), withComment(opts.comment));
  out.write(`alarm ${alarm.id} (${what(alarm)}) is out of service: it will not annunciate until returned (shellguard alarms rts ${alarm.id})\n`);
}

export async function returnAlarmToService(client: ApiClient, out: Output, id: number, opts: { comment?: string } = {}): Promise<void> {
  const { alarm } = await client.post<{ alarm: Alarm }>(alarmPath(id, 'return-to-service'), withComment(opts.comment));
  out.write(`alarm ${alarm.id} (${what(alarm)}) is back in service: now ${alarm.state}\n`);
}

function ruleParameters(rule: AlarmRule): string {
  switch (rule.kind) {
    case 'limit':
      return (['hh', 'h', 'l', 'll'] as const).filter((l) => rule[l] !== undefined).map((l) => `${l}=${rule[l]}`).join(' ')
        + (rule.deadband ? ` deadband=${rule.deadband}` : '');
    case 'rate-of-change':
      return `${rule.direction} ${rule.ratePerMinute}/min over ${rule.windowMs / 1000}s`;
    case 'stale':
      return `no good sample for ${rule.timeoutMs / 1000}s`;
    case 'binary':
      return `when ${rule.alarmWhen}`;
    case 'anomaly':
      return `score >= ${rule.threshold}`;
  }
}

export async function listAlarmRules(client: ApiClient, out: Output, opts: { profile?: string; json?: boolean } = {}): Promise<void> {
  const { rules } = await client.get<{ rules: AlarmRule[] }>('/alarm-rules', { profile: opts.profile });
  if (opts.json) {
    out.write(`${JSON.stringify(rules, null, 2)}\n`);
    return;
  }
  if (rules.length === 0) {
    out.write('no alarm rules: shellguard alarm-rules define --file rule.yaml\n');
    return;
  }
  out.write(formatTable(
    ['ID', 'PROFILE', 'POINT', 'KIND', 'PRIORITY', 'CONDITION', 'ON DELAY', 'ENABLED'],
    rules.map((r) => [r.id, r.profile, r.point, r.kind, r.priority, ruleParameters(r), `${r.onDelayMs / 1000}s`, r.enabled ? 'yes' : 'no']),
  ));
}

/**
 * Reads rules from a YAML or JSON file: one rule, a list of rules, or `{ rules: [...] }` (the
 * shape of the shipped alarm-rules/*.yaml). The server validates each rule in full.
 */
export function parseAlarmRuleFile(text: string, file = 'the file'): Record<string, unknown>[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new AlarmCliError('alarm_rule_file_invalid', `${file} is neither YAML nor JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(doc) ? doc
    : doc && typeof doc === 'object' && Array.isArray((doc as { rules?: unknown }).rules) ? (doc as { rules: unknown[] }).rules
      : [doc];
  if (list.length === 0) throw new AlarmCliError('alarm_rule_file_invalid', `${file} holds no rules`);
  list.forEach((r, i) => {
    if (!r || typeof r !== 'object' || Array.isArray(r)) {
      throw new AlarmCliError('alarm_rule_file_invalid', `${file}: rule ${i + 1} must be a mapping (id, kind, profile, point, priority, ...)`);
    }
  });
  return list as Record<string, unknown>[];
}

/**
 * Defines each rule in order, stopping at the first the server refuses (its message names the
 * field). Returns how many were defined.
 */
export async function defineAlarmRules(client: ApiClient, out: Output, rules: readonly Record<string, unknown>[]): Promise<number> {
  let defined = 0;
  for (const input of rules) {
    const { rule } = await client.post<{ rule: AlarmRule }>('/alarm-rules', input);
    out.write(`defined ${rule.kind} rule ${rule.id} on ${rule.profile}/${rule.point} (${rule.priority})\n`);
    defined += 1;
  }
  return defined;
}

export async function setAssetMode(
  client: ApiClient & Partial<PutClient>, out: Output, site: string, asset: string, mode: string, opts: { comment?: string } = {},
): Promise<void> {
  if (mode !== 'normal' && mode !== 'maintenance') {
    throw new AlarmCliError('cli_usage', `the mode is normal or maintenance, not "${mode}"`);
  }
  if (!client.put) throw new AlarmCliError('cli_unsupported', 'this API client cannot send PUT requests');
  const res = await client.put<{ site: string; asset: string; mode: string }>(
    `/assets/${encodeURIComponent(site)}/${encodeURIComponent(asset)}/mode`, { mode, ...withComment(opts.comment) });
  out.write(res.mode === 'maintenance'
    ? `asset ${res.site}/${res.asset} is in maintenance: its alarms are suppressed (tracked, not annunciated)\n`
    : `asset ${res.site}/${res.asset} is back to normal: its alarms annunciate again\n`);
}
