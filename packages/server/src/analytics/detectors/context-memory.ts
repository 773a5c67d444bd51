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
 */

interface LeftSemiContext {
  id: number;
  size: number;
  /** facts of the last crossing that belong to this semi-context */
  crossed: number[];
  /** right semi-context id → context id */
  contexts: Map<number, number>;
}

interface RightSemiContext {
  id: number;
  size: number;
  crossed: number[];
}

interface Context {
  /** sum of right-half sizes over the times the left half was fully active */
  selected: number;
  /** sum of right-half facts that then actually appeared */
  predicted: number;
  /** times the whole context was active */
  activations: number;
  rightFacts: readonly number[];
  zeroLevel: boolean;
  leftId: number;
  rightId: number;
}

export type ContextPair = readonly [readonly number[], readonly number[]];

export interface ActiveContexts {
  /** ids of contexts fully matched by the previous left group and the current facts */
  active: Array<{ id: number; activations: number; leftId: number; rightId: number }>;
  selectedCount: number;
  potentialNew: ContextPair[];
}

const keyOf = (facts: readonly number[]): string => facts.join(',');

export class ContextMemory {
  private readonly semiIds: [Map<string, number>, Map<string, number>] = [new Map(), new Map()];
  private readonly lefts: LeftSemiContext[] = [];
  private readonly rights: RightSemiContext[] = [];
  private readonly leftsByFact = new Map<number, LeftSemiContext[]>();
  private readonly rightsByFact = new Map<number, RightSemiContext[]>();
  private crossedLefts: LeftSemiContext[] = [];
  private crossedRights: RightSemiContext[] = [];
  private readonly contexts: Context[] = [];
  private newContextId = -1;

  constructor(
    private readonly maxLeftSemiContextLength: number,
    private readonly maxContexts: number,
  ) {}

  get contextCount(): number {
    return this.contexts.length;
  }

  get semiContextCount(): number {
    return this.lefts.length + this.rights.length;
  }

  /**
   * Stores the zero-level context (left, right); returns true when it was new.
   */
  addZeroLevelContext(left: readonly number[], right: readonly number[]): boolean {
    const found = this.findOrCreate(left, right, true);
    return found === 'created';
  }

  /** Stores contexts learned from crossings; returns how many were new. */
  addContexts(pairs: readonly ContextPair[]): number {
    let added = 0;
    // When the memory is full nothing can be created and found contexts need no update.
    if (this.contexts.length >= this.maxContexts) return 0;
    for (const [left, right] of pairs) if (this.findOrCreate(left, right, false) === 'created') added++;
    return added;
  }

  private findOrCreate(left: readonly number[], right: readonly number[], zeroLevel: boolean): 'created' | 'found' | 'full' {
    const leftKey = keyOf(left);
    const rightKey = keyOf(right);
    let leftId = this.semiIds[0].get(leftKey);
    let rightId = this.semiIds[1].get(rightKey);
    const leftSemi = leftId === undefined ? undefined : this.lefts[leftId];
    const existing = leftSemi && rightId !== undefined ? leftSemi.contexts.get(rightId) : undefined;
    if (existing !== undefined) {
      if (zeroLevel) this.contexts[existing]!.zeroLevel = true;
      return 'found';
    }
    if (this.contexts.length >= this.maxContexts) return 'full';
    if (leftId === undefined) {
      leftId = this.lefts.length;
      const semi: LeftSemiContext = { id: leftId, size: left.length, crossed: [], contexts: new Map() };
      this.lefts.push(semi);
      this.semiIds[0].set(leftKey, leftId);
      for (const fact of left) pushTo(this.leftsByFact, fact, semi);
    }
    if (rightId === undefined) {
      rightId = this.rights.length;
      const semi: RightSemiContext = { id: rightId, size: right.length, crossed: [] };
      this.rights.push(semi);
      this.semiIds[1].set(rightKey, rightId);
      for (const fact of right) pushTo(this.rightsByFact, fact, semi);
    }
    const id = this.contexts.length;
    this.lefts[leftId]!.contexts.set(rightId, id);
    this.contexts.push({
      selected: 0, predicted: 0, activations: 0, rightFacts: right, zeroLevel, leftId, rightId,
    });
    if (zeroLevel) this.newContextId = id;
    return 'created';
  }

  /**
   * Crosses the current facts with the right semi-contexts, then updates the statistics of every
   * context whose left half was fully active at the previous step.
   */
  crossRight(facts: readonly number[], newContextFlag: boolean): ActiveContexts {
    for (const semi of this.crossedRights) semi.crossed = [];
    const touched = new Set<RightSemiContext>();
    for (const fact of facts) {
      for (const semi of this.rightsByFact.get(fact) ?? []) {
        semi.crossed.push(fact);
        touched.add(semi);
      }
    }
    this.crossedRights = [...touched];

    const active: ActiveContexts['active'] = [];
    const potentialNew: ContextPair[] = [];
    let selectedCount = 0;
    for (const left of this.crossedLefts) {
      const leftFull = left.size === left.crossed.length;
      for (const [rightId, contextId] of left.contexts) {
        if (contextId === this.newContextId) continue;
        const ctx = this.contexts[contextId]!;
        const right = this.rights[rightId]!;
        const rightCrossed = right.crossed.length;
        if (leftFull) {
          selectedCount++;
          ctx.selected += right.size;
          if (rightCrossed > 0) {
            ctx.predicted += rightCrossed;
            if (rightCrossed === right.size) {
              ctx.activations++;
              active.push({ id: contextId, activations: ctx.activations, leftId: ctx.leftId, rightId: ctx.rightId });
            } else if (ctx.zeroLevel && newContextFlag && left.crossed.length <= this.maxLeftSemiContextLength) {
              potentialNew.push([left.crossed.slice(), right.crossed.slice()]);
            }
          }
        } else if (ctx.zeroLevel && newContextFlag && rightCrossed > 0 && left.crossed.length <= this.maxLeftSemiContextLength) {
          potentialNew.push([left.crossed.slice(), right.crossed.slice()]);
        }
      }
    }
    this.newContextId = -1;
    return { active, selectedCount, potentialNew };
  }

  /**
   * Crosses the new left group with the left semi-contexts and returns the facts predicted by the
   * fully matched contexts with the best prediction record.
   */
  crossLeft(facts: readonly number[]): Set<number> {
    for (const semi of this.crossedLefts) semi.crossed = [];
    const touched: LeftSemiContext[] = [];
    for (const fact of facts) {
      for (const semi of this.leftsByFact.get(fact) ?? []) {
        if (semi.crossed.length === 0) touched.push(semi);
        semi.crossed.push(fact);
      }
    }
    // Keep creation order so that results do not depend on the order facts were visited.
    touched.sort((a, b) => a.id - b.id);
    this.crossedLefts = touched;

    let best = 0;
    let predicting: Context[] = [];
    for (const semi of touched) {
      if (semi.size !== semi.crossed.length) continue;
      for (const contextId of semi.contexts.values()) {
        const ctx = this.contexts[contextId]!;
        const weight = ctx.selected > 0 ? ctx.predicted / ctx.selected : 0;
        if (weight > best) { best = weight; predicting = [ctx]; }
        else if (weight === best) predicting.push(ctx);
      }
    }
    const predictions = new Set<number>();
    for (const ctx of predicting) for (const fact of ctx.rightFacts) predictions.add(fact);
    return predictions;
  }
}

function pushTo<T>(map: Map<number, T[]>, key: number, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
