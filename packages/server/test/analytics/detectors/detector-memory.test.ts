import { describe, expect, it } from 'vitest';
import { ensembleBytesAtCap, ensembleWithin, MIN_CONTEXTS_PER_POINT } from '../../../src/analytics/detectors/detector-memory.ts';
import { DEFAULT_ENSEMBLE } from '../../../src/analytics/detectors/ensemble.ts';

describe('the per-point detector memory estimate', () => {
  it('passes through bench/detect\'s measurements and grows with the cap', () => {
    expect(ensembleBytesAtCap(2_000)).toBeCloseTo(246_423, 0);
    expect(ensembleBytesAtCap(5_000)).toBeCloseTo(421_342, 0);
    expect(ensembleBytesAtCap(10_000)).toBeCloseTo(619_555, 0);
    expect(ensembleBytesAtCap(20_000)).toBeCloseTo(1_055_148, 0);
    let last = 0;
    for (let c = MIN_CONTEXTS_PER_POINT; c <= 20_000; c += 500) {
      expect(ensembleBytesAtCap(c)).toBeGreaterThan(last);
      last = ensembleBytesAtCap(c);
    }
  });

  it('gives the shipped cap when the share allows it, else the most contexts that fit', () => {
    expect(ensembleWithin(2_000_000)).toMatchObject({ maxContexts: DEFAULT_ENSEMBLE.shellguard.cad.maxContexts });
    const fit = ensembleWithin(400_000);
    expect(fit.bytesPerPoint).toBeLessThanOrEqual(400_000);
    expect(ensembleBytesAtCap(fit.maxContexts + 500)).toBeGreaterThan(400_000);
    expect(fit.maxContexts % 500).toBe(0);
  });

  it('refuses a share below what the fewest contexts need, saying what would do', () => {
    expect(() => ensembleWithin(50_000)).toThrow(/gives each point 50,000 bytes; the detector needs at least 188,117 \(1,000 contexts\): raise the budget or lower the number of points/);
  });
});
