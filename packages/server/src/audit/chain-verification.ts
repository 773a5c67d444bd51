/**
 * Verifying the audit chain against its key and its anchors, independent of where the events are
 * stored (the running server's log and the offline check of a copied database both call it).
 *
 * Checks, for every event in order:
 *   1. sequence numbers run from 1 without gaps           → event_missing
 *   2. prevHash is the previous event's stored hash        → chain_broken
 *   3. the stored hash is the event's hash recomputed:     → event_edited
 *      keyed (HMAC) from keyedFromSeq on, legacy SHA-256 before
 * and for every line of the anchor file:
 *   4. it parses and its MAC verifies under the key        → anchor_invalid
 *   5. its keyedFrom is the database's                     → anchor_mismatch
 *   6. the event it names exists with the hash it records  → anchor_mismatch
 *   7. it does not name an event beyond the log's end      → truncated
 * Every check runs on every event (the walk does not stop at the first problem), so the report
 * says each place that was touched; runs of the same problem on consecutive events are merged.
 */
import type { AuditAnchorSummary, AuditProblem, AuditProblemCode, AuditVerification } from './audit-log.ts';
import type { AuditKey } from './audit-key.ts';
import { parseAnchorLine, type AuditAnchor } from './audit-anchor.ts';
import { GENESIS_HASH, auditEventHash, keyedEventHash } from './event-hash.ts';

/** An event as stored: the detail as its stored text, so a detail that is no longer JSON shows. */
export interface StoredAuditEvent {
  seq: number;
  at: number;
  actor: string;
  action: string;
  target: string;
  detailText: string;
  prevHash: string;
  hash: string;
}

/** What the database says about its own keying; absent for a chain that was never keyed. */
export interface ChainKeying {
  keyId: string;
  keyedFromSeq: number;
}

export interface ChainVerificationInput {
  events: Iterable<StoredAuditEvent>;
  key: AuditKey;
  keying: ChainKeying | undefined;
  /** The anchor file's lines (null: the file does not exist); absent when no anchor file is kept. */
  anchors?: { file: string; lines: string[] | null };
}

/** Problems listed at most; further ones are only counted. */
export const MAX_LISTED_PROBLEMS = 100;

const short = (hash: string) => `${hash.slice(0, 12)}…`;
const iso = (ms: number) => new Date(ms).toISOString();
const range = (seq: number, last: number | undefined) => (last === undefined || last === seq ? `event ${seq}` : `events ${seq}..${last}`);

const EVENT_MESSAGES: Partial<Record<AuditProblemCode, (seq: number, last: number | undefined) => string>> = {
  event_edited: (s, l) => `${range(s, l)}: content does not match the keyed hash; edited (or re-hashed without the key) after being written`,
  chain_broken: (s, l) => `${range(s, l)}: prevHash is not the previous event's hash; an event before it was edited or removed`,
  event_missing: (s, l) => `${range(s, l)} missing: deleted from the log`,
};

class ProblemList {
  readonly listed: AuditProblem[] = [];
  omitted = 0;

  /** An event problem; merged with the previous one when it continues its run. */
  event(code: 'event_edited' | 'chain_broken' | 'event_missing', seq: number, lastSeq = seq): void {
    const prev = this.listed.at(-1);
    if (prev?.code === code && prev.seq !== undefined && prev.line === undefined && (prev.lastSeq ?? prev.seq) + 1 === seq) {
      prev.lastSeq = lastSeq;
      prev.message = EVENT_MESSAGES[code]!(prev.seq, lastSeq);
      return;
    }
    this.add({ code, seq, ...(lastSeq !== seq ? { lastSeq } : {}), message: EVENT_MESSAGES[code]!(seq, lastSeq) });
  }

  add(problem: AuditProblem): void {
    if (this.listed.length >= MAX_LISTED_PROBLEMS) this.omitted++;
    else this.listed.push(problem);
  }
}

interface LineAnchor {
  anchor: AuditAnchor;
  line: number;
}

function readAnchors(input: Pick<ChainVerificationInput, 'key' | 'anchors'>, problems: ProblemList): LineAnchor[] {
  const valid: LineAnchor[] = [];
  const lines = input.anchors?.lines;
  if (!lines) return valid;
  lines.forEach((text, i) => {
    if (text.trim() === '') return;
    const parsed = parseAnchorLine(input.key, text);
    if (parsed.ok) {
      valid.push({ anchor: parsed.anchor, line: i + 1 });
      return;
    }
    const why = parsed.reason === 'bad_mac'
      ? 'its MAC does not verify under this key: edited, forged, or written with another key'
      : 'not a well-formed anchor: edited, or torn by a crash during the write';
    problems.add({ code: 'anchor_invalid', line: i + 1, message: `anchor file ${input.anchors!.file} line ${i + 1}: ${why}` });
  });
  return valid;
}

export function verifyChain(input: ChainVerificationInput): AuditVerification {
  const walk = new ChainWalk(input);
  for (const e of input.events) walk.visit(e);
  return walk.result();
}

/** As {@link verifyChain}, over events a store reads page by page (the running server's log). */
export async function verifyChainAsync(input: Omit<ChainVerificationInput, 'events'> & { events: AsyncIterable<StoredAuditEvent> }): Promise<AuditVerification> {
  const walk = new ChainWalk(input);
  for await (const e of input.events) walk.visit(e);
  return walk.result();
}

/** The checks above, one event at a time, so a synchronous cursor and an asynchronous one share them. */
class ChainWalk {
  private readonly problems = new ProblemList();
  private readonly anchors: LineAnchor[];
  private readonly bySeq = new Map<number, LineAnchor[]>();
  private readonly keyedFrom: number;
  private expectedSeq = 1;
  private prevHash = GENESIS_HASH;
  private events = 0;
  private keyedEvents = 0;
  // Listed after the walk, so a run of edited events is not split by the anchors inside it.
  private readonly anchorProblems: AuditProblem[] = [];

  constructor(private readonly input: Omit<ChainVerificationInput, 'events'>) {
    const { problems, bySeq } = this;
    const { key, keying } = input;
    if (keying !== undefined && keying.keyId !== key.id) {
      problems.add({
        code: 'key_mismatch',
        message: `the key given (id ${key.id}) is not the one the database says its chain was written with (id ${keying.keyId}): `
          + 'either the wrong key file was given or the database\'s key record was changed',
      });
    }
    this.anchors = readAnchors(input, problems);
    for (const a of this.anchors) {
      if (keying !== undefined && a.anchor.keyedFrom !== keying.keyedFromSeq) {
        problems.add({
          code: 'anchor_mismatch', seq: a.anchor.seq, line: a.line,
          message: `anchor at line ${a.line} (${iso(a.anchor.at)}) says the chain is keyed from event ${a.anchor.keyedFrom}; `
            + `the database says ${keying.keyedFromSeq}: its keying record was changed`,
        });
      }
      if (a.anchor.seq === 0) {
        if (a.anchor.hash !== GENESIS_HASH) {
          problems.add({ code: 'anchor_mismatch', seq: 0, line: a.line, message: `anchor at line ${a.line} records an empty log with a non-genesis hash` });
        }
        continue;
      }
      const list = bySeq.get(a.anchor.seq) ?? [];
      list.push(a);
      bySeq.set(a.anchor.seq, list);
    }
    this.keyedFrom = keying?.keyedFromSeq ?? Number.POSITIVE_INFINITY;
  }

  // The walk never stops early: a store's cursor is closed by running out, and each event is checked on its own.
  visit(e: StoredAuditEvent): void {
    const { problems, bySeq, keyedFrom } = this;
    this.events++;
    const gap = e.seq > this.expectedSeq;
    if (gap) problems.event('event_missing', this.expectedSeq, e.seq - 1);
    // Right after a gap the link points at the missing event; the gap already says so.
    if (!gap && e.prevHash !== this.prevHash) problems.event('chain_broken', e.seq);
    let intact: boolean;
    try {
      const event = { ...e, detail: JSON.parse(e.detailText) as Record<string, unknown> };
      if (e.seq >= keyedFrom) this.keyedEvents++;
      intact = (e.seq >= keyedFrom ? keyedEventHash(this.input.key, event) : auditEventHash(event)) === e.hash;
    } catch {
      intact = false; // the detail is no longer JSON
    }
    if (!intact) problems.event('event_edited', e.seq);
    for (const a of bySeq.get(e.seq) ?? []) {
      if (a.anchor.hash !== e.hash) {
        this.anchorProblems.push({
          code: 'anchor_mismatch', seq: e.seq, line: a.line,
          message: `anchor at line ${a.line} (${iso(a.anchor.at)}) records event ${e.seq} with hash ${short(a.anchor.hash)}; `
            + `the log's event ${e.seq} has ${short(e.hash)}: the history up to it was rewritten`,
        });
      }
    }
    bySeq.delete(e.seq);
    this.prevHash = e.hash;
    this.expectedSeq = e.seq + 1;
  }

  result(): AuditVerification {
    const { problems, bySeq, anchors, input } = this;
    const lastSeq = this.expectedSeq - 1;
    for (const p of this.anchorProblems) problems.add(p);

    // Anchors left over name events the log does not hold: beyond its end (cut off) or inside it (deleted).
    let furthest: LineAnchor | undefined;
    for (const [seq, list] of bySeq) {
      for (const a of list) {
        if (seq > lastSeq) {
          if (furthest === undefined || seq > furthest.anchor.seq) furthest = a;
        } else {
          problems.add({ code: 'anchor_mismatch', seq, line: a.line, message: `anchor at line ${a.line} (${iso(a.anchor.at)}) records event ${seq}, which is not in the log` });
        }
      }
    }
    if (furthest !== undefined) {
      const { anchor, line } = furthest;
      problems.add({
        code: 'truncated', seq: lastSeq + 1, lastSeq: anchor.seq, line,
        message: `anchor at line ${line} (${iso(anchor.at)}) records ${anchor.seq} events; the log ends at event ${lastSeq}: `
          + `${range(lastSeq + 1, anchor.seq)} ${anchor.seq > lastSeq + 1 ? 'were' : 'was'} cut off`,
      });
    }
    if (input.anchors !== undefined && anchors.length === 0 && this.keyedEvents > 0) {
      problems.add({
        code: 'anchors_missing',
        message: input.anchors.lines === null
          ? `the anchor file ${input.anchors.file} does not exist, but the log has keyed events: it was deleted or another path was given`
          : `the anchor file ${input.anchors.file} holds no valid anchor, but the log has keyed events: it was emptied or replaced`,
      });
    }

    const listed = problems.listed;
    const seqs = listed.map((p) => p.seq).filter((s): s is number => s !== undefined && s > 0);
    const newest = anchors.at(-1);
    const newestSummary: AuditAnchorSummary | undefined = newest && { seq: newest.anchor.seq, hash: newest.anchor.hash, at: newest.anchor.at, line: newest.line };
    return {
      ok: listed.length === 0 && problems.omitted === 0,
      events: this.events,
      ...(seqs.length > 0 ? { brokenAt: Math.min(...seqs) } : {}),
      ...(input.keying !== undefined ? { keyedFromSeq: input.keying.keyedFromSeq } : {}),
      problems: listed,
      ...(problems.omitted > 0 ? { omittedProblems: problems.omitted } : {}),
      anchors: { checked: anchors.length, ...(newestSummary ? { newest: newestSummary } : {}) },
    };
  }
}
