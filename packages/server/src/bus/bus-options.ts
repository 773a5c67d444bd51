/** Checks shared by both bus implementations, so they refuse the same options with the same codes. */
import { BusError } from './bus-error.ts';
import { assertDisjointFilters, assertSubjectFilter } from './subjects.ts';

/** Throws unless `subjects` is a non-empty list of valid, disjoint filters. */
export function assertFilters(subjects: readonly string[]): void {
  if (subjects.length === 0) throw new BusError('bus_bad_option', 'give at least one subject filter');
  for (const s of subjects) assertSubjectFilter(s);
  assertDisjointFilters(subjects);
}

export function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new BusError('bus_bad_option', `${name} must be above 0, not ${value}`, { [name]: value });
  return value;
}

export function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new BusError('bus_bad_option', `${name} must be 0 or more, not ${value}`, { [name]: value });
  return value;
}
