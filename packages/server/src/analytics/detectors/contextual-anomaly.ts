import { ContextMemory } from './context-memory.ts';
import type { DetectorFactory, DetectorInput, DetectorOptions, StreamingDetector } from './detector.ts';

/**
 * Contextual Anomaly Detector (CAD OSE, M. Smirnov; NAB standard 69.9), our own TypeScript
 * implementation. The value is quantised to `valueBits` bits, each bit becomes a fact; the
 * context memory learns which facts follow which groups of facts and active contexts. A sample is
 * anomalous when its facts were not predicted and few of the contexts that should have fired did.
 */
export interface ContextualAnomalyConfig {
  baseThreshold: number;
  /** rest period = probationaryPeriod / restPeriodDivisor samples of silence after a high score */
  restPeriodDivisor: number;
  maxLeftSemiContextLength: number;
  maxActiveNeurons: number;
  valueBits: number;
  /**
   * Hard cap on learned contexts (bounded memory and time: a step costs O(contexts)). On NAB the
   * most any file needs is ~9k, except pure noise (art_noisy: 63k in 4k samples); at the cap the
   * memory stops learning new contexts but keeps scoring with the ones it has.
   */
  maxContexts: number;
}

export const DEFAULT_CONTEXTUAL_ANOMALY: ContextualAnomalyConfig = {
  baseThreshold: 0.75,
  restPeriodDivisor: 5,
  maxLeftSemiContextLength: 7,
  maxActiveNeurons: 15,
  valueBits: 3,
  maxContexts: 20_000,
};

/**
 * Facts are small integers (they index the context memory's arrays): bit `b` of the quantised
 * value is fact `2b` or `2b + 1`, and neuron (active context) `id` is fact `2 * valueBits + id`.
 * Only the order and identity of facts matter to CAD, and this numbering keeps both (sensor facts
 * first, in bit order, then neurons by context id).
 */
export class ContextualAnomaly implements StreamingDetector {
  private readonly memory: ContextMemory;
  private readonly maxBin: number;
  private readonly minValue: number;
  private readonly step: number;
  private readonly gate: RestPeriodGate;
  private readonly neuronFactBase: number;
  /** the left group of the last step: sensor facts, then neuron facts ascending */
  private leftFacts: number[] = [];
  /** the current sensor facts (rewritten every sample) */
  private readonly current: number[];

  constructor(options: DetectorOptions, private readonly config: ContextualAnomalyConfig = DEFAULT_CONTEXTUAL_ANOMALY) {
    this.neuronFactBase = 2 * (config.valueBits > 0 ? Math.ceil(config.valueBits) : 0);
    this.memory = new ContextMemory({
      maxLeftSemiContextLength: config.maxLeftSemiContextLength,
      maxContexts: config.maxContexts,
      maxActiveNeurons: config.maxActiveNeurons,
      rightFactLimit: this.neuronFactBase,
    });
    this.maxBin = 2 ** config.valueBits - 1;
    const range = Number.isFinite(options.inputMax - options.inputMin) ? options.inputMax - options.inputMin : 0;
    this.minValue = Number.isFinite(options.inputMin) ? options.inputMin : 0;
    this.step = (range > 0 ? range : this.maxBin) / this.maxBin;
    this.gate = new RestPeriodGate(options.probationaryPeriod / config.restPeriodDivisor, config.baseThreshold);
    this.current = [];
  }

  get contextCount(): number {
    return this.memory.contextCount;
  }

  get semiContextCount(): number {
    return this.memory.semiContextCount;
  }

  /** The CAD score of the sample before the rest-period gate. */
  rawScore(sample: DetectorInput): number {
    const facts = this.sensorFacts(sample.value);
    let sumDeltas = 0;
    for (let bit = 0; bit < facts.length; bit++) {
      if (!this.memory.predicts(facts[bit]!)) sumDeltas += 2 ** bit;
    }
    const predictionError = sumDeltas / this.maxBin;
    const { selectedActive, addedNew } = this.learn(facts);
    return clamp01(predictionError > 0 ? (1 - selectedActive + addedNew) / 2 : 0);
  }

  update(sample: DetectorInput): number {
    if (!Number.isFinite(sample.value)) return 0;
    return this.gate.pass(this.rawScore(sample));
  }

  /** One fact per bit of the quantised value, in bit order; values outside the range are clamped. */
  private sensorFacts(value: number): number[] {
    let level = Math.trunc((value - this.minValue) / this.step);
    if (!(level >= 0)) level = 0;
    if (level > this.maxBin) level = this.maxBin;
    const facts = this.current;
    facts.length = 0;
    for (let bit = 0; bit < this.config.valueBits; bit++) facts.push(bit * 2 + ((level >> bit) & 1));
    return facts;
  }

  private learn(current: number[]): { selectedActive: number; addedNew: number } {
    // current: already sorted ascending and unique
    let newContextFlag = false;
    if (this.leftFacts.length > 0) newContextFlag = this.memory.addZeroLevelContext(this.leftFacts, current);
    const { activeCount, selectedCount, potentialNew } = this.memory.crossRight(current, newContextFlag);
    // Distinct pairs (the zero-level one and the potential new ones) only matter on a step that
    // learned a new zero-level context.
    let unique = 0;
    if (newContextFlag) {
      const uniquePotential = new Set<string>();
      uniquePotential.add(pairKey(this.leftFacts, current));
      for (const [l, r] of potentialNew) uniquePotential.add(pairKey(l, r));
      unique = uniquePotential.size;
    }
    const selectedActive = selectedCount > 0 ? activeCount / selectedCount : 0;

    // Sensor facts and neuron facts never collide, and both parts are unique: concatenating the
    // sorted parts is the sorted union.
    const neurons = this.memory.neurons();
    for (let i = 0; i < neurons.length; i++) neurons[i] = this.neuronFactBase + neurons[i]!;
    neurons.sort((a, b) => a - b);
    this.leftFacts = current.concat(neurons);

    let added = potentialNew.length > 0 ? this.memory.addContexts(potentialNew) : 0;
    this.memory.crossLeft(this.leftFacts);
    if (newContextFlag) added++;
    const addedNew = newContextFlag && unique > 0 ? added / unique : 0;
    return { selectedActive, addedNew };
  }
}

/**
 * CAD's rest period: after any raw score reached `threshold`, report 0 for `length` samples so
 * one event raises one alert. It starts as if a 1.0 had just been seen (silent warm-up).
 */
export class RestPeriodGate {
  private readonly recent: Float64Array;
  private head = 0;

  constructor(length: number, private readonly threshold: number) {
    this.recent = new Float64Array(Math.max(1, Math.floor(length)));
    this.recent[0] = 1;
    this.head = 1 % this.recent.length;
  }

  pass(raw: number): number {
    let recentMax = 0;
    for (const v of this.recent) if (v > recentMax) recentMax = v;
    this.recent[this.head] = raw;
    this.head = (this.head + 1) % this.recent.length;
    return recentMax < this.threshold ? raw : 0;
  }
}

const pairKey = (l: readonly number[], r: readonly number[]): string => `${l.join(',')}|${r.join(',')}`;
const clamp01 = (x: number): number => (x > 1 ? 1 : x > 0 ? x : 0);

export function contextualAnomalyFactory(config: ContextualAnomalyConfig = DEFAULT_CONTEXTUAL_ANOMALY): DetectorFactory {
  return { name: 'contextualAnomaly', create: (options) => new ContextualAnomaly(options, config) };
}

export const contextualAnomaly: DetectorFactory = contextualAnomalyFactory();
