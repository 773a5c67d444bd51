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

const SENSOR_FACT_BASE = 65536;
const NEURON_FACT_BASE = 2 ** 31;

export class ContextualAnomaly implements StreamingDetector {
  private readonly memory: ContextMemory;
  private readonly maxBin: number;
  private readonly minValue: number;
  private readonly step: number;
  private readonly gate: RestPeriodGate;
  private leftFacts: number[] = [];
  private predicted = new Set<number>();

  constructor(options: DetectorOptions, private readonly config: ContextualAnomalyConfig = DEFAULT_CONTEXTUAL_ANOMALY) {
    this.memory = new ContextMemory(config.maxLeftSemiContextLength, config.maxContexts);
    this.maxBin = 2 ** config.valueBits - 1;
    const range = Number.isFinite(options.inputMax - options.inputMin) ? options.inputMax - options.inputMin : 0;
    this.minValue = Number.isFinite(options.inputMin) ? options.inputMin : 0;
    this.step = (range > 0 ? range : this.maxBin) / this.maxBin;
    this.gate = new RestPeriodGate(options.probationaryPeriod / config.restPeriodDivisor, config.baseThreshold);
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
      if (!this.predicted.has(facts[bit]!)) sumDeltas += 2 ** bit;
    }
    const predictionError = sumDeltas / this.maxBin;
    const { predictions, selectedActive, addedNew } = this.learn(facts);
    this.predicted = predictions;
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
    const facts: number[] = [];
    for (let bit = 0; bit < this.config.valueBits; bit++) {
      facts.push(SENSOR_FACT_BASE + bit * 2 + ((level >> bit) & 1));
    }
    return facts;
  }

  private learn(sensorFacts: number[]): { predictions: Set<number>; selectedActive: number; addedNew: number } {
    const current = sensorFacts; // already sorted ascending and unique
    const uniquePotential = new Set<string>();
    let newContextFlag = false;
    if (this.leftFacts.length > 0) {
      uniquePotential.add(pairKey(this.leftFacts, current));
      newContextFlag = this.memory.addZeroLevelContext(this.leftFacts, current);
    }
    const { active, selectedCount, potentialNew } = this.memory.crossRight(current, newContextFlag);
    for (const [l, r] of potentialNew) uniquePotential.add(pairKey(l, r));
    const selectedActive = selectedCount > 0 ? active.length / selectedCount : 0;

    active.sort((a, b) => a.activations - b.activations || a.leftId - b.leftId || a.rightId - b.rightId);
    const neurons = active.slice(-this.config.maxActiveNeurons).map((a) => NEURON_FACT_BASE + a.id);
    this.leftFacts = [...new Set([...current, ...neurons])].sort((a, b) => a - b);

    let added = this.memory.addContexts(potentialNew);
    const predictions = this.memory.crossLeft(this.leftFacts);
    if (newContextFlag) added++;
    const addedNew = newContextFlag && uniquePotential.size > 0 ? added / uniquePotential.size : 0;
    return { predictions, selectedActive, addedNew };
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
