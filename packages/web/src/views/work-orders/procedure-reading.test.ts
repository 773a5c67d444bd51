import { describe, expect, it } from 'vitest';
import type { ProcedureStep, ProcedureTemplate, StepEvent } from '../../app/api-types.ts';
import { describeConditions, expectedChanges, logLine, procedurePoints, readingText, unitKey } from './procedure-reading.ts';

const base = { warnings: [], roles: ['technician' as const], panel: 'source' };
const operate: ProcedureStep = {
  ...base, kind: 'operate', title: 'Open the main breaker', point: 'main_breaker_closed', to: 'open', expectWithinMs: 10_000,
  expect: ['current_l1', 'current_l2', 'current_l3'].map((point) => ({ asset: 'source', point, below: 1 })),
};
const verify: ProcedureStep = {
  ...base, kind: 'verify', title: 'Verify absence of voltage', holdMs: 3_000, withinMs: 60_000,
  conditions: ['voltage_l1', 'voltage_l2'].map((point) => ({ asset: 'source', point, below: 5 })),
};
const template: ProcedureTemplate = {
  id: 'isolate', title: 'Isolate', description: '', panels: ['source'], assets: [],
  steps: [{ ...base, kind: 'open-panel', title: 'Open the source panel' }, operate, verify, { ...base, kind: 'close-panel', title: 'Close it' }],
};
const bindings = { source: 'PANEL-1' };
const units = new Map([[unitKey('source', 'current_l1'), 'A'], [unitKey('source', 'voltage_l1'), 'V']]);

describe('expectedChanges', () => {
  it('says what an operate step must cause, grouped per limit, with units and the time allowed', () => {
    expect(expectedChanges(operate, bindings, units)).toEqual([
      'main breaker on PANEL-1 goes open (off).',
      'Then within 10 s: current_l1, current_l2, current_l3 on PANEL-1 below 1 A.',
    ]);
  });

  it('says how long a verification must hold and by when', () => {
    expect(expectedChanges(verify, bindings, units)).toEqual([
      'voltage_l1, voltage_l2 on PANEL-1 below 5 V, held for 3 s.',
      'Within 60 s of the step starting, or it is a deviation.',
    ]);
  });

  it('keeps different limits apart', () => {
    expect(describeConditions([{ asset: 'source', point: 'a', below: 1 }, { asset: 'source', point: 'b', above: 100 }], bindings, new Map()))
      .toEqual(['a on PANEL-1 below 1', 'b on PANEL-1 above 100']);
  });
});

describe('procedurePoints', () => {
  it('lists each point the procedure operates or reads once, with the steps that use it', () => {
    const points = procedurePoints({ ...template, steps: [...template.steps, { ...operate, to: 'closed', expect: [] }] });
    expect(points.map((p) => `${p.point}:${p.steps.join('+')}`)).toEqual([
      'main_breaker_closed:1+4', 'current_l1:1', 'current_l2:1', 'current_l3:1', 'voltage_l1:2', 'voltage_l2:2',
    ]);
  });
});

describe('readingText', () => {
  it('reads doors and breakers as words and numbers with their unit', () => {
    expect(readingText('door_open', true, '')).toBe('open');
    expect(readingText('main_breaker_closed', false, '')).toBe('open (off)');
    expect(readingText('voltage_l1', 0.4, 'V')).toBe('0.400 V');
    expect(readingText('voltage_l1', null, 'V')).toBe('no reading yet');
  });
});

describe('logLine', () => {
  const event = (over: Partial<StepEvent>): StepEvent => ({ workOrderId: 1, seq: 1, at: 0, kind: 'observed', step: 1, actor: 'system', detail: {}, ...over });

  it('names the step and what the panel did', () => {
    const line = logLine(event({ kind: 'step-done', step: 0, detail: { panel: 'PANEL-1', point: 'door_open', value: true, title: 'Open the source panel' } }), template);
    expect(line).toEqual({ headline: 'Done: step 1 (Open the source panel)', details: ['Panel: door opened on PANEL-1.'], tone: 'ok' });
  });

  it('shows a deviation with what was expected and what was observed', () => {
    const line = logLine(event({ kind: 'deviation', step: 2, detail: { kind: 'out-of-order', expected: 'step 3: verify', observed: 'main breaker closed' } }), template);
    expect(line.tone).toBe('bad');
    expect(line.headline).toBe('Deviation at step 3 (Verify absence of voltage): out-of-order');
    expect(line.details).toEqual(['Expected: step 3: verify', 'Observed: main breaker closed']);
  });
});
