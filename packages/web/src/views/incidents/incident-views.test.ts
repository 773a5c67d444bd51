import { describe, expect, it } from 'vitest';
import { dmopFacts } from './incident-detail.ts';
import { evidenceCharts, isBinarySeries, summariseSeries } from './evidence-series.ts';
import { INCIDENT_MOVES, INCIDENT_STATUSES, parseIncidentStatus } from './incident-lifecycle.ts';

describe('dmopFacts', () => {
  it('reads a deviation\'s step log, people and what was expected, leaving the rest as it is', () => {
    const facts = dmopFacts({
      workOrderId: 7, procedure: 'isolate-lp-4b@2', step: 2, expected: 'Verify feed A', observed: { point: 'cb_b', value: false },
      assignees: ['alice', 'bob'],
      stepLog: [
        { workOrderId: 7, seq: 1, at: 1000, kind: 'released', step: null, actor: 'user:mia', detail: {} },
        { workOrderId: 7, seq: 2, at: 2000, kind: 'step-done', step: 0, actor: 'user:alice', detail: { note: 'LOTO applied' } },
      ],
      readingsBefore: [{ asset: 'PANEL-LP-4B', point: 'door_open', ts: 900, value: false }],
    });
    expect(facts).toEqual({
      workOrderId: '7', step: '2', expected: 'Verify feed A', observed: '{"point":"cb_b","value":false}',
      steps: [
        { seq: 1, step: '—', kind: 'released', at: 1000, by: 'user:mia' },
        { seq: 2, step: '1', kind: 'step-done', at: 2000, by: 'user:alice', note: '{"note":"LOTO applied"}' },
      ],
      people: [{ name: 'alice' }, { name: 'bob' }],
      workOrders: [],
      readingsBefore: [{ asset: 'PANEL-LP-4B', point: 'door_open', ts: 900, value: false }],
      rest: { procedure: 'isolate-lp-4b@2' },
    });
  });

  it('reads an intrusion\'s work orders nearby and their people', () => {
    const facts = dmopFacts({
      panel: 'PANEL-LP-4B',
      workOrdersNearby: [{ workOrderId: 8, title: 'Replace CB-3', status: 'released', assignees: ['carol'], panels: ['PANEL-LP-2A'] }],
    });
    expect(facts.workOrders).toEqual([{ id: '8', title: 'Replace CB-3', status: 'released', panels: ['PANEL-LP-2A'] }]);
    expect(facts.people).toEqual([{ name: 'carol', workOrderId: '8' }]);
    expect(facts.rest).toEqual({ panel: 'PANEL-LP-4B' });
  });

  it('keeps a part that does not fit its shape in the rest instead of dropping it', () => {
    const facts = dmopFacts({ assignees: [{ name: 'alice' }], stepLog: [{ title: 'no kind' }] });
    expect(facts.people).toEqual([]);
    expect(facts.steps).toEqual([]);
    expect(facts.rest).toEqual({ assignees: [{ name: 'alice' }], stepLog: [{ title: 'no kind' }] });
  });
});

describe('evidence series', () => {
  const door = { point: 'door_open', samples: [{ ts: 1, value: 0 }, { ts: 2, value: true }, { ts: 3, value: null }] };
  const current = { point: 'current_a', samples: [{ ts: 1, value: 120.5 }, { ts: 2, value: 0 }, { ts: 3, value: 131 }] };
  const label = { point: 'mode', samples: [{ ts: 1, value: 'auto' }] };

  it('puts on/off points on their own chart and leaves text out', () => {
    expect(isBinarySeries(door)).toBe(true);
    expect(isBinarySeries(current)).toBe(false);
    const charts = evidenceCharts([door, current, label]);
    expect(charts.analog.map((s) => s.label)).toEqual(['current_a']);
    expect(charts.binary).toEqual([{ label: 'door_open', unit: '', ts: [1, 2, 3], values: [0, 1, null] }]);
  });

  it('summarises a series for the table beside the chart', () => {
    expect(summariseSeries(current)).toEqual({ point: 'current_a', samples: 3, first: 120.5, last: 131, min: 0, max: 131 });
    expect(summariseSeries({ point: 'x', samples: [] })).toEqual({ point: 'x', samples: 0, first: undefined, last: undefined, min: null, max: null });
  });
});

describe('incident moves', () => {
  it('mirrors the server: closed is final, and resolving or reopening asks for a note', () => {
    expect(INCIDENT_MOVES.closed).toEqual([]);
    expect(INCIDENT_MOVES.open.find((m) => m.to === 'resolved')?.noteRequired).toBe(true);
    expect(INCIDENT_MOVES.resolved.find((m) => m.to === 'open')?.noteRequired).toBe(true);
    expect(INCIDENT_MOVES.open.find((m) => m.to === 'acknowledged')?.noteRequired).toBe(false);
    for (const s of INCIDENT_STATUSES) expect(parseIncidentStatus(s)).toBe(s);
    expect(parseIncidentStatus('done')).toBeNull();
  });
});
