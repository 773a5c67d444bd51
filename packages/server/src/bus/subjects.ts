/**
 * Bus subjects follow NATS subject syntax, so the in-process bus and JetStream agree on what a
 * subject or a filter means: dot-separated tokens; in a filter `*` matches one token and `>` (last
 * token only) one or more. Published subjects are literal.
 */
import { BusError } from './bus-error.ts';

const TOKEN = /^[^\s.*>]+$/;

function tokensOf(subject: string): string[] {
  return subject.split('.');
}

/** Throws unless `subject` is a literal subject a message can be published on. */
export function assertPublishSubject(subject: string): void {
  if (subject.length === 0 || !tokensOf(subject).every((t) => TOKEN.test(t))) {
    throw new BusError('bus_bad_subject', `"${subject}" is not a subject to publish on: use dot-separated tokens without spaces or wildcards`, { subject });
  }
}

/** Throws unless `filter` is a valid subject filter (literal tokens, `*`, a final `>`). */
export function assertSubjectFilter(filter: string): void {
  const tokens = tokensOf(filter);
  const ok = filter.length > 0 && tokens.every((t, i) => TOKEN.test(t) || t === '*' || (t === '>' && i === tokens.length - 1));
  if (!ok) {
    throw new BusError('bus_bad_subject', `"${filter}" is not a subject filter: use dot-separated tokens, "*" for one token and a final ">" for the rest`, { subject: filter });
  }
}

/** True when the literal `subject` matches `filter`. */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = tokensOf(filter);
  const s = tokensOf(subject);
  for (let i = 0; i < f.length; i++) {
    const token = f[i];
    if (token === '>') return s.length > i;
    if (i >= s.length) return false;
    if (token !== '*' && token !== s[i]) return false;
  }
  return f.length === s.length;
}

/** True when some subject matches both filters (two consumers on them would share messages). */
export function filtersOverlap(a: string, b: string): boolean {
  const x = tokensOf(a);
  const y = tokensOf(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === '>' || q === '>') return true;
    if (p !== '*' && q !== '*' && p !== q) return false;
  }
  return x.length === y.length;
}

/** True when every subject matching `inner` also matches `outer`. */
export function filterCovers(outer: string, inner: string): boolean {
  const o = tokensOf(outer);
  const n = tokensOf(inner);
  for (let i = 0; i < o.length; i++) {
    const token = o[i];
    if (token === '>') return n.length > i;
    if (i >= n.length) return false;
    const t = n[i];
    if (t === '>') return false;
    if (token !== '*' && token !== t) return false;
  }
  return o.length === n.length;
}

/** Throws when two filters in `filters` overlap (a message would reach the handler twice). */
export function assertDisjointFilters(filters: readonly string[]): void {
  for (let i = 0; i < filters.length; i++) {
    for (let j = i + 1; j < filters.length; j++) {
      const a = filters[i] as string;
      const b = filters[j] as string;
      if (filtersOverlap(a, b)) {
        throw new BusError('bus_overlapping_subjects', `subject filters "${a}" and "${b}" overlap: a message on both would be handled twice; list disjoint filters`, { subjects: [a, b] });
      }
    }
  }
}

/**
 * The partition (0 … partitions-1) of `key`: FNV-1a over its UTF-8 bytes, so every publisher (and
 * every language) puts a key in the same partition.
 */
export function partitionOf(key: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new BusError('bus_bad_option', `partitions must be a whole number of at least 1, not ${partitions}`, { partitions });
  }
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(key)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

/**
 * The subject a message with ordering key `key` is published on, when `base` is split into
 * `partitions` partitions: `<base>.p<n>`. Work on {@link partitionSubjects} with `ordered: true`
 * keeps each key's messages in publish order while partitions run in parallel.
 *
 * @example
 * await bus.publish(partitionSubject('alarm.eval', assetId, 16), payload, { id });
 * await bus.work('alarms', partitionSubjects('alarm.eval', 16), evaluate, { ordered: true });
 */
export function partitionSubject(base: string, key: string, partitions: number): string {
  return `${base}.p${partitionOf(key, partitions)}`;
}

/** Every partition subject of `base` (see {@link partitionSubject}). */
export function partitionSubjects(base: string, partitions: number): string[] {
  partitionOf('', partitions);
  return Array.from({ length: partitions }, (_, n) => `${base}.p${n}`);
}

const GROUP = /^[A-Za-z0-9_-]{1,64}$/;

/** Throws unless `group` can name a durable consumer: letters, digits, `_` and `-`, at most 64. */
export function assertGroupName(group: string): void {
  if (!GROUP.test(group)) {
    throw new BusError('bus_bad_option', `"${group}" is not a group name: use 1 to 64 letters, digits, "_" or "-"`, { group });
  }
}
