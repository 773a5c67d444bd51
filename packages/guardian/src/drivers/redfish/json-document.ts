/**
 * A BMC's JSON, taken with suspicion: a bounded parse (a depth limit checked before JSON.parse
 * sees the text) and RFC 6901 JSON pointers resolved without ever touching the prototype chain.
 */
import { RedfishError } from './errors.ts';

/** Redfish resources nest a handful of levels (Power → PowerSupplies → InputRanges → …); 32 is ample. */
export const MAX_JSON_DEPTH = 32;

/**
 * The nesting depth of a JSON text, counted outside strings; stops early past `limit`, so a
 * hostile `[[[[…` costs a scan, never a deep recursion.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) { if (++depth > limit) return true; }
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** Parses a resource body: a JSON object, at most MAX_JSON_DEPTH deep. `where` names the URL path. */
export function parseResource(text: string, where: string): Record<string, unknown> {
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
    throw new RedfishError('redfish_response_invalid', `${where}: the JSON nests deeper than ${MAX_JSON_DEPTH} levels; this is not a Redfish resource`, { path: where });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new RedfishError('redfish_response_invalid', `${where}: the body is not valid JSON (${(err as Error).message.slice(0, 120)})`, { path: where });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new RedfishError('redfish_response_invalid', `${where}: the body is JSON but not an object (a Redfish resource is one)`, { path: where });
  }
  return doc as Record<string, unknown>;
}

/** RFC 6901 §3: a pointer's reference tokens, `~1` → `/` then `~0` → `~` (§4, in that order). */
export function pointerTokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new RedfishError('redfish_config_invalid', `JSON pointer ${pointer} must start with / (RFC 6901)`, { pointer });
  return pointer.slice(1).split('/').map((t) => {
    if (/~(?![01])/.test(t)) throw new RedfishError('redfish_config_invalid', `JSON pointer ${pointer} has a ~ not followed by 0 or 1 (RFC 6901 §3)`, { pointer });
    return t.replace(/~1/g, '/').replace(/~0/g, '~');
  });
}

export type Resolved = { found: true; value: unknown } | { found: false; at: string };

/**
 * RFC 6901 §4 evaluation. Object members are own properties only (`/__proto__` or `/constructor`
 * find nothing); array indexes are `0` or digits without a leading zero, within the array.
 */
export function resolvePointer(doc: unknown, pointer: string): Resolved {
  let node = doc;
  let at = '';
  for (const token of pointerTokens(pointer)) {
    at += `/${token.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (Array.isArray(node)) {
      if (!/^(?:0|[1-9]\d{0,8})$/.test(token) || Number(token) >= node.length) return { found: false, at };
      node = node[Number(token)];
    } else if (typeof node === 'object' && node !== null && Object.prototype.hasOwnProperty.call(node, token)) {
      node = (node as Record<string, unknown>)[token];
    } else {
      return { found: false, at };
    }
  }
  return { found: true, value: node };
}
