/**
 * A Redfish property -> a point's engineering value. Numbers go through the shared
 * `engineeringValue` (kind, scale, offset); strings only through a rule named here: an enum
 * point's `enumValues` (Status.Health `OK` -> 0), or, for a binary point, the PowerState values
 * `On` / `Off` (Resource.v1 PowerState; the transitional states are reported as bad, not guessed).
 */
import { engineeringValue, type RedfishPoint } from '@shellguard/protocol';
import { RedfishError } from './errors.ts';
import { resolvePointer } from './json-document.ts';

/** Resource.v1_x PowerState: the two settled states a binary point can stand for. */
export const BINARY_STRINGS: Readonly<Record<string, boolean>> = { On: true, Off: false };

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.slice(0, 40))}`;
  return `${typeof v === 'object' ? 'an' : 'a'} ${typeof v}`;
}

/** The stored value of `point` in `doc` (the resource at `path`); throws a RedfishError saying why not. */
export function pointValue(point: RedfishPoint, doc: unknown, path: string): number | boolean {
  const where = `${path}#${point.pointer}`;
  const resolved = resolvePointer(doc, point.pointer);
  if (!resolved.found) {
    throw new RedfishError('redfish_property_missing', `${point.name}: ${path} has no ${resolved.at} (pointer ${point.pointer}); does this BMC serve that schema version? Fix the profile's pointer`, { point: point.name, path, pointer: point.pointer });
  }
  const v = resolved.value;
  let raw: number | boolean;
  if (typeof v === 'number' || typeof v === 'boolean') {
    raw = v;
  } else if (typeof v === 'string' && point.enumValues && Object.prototype.hasOwnProperty.call(point.enumValues, v)) {
    raw = point.enumValues[v]!;
  } else if (typeof v === 'string' && point.kind === 'binary' && Object.prototype.hasOwnProperty.call(BINARY_STRINGS, v)) {
    raw = BINARY_STRINGS[v]!;
  } else {
    const expected = point.enumValues ? `one of ${Object.keys(point.enumValues).join(', ')}`
      : point.kind === 'binary' ? 'a boolean or On/Off' : 'a number';
    const why = v === null ? 'the BMC has no reading (null)' : `it holds ${describe(v)}`;
    throw new RedfishError('redfish_value_invalid', `${point.name}: ${where}: ${why}, expected ${expected}`, { point: point.name, path, pointer: point.pointer });
  }
  try {
    return engineeringValue(point, raw);
  } catch (err) {
    throw new RedfishError('redfish_value_invalid', `${point.name}: ${where}: ${(err as Error).message}`, { point: point.name, path, pointer: point.pointer });
  }
}
