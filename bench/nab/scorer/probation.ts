/** NAB's default share of every file during which detections are ignored (runner.py `probationaryPercent`). */
export const PROBATIONARY_FRACTION = 0.15;

/**
 * Number of leading rows of a file that are never scored (nab/util.py `getProbationPeriod`):
 * floor(15% of the rows), but at most 15% of 5000 = 750 rows.
 */
export function probationaryPeriod(rowCount: number, fraction: number = PROBATIONARY_FRACTION): number {
  return Math.min(Math.floor(fraction * rowCount), fraction * 5000);
}
