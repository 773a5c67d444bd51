/**
 * NAB's scaled sigmoid (nab/sweeper.py `scaledSigmoid`): maps a detection's position relative to
 * an anomaly window to a reward in (-1, 1).
 *
 * - position -1 is the window's first row: 2·σ(5) − 1 ≈ 0.98661 (the best true positive);
 * - position 0 is just past the window's last row: 0;
 * - positive positions are false positives after a window, tending to −1; beyond 3 exactly −1.
 *
 * Written as NAB writes it, `2 / (1 + e^(5x)) − 1`, not as the equal −tanh(2.5x), so float results
 * follow NAB's to the last bit as far as `exp` does.
 */
export function scaledSigmoid(relativePosition: number): number {
  if (relativePosition > 3.0) return -1.0;
  return 2 * sigmoid(-5 * relativePosition) - 1.0;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** The reward of a detection on a window's first row; NAB divides true positives by it so that one scores exactly tpWeight. */
export const MAX_TRUE_POSITIVE = scaledSigmoid(-1.0);
