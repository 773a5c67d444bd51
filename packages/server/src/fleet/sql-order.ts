/**
 * Text order the same on both engines: SQLite compares TEXT by code units (BINARY), PostgreSQL by
 * the database's collation, which may fold case or skip punctuation. Lists whose order users see
 * are sorted here, by code units, after an ORDER BY that only makes the read deterministic.
 */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
