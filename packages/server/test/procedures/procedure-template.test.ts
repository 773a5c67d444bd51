import { describe, expect, it } from 'vitest';
import { expectedChanges, parseProcedureTemplate } from '../../src/procedures/procedure-template.ts';
import { SAMPLE_PROCEDURE } from './dmop-fixture.ts';

const minimal = (steps: string) => `id: p1\ntitle: T\npanels: [a]\nsteps:\n${steps}`;

describe('procedure templates', () => {
  it('parses the sample procedure with durations, defaults and expected changes', () => {
    const t = parseProcedureTemplate(SAMPLE_PROCEDURE, 'isolate-pdu-feed.yaml');
    expect(t.id).toBe('isolate-pdu-feed');
    expect(t.steps.map((s) => s.kind)).toEqual(['open-panel', 'operate', 'verify', 'confirm', 'confirm', 'operate', 'close-panel']);
    const verify = t.steps[2]!;
    expect(verify.kind === 'verify' && [verify.holdMs, verify.withinMs, verify.conditions.length]).toEqual([3_000, 60_000, 3]);
    expect(t.steps[0]!.roles).toEqual(['technician']);
    expect(expectedChanges(t).map((c) => c.point).sort()).toEqual(
      ['current_l1', 'current_l2', 'current_l3', 'main_breaker_closed', 'voltage_l1', 'voltage_l2', 'voltage_l3']);
  });

  it.each([
    ['not YAML', 'id: [', /not valid YAML/],
    ['an unknown field', `${minimal('  - { kind: open-panel, title: o }\n  - { kind: close-panel, title: c }')}\ncolour: red`, /colour is not a known field/],
    ['an unknown step kind', minimal('  - { kind: dance, title: x }'), /steps\[0\]\.kind must be one of/],
    ['a misspelt step field', minimal('  - { kind: open-panel, title: o, warning: hot }'), /steps\[0\]\.warning is not a known field/],
    ['an operate before opening', minimal('  - { kind: operate, title: x, point: main_breaker_closed, to: open }'), /before an open-panel step/],
    ['a panel left open', minimal('  - { kind: open-panel, title: o }'), /end with a close-panel step/],
    ['a bad state', minimal('  - { kind: open-panel, title: o }\n  - { kind: operate, title: x, point: b, to: off }\n  - { kind: close-panel, title: c }'), /steps\[1\]\.to must be open or closed/],
    ['a bad duration', minimal('  - { kind: open-panel, title: o }\n  - { kind: verify, title: v, conditions: [{ point: v1, below: 5 }], hold: soon }\n  - { kind: close-panel, title: c }'), /hold must be a duration/],
    ['within shorter than hold', minimal('  - { kind: open-panel, title: o }\n  - { kind: verify, title: v, conditions: [{ point: v1, below: 5 }], hold: 10s, within: 5s }\n  - { kind: close-panel, title: c }'), /within must be at least as long as hold/],
    ['an unknown role', minimal('  - { kind: open-panel, title: o, panel: b }'), /"b" is not a panel role/],
    ['an unknown person role', minimal('  - { kind: open-panel, title: o, roles: [janitor] }\n  - { kind: close-panel, title: c }'), /roles\[0\] must be one of/],
    ['a condition without a bound', minimal('  - { kind: open-panel, title: o }\n  - { kind: verify, title: v, conditions: [{ point: v1 }] }\n  - { kind: close-panel, title: c }'), /needs below or above/],
    ['no steps', 'id: p1\ntitle: T\npanels: [a]\nsteps: []', /steps must hold at least one step/],
  ])('refuses %s with an error naming the field', (_name, yaml, message) => {
    expect(() => parseProcedureTemplate(yaml, 'p.yaml')).toThrow(message);
    try { parseProcedureTemplate(yaml, 'p.yaml'); } catch (err) { expect((err as { code: string }).code).toBe('procedure_invalid'); }
  });
});
