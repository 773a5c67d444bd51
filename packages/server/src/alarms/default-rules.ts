/**
 * The alarm rules shipped with the equipment profiles (`packages/server/alarm-rules/*.yaml`).
 * A rule is defined at start only when no rule of its id exists, so operators' changes survive
 * upgrades; they override per asset through the API.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { AlarmEngine } from './alarm-engine.ts';
import { AlarmError } from './alarm-error.ts';

export const DEFAULT_ALARM_RULES_DIR = fileURLToPath(new URL('../../alarm-rules/', import.meta.url));

/** Defines the shipped rules the engine (loaded) does not have yet; resolves with how many it defined. */
export async function loadDefaultAlarmRules(engine: AlarmEngine, dir: string = DEFAULT_ALARM_RULES_DIR): Promise<number> {
  const existing = new Set(engine.rules().map((r) => r.id));
  let defined = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    const full = path.join(dir, file);
    const doc = parseYaml(readFileSync(full, 'utf8')) as { rules?: unknown[] } | null;
    if (!doc || !Array.isArray(doc.rules)) throw new AlarmError('rule_invalid', `${full}: expected a "rules" list`, { path: full });
    for (const rule of doc.rules) {
      const id = (rule as { id?: unknown }).id;
      if (typeof id === 'string' && existing.has(id)) continue;
      await engine.defineRule(rule, 'system');
      defined += 1;
    }
  }
  return defined;
}
