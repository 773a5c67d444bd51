/** The procedures shipped with the server (packages/server/procedures): the demo's and a starting point for a site's own. */
import { readFileSync } from 'node:fs';

/** The YAML of a shipped procedure, e.g. `isolate-pdu-feed`. */
export function sampleProcedure(id: string): string {
  if (!/^[a-z0-9-]+$/.test(id)) throw new TypeError(`not a procedure id: ${id}`);
  return readFileSync(new URL(`../../procedures/${id}.yaml`, import.meta.url), 'utf8');
}
