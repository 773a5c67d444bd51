/**
 * Streaming anomaly detectors (issue 4): online, sample by sample, per point, in bounded memory.
 * Each emits an anomaly score in [0, 1] for every sample. The same objects run in the server on
 * live telemetry and in `bench/nab` on the Numenta Anomaly Benchmark.
 */

export interface DetectorInput {
  /** epoch ms of the sample */
  ts: number;
  value: number;
}

export interface StreamingDetector {
  /** Consumes one sample and returns its anomaly score in [0, 1]. Never throws on finite input. */
  update(sample: DetectorInput): number;
}

export interface DetectorOptions {
  /**
   * Expected range of the signal. NAB gives every detector the min and max of the whole file
   * (its `inputMin`/`inputMax`); on live telemetry they come from the point's profile or history.
   */
  inputMin: number;
  inputMax: number;
  /** Samples during which the detector is learning (NAB: 15% of the file, at most 750). */
  probationaryPeriod: number;
}

export interface DetectorFactory {
  /** Name used for results folders, e.g. `shellguard` or `windowedGaussian`. */
  readonly name: string;
  create(options: DetectorOptions): StreamingDetector;
}
