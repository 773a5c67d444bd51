/**
 * The context memory of the Contextual Anomaly Detector (CAD OSE, M. Smirnov, as shipped in
 * numenta/NAB `nab/detectors/context_ose`), written afresh in TypeScript.
 *
 * A context is a pair (left facts, right facts): "after this group of facts was active, these
 * facts followed". Contexts are split into left and right semi-contexts so that many contexts
 * can share the same fact sets. Every step the current facts are crossed with the right halves
 * (which learned contexts predicted correctly, which become active "neurons") and then the new
 * left group is crossed with the left halves (what is predicted next).
 *
 * Memory is bounded: once `maxContexts` contexts exist no new ones are learned; the existing ones
 * keep counting. Semi-contexts are created only together with a context, so they are bounded too.
 *
 * Layout and cost (the results are those of the straightforward algorithm, bit for bit):
 * - Facts are small non-negative integers (they index arrays); right facts (those given to
 *   `crossRight`) must be below `rightFactLimit`. Every fact set is kept sorted ascending.
 * - Everything lives in typed arrays (struct of arrays), grown by doubling up to the cap.
 * - Only contexts whose left half was *fully* active count or predict. Each left semi-context is
 *   filed under one of its facts; a crossing visits only the lefts filed under the facts of the
 *   group and keeps those whose every fact is in the group (a step stamp, nothing is cleared).
 * - Each left keeps its best prediction weight and the union (a bit mask) of the right halves
 *   that reach it; it is recomputed in the same pass that updates the counts (the only place they
 *   change) and patched when a context is added, so `crossLeft` costs O(full lefts).
 * - Once full, the contexts are re-laid by left (one run per left in each per-context array),
 *   each left is filed anew under its fact least often seen in left groups (which lefts are
 *   fully matched does not depend on where they are filed, only how many are visited), and
 *   `crossRight` takes a specialised loop (one mask word, rights crossed up front).
 * - Partially matched lefts matter only to learning (potential new contexts come from zero-level
 *   contexts, on a step that learned a new zero-level context). Only lefts holding a zero-level
 *   context are indexed for that, and only below the cap: at the cap nothing can be learned any
 *   more, so the lookup tables and that index are released.
 */

export type ContextPair = readonly [readonly number[], readonly number[]];

export interface ContextMemoryConfig {
  maxLeftSemiContextLength: number;
  maxContexts: number;
  /** how many of the fully active contexts become neurons (`active.slice(-n)` of the ranking) */
  maxActiveNeurons: number;
  /** right facts (those passed to `crossRight`) are integers in [0, rightFactLimit) */
  rightFactLimit: number;
}

export interface CrossRightResult {
  /** contexts whose left half was fully active at the previous step (the new zero-level one aside) */
  selectedCount: number;
  /** of those, how many also had their right half fully active */
  activeCount: number;
  /** potential new contexts (only on a step that learned a new zero-level context) */
  potentialNew: ContextPair[];
}

const NONE = -1;
/** fields of a left's record in `leftHot` */
const FIRST = 0;
const LAST = 1;
const BEST = 2;
const MASK = 3;
const EMPTY_PAIRS: ContextPair[] = [];

function growInt32(a: Int32Array<ArrayBuffer>, need: number, limit: number, fill = 0): Int32Array<ArrayBuffer> {
  if (need <= a.length) return a;
  const b = new Int32Array(capacity(a.length, need, limit));
  b.set(a);
  if (fill !== 0) b.fill(fill, a.length);
  return b;
}

function growFloat64(a: Float64Array<ArrayBuffer>, need: number, limit: number): Float64Array<ArrayBuffer> {
  if (need <= a.length) return a;
  const b = new Float64Array(capacity(a.length, need, limit));
  b.set(a);
  return b;
}

function growUint32(a: Uint32Array<ArrayBuffer>, need: number, limit: number): Uint32Array<ArrayBuffer> {
  if (need <= a.length) return a;
  const b = new Uint32Array(capacity(a.length, need, limit));
  b.set(a);
  return b;
}

function growUint8(a: Uint8Array<ArrayBuffer>, need: number, limit: number): Uint8Array<ArrayBuffer> {
  if (need <= a.length) return a;
  const b = new Uint8Array(capacity(a.length, need, limit));
  b.set(a);
  return b;
}

/** Doubling, but never past `limit` (when the need fits): a full memory is sized exactly. */
function capacity(length: number, need: number, limit: number): number {
  const doubled = Math.max(16, length * 2);
  return Math.max(need, Math.min(doubled, limit));
}

function hashFacts(facts: ArrayLike<number>, n: number): number {
  let h = 0x811c9dc5 ^ n;
  for (let i = 0; i < n; i++) {
    h = Math.imul(h ^ facts[i]!, 0x01000193);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}

/** Semi-contexts of one side: their fact sets in one pool, and (below the cap) a lookup table. */
class SemiContexts {
  count = 0;
  start = new Int32Array(0);
  size = new Int32Array(0);
  pool = new Int32Array(0);
  private poolUsed = 0;
  /** open addressing, semi-context ids, NONE when empty; undefined once released */
  private table: Int32Array | undefined = new Int32Array(16).fill(NONE);

  constructor(private readonly limit: number) {}

  find(facts: readonly number[]): number {
    const table = this.table!;
    const n = facts.length;
    const mask = table.length - 1;
    for (let slot = hashFacts(facts, n) & mask; ; slot = (slot + 1) & mask) {
      const id = table[slot]!;
      if (id === NONE) return NONE;
      if (this.size[id] !== n) continue;
      const s = this.start[id]!;
      let same = true;
      for (let i = 0; i < n; i++) {
        if (this.pool[s + i] !== facts[i]) { same = false; break; }
      }
      if (same) return id;
    }
  }

  add(facts: readonly number[]): number {
    const id = this.count++;
    this.start = growInt32(this.start, this.count, this.limit);
    this.size = growInt32(this.size, this.count, this.limit);
    const n = facts.length;
    if (this.poolUsed + n > this.pool.length) {
      const b = new Int32Array(Math.max(64, this.pool.length * 2, this.poolUsed + n));
      b.set(this.pool);
      this.pool = b;
    }
    this.start[id] = this.poolUsed;
    this.size[id] = n;
    for (let i = 0; i < n; i++) this.pool[this.poolUsed + i] = facts[i]!;
    this.poolUsed += n;
    if (this.table !== undefined) {
      if (this.count * 2 > this.table.length) this.rehash(this.table.length * 2);
      this.insert(id);
    }
    return id;
  }

  /** No more lookups (the memory is full): free the table, and the facts unless still read. */
  release(keepFacts: boolean): void {
    this.table = undefined;
    if (!keepFacts) {
      this.start = new Int32Array(0);
      this.size = new Int32Array(0);
      this.pool = new Int32Array(0);
    } else if (this.pool.length > this.poolUsed) {
      this.pool = this.pool.slice(0, this.poolUsed);
    }
  }

  private insert(id: number): void {
    const table = this.table!;
    const mask = table.length - 1;
    let slot = hashFacts(this.pool.subarray(this.start[id]!), this.size[id]!) & mask;
    while (table[slot] !== NONE) slot = (slot + 1) & mask;
    table[slot] = id;
  }

  private rehash(length: number): void {
    this.table = new Int32Array(length).fill(NONE);
    for (let id = 0; id < this.count; id++) this.insert(id);
  }
}

export class ContextMemory {
  private readonly maxLeftSemiContextLength: number;
  private readonly maxContexts: number;
  private readonly maxActiveNeurons: number;
  /** 32-bit words of a right-fact mask */
  private readonly words: number;
  /** limit of the per-context and per-semi-context arrays (exact size at the cap) */
  private readonly limit: number;

  private readonly lefts: SemiContexts;
  private readonly rights: SemiContexts;

  // Contexts (struct of arrays), by context id.
  private contexts = 0;
  /**
   * Per context (by slot, see `slotContext`), one array per field, so that one left's contexts
   * are one run in each (separate arrays index faster than one interleaved record):
   * `selected` sums right-half sizes over the times the left half was fully active, `predicted`
   * the right-half facts that then appeared, `activations` counts the times the whole context was
   * active (all integers, exact in doubles), `ctxRight` is its right id.
   */
  private selected = new Float64Array(0);
  private predicted = new Float64Array(0);
  private activations = new Float64Array(0);
  private ctxRight = new Int32Array(0);
  /** next context of the same left, in creation order */
  private ctxNext = new Int32Array(0);
  private zeroLevel = new Uint8Array(0);
  /**
   * Once full, contexts are stored by left (contiguous, creation order within a left: the hot
   * loop reads memory in order); `slotContext` maps a storage slot back to the context id. Before
   * that, slot = context id and this is undefined.
   */
  private slotContext: Int32Array | undefined;

  // Left semi-contexts, by left id.
  /**
   * What the hot loops read of a left, in one record of `leftStride` numbers at `left * leftStride`:
   * its first and last context (ids while learning, slots once full), its best prediction weight
   * and the union of the right facts of its contexts reaching that weight (`words` 32-bit words).
   */
  private leftHot = new Float64Array(0);
  private readonly leftStride: number;
  /** next left filed under the same fact (while learning) */
  private leftNextFiled = new Int32Array(0);
  private leftHasZero = new Uint8Array(0);
  /**
   * Once full: the lefts filed under each fact, contiguous, each as [left id, size, facts...];
   * fact f's records are filedRecords[filedOffset[f] .. filedOffset[f + 1]).
   */
  private filedRecords: Int32Array | undefined;
  private filedOffset = new Int32Array(0);

  // Right semi-contexts, by right id.
  private rightMask = new Uint32Array(0);
  private rightCrossedStamp = new Int32Array(0);
  private rightCrossed = new Int32Array(0);
  /** 1 when the right is fully crossed (and not empty) this step, else 0 */
  private rightActive = new Int32Array(0);
  /** slots of one left's active contexts, appended without branching */
  private activeSlots = new Int32Array(64);

  // By fact.
  private filedFirst = new Int32Array(0);
  private filedCount = new Int32Array(0);
  /** how many left groups held each fact (while learning: it decides where lefts are filed once full) */
  private factUse = new Float64Array(0);
  private leftGroupStamp = new Int32Array(0);
  private currentStamp = new Int32Array(0);

  // Lefts holding a zero-level context, by fact (a linked list of entries); below the cap only.
  private zeroFirst = new Int32Array(0);
  private zeroEntryLeft = new Int32Array(0);
  private zeroEntryNext = new Int32Array(0);
  private zeroEntries = 0;
  private zeroSeen = new Int32Array(0);
  private zeroCrossed = new Int32Array(0);
  private zeroCandidates = new Int32Array(0);

  /** step stamps of the last crossLeft and crossRight */
  private leftGeneration = 0;
  private rightGeneration = 0;
  /** lefts fully matched by the last crossLeft, and how many lefts existed then */
  private fullLefts = new Int32Array(0);
  private fullCount = 0;
  private leftsAtCrossing = 0;
  private lastLeftGroup: number[] = [];
  private readonly predictedMask: Uint32Array;
  private readonly maskScratch: Uint32Array;
  private newContextId = NONE;
  /** activeCount of the last crossRightFull */
  private lastActiveCount = 0;
  private learning = true;

  // The neurons of the last crossRight: top maxActiveNeurons active contexts by (activations, left, right).
  private readonly topK: number;
  private readonly topId: Int32Array;
  private readonly topActivations: Float64Array;
  private readonly topLeft: Int32Array;
  private readonly topRight: Int32Array;
  private topCount = 0;
  /** every active context, when maxActiveNeurons is not a positive integer (rare configurations) */
  private allActive: Array<{ id: number; activations: number; leftId: number; rightId: number }> | undefined;

  constructor(config: ContextMemoryConfig) {
    this.maxLeftSemiContextLength = config.maxLeftSemiContextLength;
    this.maxContexts = config.maxContexts;
    this.maxActiveNeurons = config.maxActiveNeurons;
    this.words = Math.max(1, Math.ceil(config.rightFactLimit / 32));
    this.leftStride = MASK + this.words;
    this.limit = Number.isFinite(config.maxContexts) && config.maxContexts > 0 ? Math.ceil(config.maxContexts) : 2 ** 31 - 1;
    this.lefts = new SemiContexts(this.limit);
    this.rights = new SemiContexts(this.limit);
    this.predictedMask = new Uint32Array(this.words);
    this.maskScratch = new Uint32Array(this.words);
    const k = config.maxActiveNeurons;
    this.topK = Number.isInteger(k) && k > 0 && k <= 4096 ? k : 0;
    if (this.topK === 0) this.allActive = [];
    const n = this.topK;
    this.topId = new Int32Array(n);
    this.topActivations = new Float64Array(n);
    this.topLeft = new Int32Array(n);
    this.topRight = new Int32Array(n);
  }

  get contextCount(): number {
    return this.contexts;
  }

  get semiContextCount(): number {
    return this.lefts.count + this.rights.count;
  }

  /** True when the last `crossLeft` predicted `fact` (a right fact). */
  predicts(fact: number): boolean {
    const w = fact >>> 5;
    return w < this.words && ((this.predictedMask[w]! >>> (fact & 31)) & 1) === 1;
  }

  /**
   * Stores the zero-level context (left, right); returns true when it was new.
   */
  addZeroLevelContext(left: readonly number[], right: readonly number[]): boolean {
    // Full: nothing can be created, and the zero-level mark only matters for learning.
    if (this.contexts >= this.maxContexts) return false;
    return this.findOrCreate(left, right, true) === 'created';
  }

  /** Stores contexts learned from crossings; returns how many were new. */
  addContexts(pairs: readonly ContextPair[]): number {
    let added = 0;
    // When the memory is full nothing can be created and found contexts need no update.
    if (this.contexts >= this.maxContexts) return 0;
    for (const [left, right] of pairs) if (this.findOrCreate(left, right, false) === 'created') added++;
    return added;
  }

  private findOrCreate(left: readonly number[], right: readonly number[], zeroLevel: boolean): 'created' | 'found' | 'full' {
    let leftId = this.lefts.find(left);
    let rightId = this.rights.find(right);
    if (leftId !== NONE && rightId !== NONE) {
      for (let c = this.leftHot[leftId * this.leftStride + FIRST]!; c !== NONE; c = this.ctxNext[c]!) {
        if (this.ctxRight[c] === rightId) {
          if (zeroLevel) this.markZeroLevel(c, leftId);
          return 'found';
        }
      }
    }
    if (this.contexts >= this.maxContexts) return 'full';
    if (leftId === NONE) leftId = this.createLeft(left);
    if (rightId === NONE) rightId = this.createRight(right);
    const id = this.createContext(leftId, rightId);
    if (zeroLevel) {
      this.markZeroLevel(id, leftId);
      this.newContextId = id;
    }
    return 'created';
  }

  private createLeft(facts: readonly number[]): number {
    const id = this.lefts.add(facts);
    const n = id + 1;
    const stride = this.leftStride;
    this.leftHot = growFloat64(this.leftHot, n * stride, this.limit * stride);
    this.leftNextFiled = growInt32(this.leftNextFiled, n, this.limit);
    this.leftHasZero = growUint8(this.leftHasZero, n, this.limit);
    const lh = id * stride;
    this.leftHot[lh + FIRST] = NONE;
    this.leftHot[lh + LAST] = NONE;
    this.leftHot[lh + BEST] = 0;
    for (let w = 0; w < this.words; w++) this.leftHot[lh + MASK + w] = 0;
    this.leftHasZero[id] = 0;
    // File it under its fact with the fewest lefts filed so far (the shortest list to visit).
    let file = NONE;
    let fewest = Infinity;
    for (const fact of facts) {
      this.ensureFact(fact);
      const filed = this.filedCount[fact]!;
      if (filed < fewest) { fewest = filed; file = fact; }
    }
    if (file !== NONE) {
      this.leftNextFiled[id] = this.filedFirst[file]!;
      this.filedFirst[file] = id;
      this.filedCount[file]!++;
    } else {
      this.leftNextFiled[id] = NONE;
    }
    return id;
  }

  private createRight(facts: readonly number[]): number {
    const id = this.rights.add(facts);
    const n = id + 1;
    this.rightMask = growUint32(this.rightMask, n * this.words, this.limit * this.words);
    this.rightCrossedStamp = growInt32(this.rightCrossedStamp, n, this.limit);
    this.rightCrossed = growInt32(this.rightCrossed, n, this.limit);
    this.rightActive = growInt32(this.rightActive, n, this.limit);
    this.rightCrossedStamp[id] = 0;
    const base = id * this.words;
    for (let w = 0; w < this.words; w++) this.rightMask[base + w] = 0;
    for (const fact of facts) {
      if (!(fact >= 0 && fact >>> 5 < this.words)) throw new RangeError(`right fact ${fact} is outside the declared range`);
      this.rightMask[base + (fact >>> 5)]! |= 1 << (fact & 31);
    }
    return id;
  }

  private createContext(leftId: number, rightId: number): number {
    const id = this.contexts++;
    const n = this.contexts;
    this.selected = growFloat64(this.selected, n, this.limit);
    this.predicted = growFloat64(this.predicted, n, this.limit);
    this.activations = growFloat64(this.activations, n, this.limit);
    this.ctxRight = growInt32(this.ctxRight, n, this.limit);
    this.ctxNext = growInt32(this.ctxNext, n, this.limit);
    this.zeroLevel = growUint8(this.zeroLevel, n, this.limit);
    this.ctxRight[id] = rightId;
    this.ctxNext[id] = NONE;
    const hot = this.leftHot;
    const lh = leftId * this.leftStride;
    const last = hot[lh + LAST]!;
    if (last === NONE) hot[lh + FIRST] = id;
    else this.ctxNext[last] = id;
    hot[lh + LAST] = id;
    // Its weight is 0: it joins the left's best only when that best is 0.
    if (hot[lh + BEST] === 0) {
      const rb = rightId * this.words;
      for (let w = 0; w < this.words; w++) hot[lh + MASK + w] = (hot[lh + MASK + w]! | this.rightMask[rb + w]!) >>> 0;
    }
    return id;
  }

  private markZeroLevel(contextId: number, leftId: number): void {
    this.zeroLevel[contextId] = 1;
    if (this.leftHasZero[leftId] === 1 || !this.learning) return;
    this.leftHasZero[leftId] = 1;
    const s = this.lefts.start[leftId]!;
    const e = s + this.lefts.size[leftId]!;
    const need = this.zeroEntries + (e - s);
    this.zeroEntryLeft = growInt32(this.zeroEntryLeft, need, Infinity);
    this.zeroEntryNext = growInt32(this.zeroEntryNext, need, Infinity);
    for (let i = s; i < e; i++) {
      const fact = this.lefts.pool[i]!;
      this.ensureFact(fact);
      const entry = this.zeroEntries++;
      this.zeroEntryLeft[entry] = leftId;
      this.zeroEntryNext[entry] = this.zeroFirst[fact]!;
      this.zeroFirst[fact] = entry;
    }
  }

  private ensureFact(fact: number): void {
    const n = fact + 1;
    if (n <= this.leftGroupStamp.length) return;
    if (!(Number.isInteger(fact) && fact >= 0)) throw new RangeError(`fact ${fact} is not a non-negative integer`);
    this.leftGroupStamp = growInt32(this.leftGroupStamp, n, Infinity);
    if (!this.learning) return;
    this.filedFirst = growInt32(this.filedFirst, n, Infinity, NONE);
    this.filedCount = growInt32(this.filedCount, n, Infinity);
    this.factUse = growFloat64(this.factUse, n, Infinity);
    this.zeroFirst = growInt32(this.zeroFirst, n, Infinity, NONE);
  }

  /** Once full, nothing is learned any more: free what only learning uses. */
  private releaseLearning(): void {
    this.learning = false;
    this.compactByLeft();
    // crossLeft now reads the lefts' facts from the filed records; rights' facts are still read.
    this.lefts.release(false);
    this.rights.release(true);
    this.zeroFirst = new Int32Array(0);
    this.zeroEntryLeft = new Int32Array(0);
    this.zeroEntryNext = new Int32Array(0);
    this.zeroSeen = new Int32Array(0);
    this.zeroCrossed = new Int32Array(0);
    this.zeroCandidates = new Int32Array(0);
    this.lastLeftGroup = [];
  }

  /** Re-lays the contexts contiguously by left (nothing is added any more). */
  private compactByLeft(): void {
    const n = this.contexts;
    const slotContext = new Int32Array(n);
    let slot = 0;
    const hot = this.leftHot;
    for (let left = 0; left < this.lefts.count; left++) {
      const first = slot;
      const lh = left * this.leftStride;
      for (let c = hot[lh + FIRST]!; c !== NONE; c = this.ctxNext[c]!) slotContext[slot++] = c;
      hot[lh + FIRST] = first;
      hot[lh + LAST] = slot - 1;
    }
    const selected = new Float64Array(n);
    const predicted = new Float64Array(n);
    const activations = new Float64Array(n);
    const ctxRight = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = slotContext[i]!;
      selected[i] = this.selected[c]!;
      predicted[i] = this.predicted[c]!;
      activations[i] = this.activations[c]!;
      ctxRight[i] = this.ctxRight[c]!;
    }
    this.selected = selected;
    this.predicted = predicted;
    this.activations = activations;
    this.ctxRight = ctxRight;
    this.ctxNext = new Int32Array(0);
    this.zeroLevel = new Uint8Array(0);
    this.slotContext = slotContext;
    // The filed lists as contiguous records with the facts inline (crossLeft reads them in order).
    // Each left is filed anew under its fact that was least often in a left group so far: a
    // crossing visits the lefts filed under the group's facts, and a left can only be fully
    // matched when all its facts are in the group (which lefts match does not depend on where
    // they are filed, nor does anything depend on the order in which they are found).
    const facts = this.filedFirst.length;
    const use = this.factUse;
    const lefts = this.lefts;
    const fileOf = new Int32Array(lefts.count);
    const offset = new Int32Array(facts + 1);
    for (let left = 0; left < lefts.count; left++) {
      const s = lefts.start[left]!;
      const e = s + lefts.size[left]!;
      let file = NONE;
      for (let i = s; i < e; i++) {
        const f = lefts.pool[i]!;
        if (file === NONE || use[f]! < use[file]!) file = f;
      }
      fileOf[left] = file;
      // An empty left is filed nowhere (it is never fully matched, as before).
      if (file !== NONE) offset[file + 1]! += 2 + (e - s);
    }
    for (let f = 0; f < facts; f++) offset[f + 1]! += offset[f]!;
    const records = new Int32Array(offset[facts]!);
    const at = offset.slice(0, facts);
    for (let left = 0; left < lefts.count; left++) {
      const file = fileOf[left]!;
      if (file === NONE) continue;
      const size = lefts.size[left]!;
      const s = lefts.start[left]!;
      const a = at[file]!;
      records[a] = left;
      records[a + 1] = size;
      records.set(lefts.pool.subarray(s, s + size), a + 2);
      at[file] = a + 2 + size;
    }
    this.filedRecords = records;
    this.filedOffset = offset;
    this.filedFirst = new Int32Array(0);
    this.filedCount = new Int32Array(0);
    this.factUse = new Float64Array(0);
    this.leftNextFiled = new Int32Array(0);
    this.leftHasZero = new Uint8Array(0);
  }

  /** How many facts of right `r` are in the current facts (stamped by crossRight). */
  private crossedOfRight(r: number): number {
    if (this.rightCrossedStamp[r] === this.rightGeneration) return this.rightCrossed[r]!;
    const s = this.rights.start[r]!;
    const e = s + this.rights.size[r]!;
    const stamp = this.currentStamp;
    const g = this.rightGeneration;
    let n = 0;
    for (let i = s; i < e; i++) {
      const f = this.rights.pool[i]!;
      if (f < stamp.length && stamp[f] === g) n++;
    }
    this.rightCrossedStamp[r] = g;
    this.rightCrossed[r] = n;
    this.rightActive[r] = n > 0 && n === e - s ? 1 : 0;
    return n;
  }

  /**
   * Crosses the current facts with the right semi-contexts, then updates the statistics of every
   * context whose left half was fully active at the previous step.
   */
  crossRight(facts: readonly number[], newContextFlag: boolean): CrossRightResult {
    const g = ++this.rightGeneration;
    for (const fact of facts) {
      if (fact >= this.currentStamp.length) this.currentStamp = growInt32(this.currentStamp, fact + 1, Infinity);
      this.currentStamp[fact] = g;
    }
    this.topCount = 0;
    if (this.allActive !== undefined) this.allActive = [];
    const newId = this.newContextId;
    if (this.slotContext !== undefined && this.words === 1 && this.topK > 0 && newId === NONE && this.rights.count <= 4 * this.fullCount + 64) {
      const selectedCount = this.crossRightFull();
      return { selectedCount, activeCount: this.lastActiveCount, potentialNew: EMPTY_PAIRS };
    }

    let selectedCount = 0;
    let activeCount = 0;
    const words = this.words;
    // Locals: the hot loop of the detector (every context of every fully matched left).
    const fullLefts = this.fullLefts;
    const hot = this.leftHot;
    const stride = this.leftStride;
    const ctxNext = this.ctxNext;
    const selected = this.selected;
    const predicted = this.predicted;
    const activations = this.activations;
    const ctxRight = this.ctxRight;
    const rightSizes = this.rights.size;
    const rightMask = this.rightMask;
    const rightStamp = this.rightCrossedStamp;
    const rightCrossedCount = this.rightCrossed;
    const rightActive = this.rightActive;
    const scratch = this.maskScratch;
    const k = this.topK;
    const slotContext = this.slotContext;
    const compact = slotContext !== undefined;
    for (let i = 0; i < this.fullCount; i++) {
      const left = fullLefts[i]!;
      const lh = left * stride;
      let best = 0;
      let mask = 0;
      let actives = 0;
      let slots = this.activeSlots;
      if (words > 1) scratch.fill(0);
      // Linked by ctxNext while learning; once full, slots FIRST..LAST in order. The counts are
      // updated without branching on the data (adding 0 leaves these non-negative sums as they
      // are): which rights matched is close to random from one context to the next.
      const end = compact ? hot[lh + LAST]! + 1 : NONE;
      for (let c = hot[lh + FIRST]!; c !== end; c = compact ? c + 1 : ctxNext[c]!) {
        const r = ctxRight[c]!;
        if (c !== newId) {
          const rightCrossed = rightStamp[r] === g ? rightCrossedCount[r]! : this.crossedOfRight(r);
          const active = rightActive[r]!;
          selectedCount++;
          selected[c]! += rightSizes[r]!;
          predicted[c]! += rightCrossed;
          activations[c]! += active;
          if (actives === slots.length) slots = this.activeSlots = growInt32(slots, actives + 1, Infinity);
          slots[actives] = c;
          actives += active;
        }
        // The left's best weight, exactly as crossLeft ranks contexts.
        const sel = selected[c]!;
        const weight = sel > 0 ? predicted[c]! / sel : 0;
        if (words === 1) {
          if (weight > best) { best = weight; mask = rightMask[r]!; }
          else if (weight === best) mask |= rightMask[r]!;
        } else if (weight > best) {
          best = weight;
          const rb = r * words;
          for (let w = 0; w < words; w++) scratch[w] = rightMask[rb + w]!;
        } else if (weight === best) {
          const rb = r * words;
          for (let w = 0; w < words; w++) scratch[w]! |= rightMask[rb + w]!;
        }
      }
      hot[lh + BEST] = best;
      if (words === 1) hot[lh + MASK] = mask >>> 0;
      else for (let w = 0; w < words; w++) hot[lh + MASK + w] = scratch[w]!;
      // The left's active contexts compete for the neurons.
      activeCount += actives;
      for (let j = 0; j < actives; j++) {
        const c = slots[j]!;
        const a = activations[c]!;
        const r = ctxRight[c]!;
        if (k === 0 || this.topCount < k || ranksAbove(a, left, r, this.topActivations[0]!, this.topLeft[0]!, this.topRight[0]!)) {
          this.offerNeuron(compact ? slotContext[c]! : c, a, left, r);
        }
      }
    }

    const potentialNew = newContextFlag && this.learning ? this.potentialNewContexts(newId) : EMPTY_PAIRS;
    this.newContextId = NONE;
    if (this.learning && this.contexts >= this.maxContexts) this.releaseLearning();
    return { selectedCount, activeCount, potentialNew };
  }

  /**
   * crossRight's loop once the memory is full (contexts stored by left, nothing new) with one
   * mask word and a bounded neuron count: the detector's worst case. The same updates and the
   * same comparisons as the general loop, specialised. Returns the selected count.
   */
  private crossRightFull(): number {
    // Every right's crossing up front (there are few rights), so the loop below calls nothing.
    for (let r = 0; r < this.rights.count; r++) this.crossedOfRight(r);
    const fullLefts = this.fullLefts;
    const hot = this.leftHot;
    const stride = this.leftStride;
    const selected = this.selected;
    const predicted = this.predicted;
    const activations = this.activations;
    const ctxRight = this.ctxRight;
    const rightSizes = this.rights.size;
    const rightMask = this.rightMask;
    const rightCrossedCount = this.rightCrossed;
    const rightActive = this.rightActive;
    const slotContext = this.slotContext!;
    const k = this.topK;
    const full = this.fullCount;
    const topActivations = this.topActivations;
    const topLeft = this.topLeft;
    const topRight = this.topRight;
    let filling = this.topCount < k;
    let rootActivations = topActivations[0]!;
    let rootLeft = topLeft[0]!;
    let rootRight = topRight[0]!;
    let selectedCount = 0;
    let activeCount = 0;
    for (let i = 0; i < full; i++) {
      const left = fullLefts[i]!;
      const lh = left * stride;
      const first = hot[lh + FIRST]!;
      const end = hot[lh + LAST]! + 1;
      let best = 0;
      let mask = 0;
      let actives = 0;
      let slots = this.activeSlots;
      if (end - first > slots.length) slots = this.activeSlots = growInt32(slots, end - first, Infinity);
      selectedCount += end - first;
      for (let c = first; c < end; c++) {
        const r = ctxRight[c]!;
        const active = rightActive[r]!;
        const sel = (selected[c]! += rightSizes[r]!);
        const pred = (predicted[c]! += rightCrossedCount[r]!);
        activations[c]! += active;
        slots[actives] = c;
        actives += active;
        // sel is 0 only for an empty right (weight 0 in the general loop, NaN here): either way
        // neither best nor mask changes, since an empty right's mask is 0.
        const weight = pred / sel;
        if (weight > best) { best = weight; mask = rightMask[r]!; }
        else if (weight === best) mask |= rightMask[r]!;
      }
      hot[lh + BEST] = best;
      hot[lh + MASK] = mask >>> 0;
      activeCount += actives;
      // Most active contexts rank below the lowest neuron so far (the heap's root, kept in locals).
      for (let j = 0; j < actives; j++) {
        const c = slots[j]!;
        const a = activations[c]!;
        const r = ctxRight[c]!;
        if (filling || ranksAbove(a, left, r, rootActivations, rootLeft, rootRight)) {
          this.offerNeuron(slotContext[c]!, a, left, r);
          filling = this.topCount < k;
          rootActivations = topActivations[0]!;
          rootLeft = topLeft[0]!;
          rootRight = topRight[0]!;
        }
      }
    }
    this.lastActiveCount = activeCount;
    return selectedCount;
  }

  /**
   * The contexts the zero-level contexts of the lefts crossed at the previous step suggest: (the
   * crossed part of the left, the crossed part of the right), by left id then context id.
   */
  private potentialNewContexts(newId: number): ContextPair[] {
    const group = this.lastLeftGroup;
    const leftsThen = this.leftsAtCrossing;
    this.zeroSeen = growInt32(this.zeroSeen, leftsThen, Infinity);
    this.zeroCrossed = growInt32(this.zeroCrossed, leftsThen, Infinity);
    this.zeroCandidates = growInt32(this.zeroCandidates, leftsThen, Infinity);
    const stamp = this.leftGeneration;
    let candidates = 0;
    for (const fact of group) {
      if (fact >= this.zeroFirst.length) continue;
      for (let e = this.zeroFirst[fact]!; e !== NONE; e = this.zeroEntryNext[e]!) {
        const left = this.zeroEntryLeft[e]!;
        if (left >= leftsThen) continue;
        if (this.zeroSeen[left] !== stamp) {
          this.zeroSeen[left] = stamp;
          this.zeroCrossed[left] = 0;
          this.zeroCandidates[candidates++] = left;
        }
        this.zeroCrossed[left]!++;
      }
    }
    if (candidates === 0) return EMPTY_PAIRS;
    const order = this.zeroCandidates.subarray(0, candidates).sort();
    const pairs: ContextPair[] = [];
    for (const left of order) {
      const crossed = this.zeroCrossed[left]!;
      if (crossed > this.maxLeftSemiContextLength) continue;
      const leftFull = crossed === this.lefts.size[left];
      let leftFacts: number[] | undefined;
      for (let c = this.leftHot[left * this.leftStride + FIRST]!; c !== NONE; c = this.ctxNext[c]!) {
        if (c === newId || this.zeroLevel[c] !== 1) continue;
        const r = this.ctxRight[c]!;
        const rightCrossed = this.crossedOfRight(r);
        if (rightCrossed === 0 || (leftFull && rightCrossed === this.rights.size[r])) continue;
        leftFacts ??= this.crossedFactsOfLeft(left);
        pairs.push([leftFacts.slice(), this.crossedFactsOfRight(r)]);
      }
    }
    return pairs;
  }

  private crossedFactsOfLeft(left: number): number[] {
    const out: number[] = [];
    const s = this.lefts.start[left]!;
    const e = s + this.lefts.size[left]!;
    for (let i = s; i < e; i++) {
      const f = this.lefts.pool[i]!;
      if (this.leftGroupStamp[f] === this.leftGeneration) out.push(f);
    }
    return out;
  }

  private crossedFactsOfRight(right: number): number[] {
    const out: number[] = [];
    const s = this.rights.start[right]!;
    const e = s + this.rights.size[right]!;
    for (let i = s; i < e; i++) {
      const f = this.rights.pool[i]!;
      if (f < this.currentStamp.length && this.currentStamp[f] === this.rightGeneration) out.push(f);
    }
    return out;
  }

  /** Keeps the `topK` highest-ranked active contexts in a min-heap (the root ranks lowest). */
  private offerNeuron(id: number, activations: number, left: number, right: number): void {
    const k = this.topK;
    if (k === 0) {
      this.allActive!.push({ id, activations, leftId: left, rightId: right });
      return;
    }
    const ids = this.topId;
    const acts = this.topActivations;
    const lefts = this.topLeft;
    const rights = this.topRight;
    let i: number;
    if (this.topCount < k) {
      // Sift up from the new leaf.
      i = this.topCount++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!ranksAbove(acts[p]!, lefts[p]!, rights[p]!, activations, left, right)) break;
        ids[i] = ids[p]!;
        acts[i] = acts[p]!;
        lefts[i] = lefts[p]!;
        rights[i] = rights[p]!;
        i = p;
      }
    } else {
      if (!ranksAbove(activations, left, right, acts[0]!, lefts[0]!, rights[0]!)) return;
      // Replace the root and sift down.
      const n = this.topCount;
      i = 0;
      for (;;) {
        let m = 2 * i + 1;
        if (m >= n) break;
        const r = m + 1;
        if (r < n && ranksAbove(acts[m]!, lefts[m]!, rights[m]!, acts[r]!, lefts[r]!, rights[r]!)) m = r;
        if (!ranksAbove(activations, left, right, acts[m]!, lefts[m]!, rights[m]!)) break;
        ids[i] = ids[m]!;
        acts[i] = acts[m]!;
        lefts[i] = lefts[m]!;
        rights[i] = rights[m]!;
        i = m;
      }
    }
    ids[i] = id;
    acts[i] = activations;
    lefts[i] = left;
    rights[i] = right;
  }

  /**
   * The neurons of the last crossRight: the ids of the `maxActiveNeurons` highest-ranked active
   * contexts (ranked by activations, then left id, then right id): ascending by id, except in the
   * rare configurations without a bounded neuron count (then in rank order).
   */
  neurons(): number[] {
    if (this.allActive !== undefined) {
      const active = this.allActive;
      active.sort((a, b) => a.activations - b.activations || a.leftId - b.leftId || a.rightId - b.rightId);
      return active.slice(-this.maxActiveNeurons).map((a) => a.id);
    }
    // Ascending (an insertion sort of at most topK ids): the caller's sort then has nothing to do.
    const ids = this.topId;
    const out: number[] = [];
    for (let i = 0; i < this.topCount; i++) {
      const id = ids[i]!;
      let j = i;
      out.push(id);
      while (j > 0 && out[j - 1]! > id) { out[j] = out[j - 1]!; j--; }
      out[j] = id;
    }
    return out;
  }

  /**
   * Crosses the new left group (sorted ascending) with the left semi-contexts; afterwards
   * `predicts` tells the facts predicted by the fully matched contexts with the best record.
   */
  crossLeft(facts: readonly number[]): void {
    const g = ++this.leftGeneration;
    for (const fact of facts) {
      this.ensureFact(fact);
      this.leftGroupStamp[fact] = g;
    }
    this.leftsAtCrossing = this.lefts.count;
    if (this.learning) {
      this.lastLeftGroup = facts.slice();
      for (const fact of facts) this.factUse[fact]!++;
    }
    this.fullLefts = growInt32(this.fullLefts, this.lefts.count, this.limit);

    const stamp = this.leftGroupStamp;
    const hot = this.leftHot;
    const stride = this.leftStride;
    const fullLefts = this.fullLefts;
    let full = 0;
    let best = 0;
    const records = this.filedRecords;
    if (records === undefined) {
      // While learning: the filed lists are linked, the facts in the semi-context pool.
      const pool = this.lefts.pool;
      const start = this.lefts.start;
      const size = this.lefts.size;
      for (const fact of facts) {
        for (let left = this.filedFirst[fact]!; left !== NONE; left = this.leftNextFiled[left]!) {
          const s = start[left]!;
          const e = s + size[left]!;
          let i = s;
          while (i < e && stamp[pool[i]!] === g) i++;
          if (i < e) continue;
          fullLefts[full++] = left;
          const w = hot[left * stride + BEST]!;
          if (w > best) best = w;
        }
      }
    } else {
      // Full: each fact's lefts are contiguous records [left, size, facts...].
      const offset = this.filedOffset;
      for (const fact of facts) {
        if (fact + 1 >= offset.length) continue;
        const end = offset[fact + 1]!;
        for (let at = offset[fact]!; at < end; ) {
          const left = records[at]!;
          const e = at + 2 + records[at + 1]!;
          let i = at + 2;
          while (i < e && stamp[records[i]!] === g) i++;
          at = e;
          if (i < e) continue;
          fullLefts[full++] = left;
          const w = hot[left * stride + BEST]!;
          if (w > best) best = w;
        }
      }
    }
    this.fullCount = full;

    const words = this.words;
    const mask = this.predictedMask;
    mask.fill(0);
    for (let i = 0; i < full; i++) {
      const lh = fullLefts[i]! * stride;
      if (hot[lh + BEST] !== best) continue;
      for (let w = 0; w < words; w++) mask[w]! |= hot[lh + MASK + w]!;
    }
  }
}

/** (a, l, r) ranks strictly above (b, m, s): more activations, then higher left id, then right id. */
function ranksAbove(a: number, l: number, r: number, b: number, m: number, s: number): boolean {
  return a > b || (a === b && (l > m || (l === m && r > s)));
}
