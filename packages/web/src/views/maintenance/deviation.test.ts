import { describe, expect, it } from 'vitest';
import type { PointMove } from '../../app/api-types.ts';
import { formatZ, leadingMoves, normalRange } from './deviation.ts';

const move = (point: string, share: number, z = 1): PointMove => ({ point, z, value: 10 + z, normalMean: 10, normalStd: 1, share });

describe('leadingMoves', () => {
  it('lists the largest shares until they make up 90 %, largest first', () => {
    const moves = [move('c', 0.05), move('a', 0.6), move('b', 0.32), move('d', 0.03)];
    expect(leadingMoves(moves).map((m) => m.point)).toEqual(['a', 'b']);
  });

  it('lists at most six and at least one', () => {
    const many = Array.from({ length: 10 }, (_, i) => move(`p${i}`, 0.1));
    expect(leadingMoves(many)).toHaveLength(6);
    expect(leadingMoves([move('only', 0)]).map((m) => m.point)).toEqual(['only']);
    expect(leadingMoves([])).toEqual([]);
  });
});

describe('normalRange', () => {
  it('is the learned mean ± 3 standard deviations', () => {
    expect(normalRange({ normalMean: 48, normalStd: 4 })).toEqual({ low: 36, high: 60 });
    expect(formatZ(-1.25)).toBe('−1.3 σ');
  });
});
