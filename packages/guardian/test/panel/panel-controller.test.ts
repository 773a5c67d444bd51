import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Quality, type AndonInstruction, type AndonState, type Sample } from '@shellguard/protocol';
import { PanelController } from '../../src/panel/panel-controller.ts';

function setup() {
  const shown: AndonState[] = [];
  let fail = false;
  const tower = { setAndon: async (s: AndonState) => { if (fail) throw new Error('tower down'); shown.push(s); } };
  const c = new PanelController({ panel: 'PANEL-01', tower, logger: pino({ level: 'silent' }), now: () => 1_000 });
  const settle = () => new Promise((r) => setTimeout(r, 0));
  return { c, shown, settle, failTower: (v: boolean) => { fail = v; } };
}
const s = (point: string, value: boolean): Sample => ({ point, ts: 1, value, quality: Quality.good });
let seq = 0;
const instr = (state: AndonState, covered: boolean, extra: Partial<AndonInstruction> = {}): AndonInstruction =>
  ({ v: 1, panel: 'PANEL-01', state, covered, seq: ++seq, at: seq, ...extra });

describe('PanelController', () => {
  it('sounds the klaxon at once on a door opened with no released work, and keeps it after the door closes', async () => {
    const { c, shown, settle } = setup();
    c.start();
    c.onSamples([s('door_open', false), s('breaker_1_closed', true)]);
    c.onSamples([s('door_open', true)]);
    c.onSamples([s('door_open', false)]);
    await settle();
    expect(shown).toEqual(['idle', 'intrusion']);
    expect(c.state()).toMatchObject({ shown: 'intrusion', doorOpen: false, localAlarm: { reason: 'door-opened-uncovered', point: 'door_open' } });
    // A server instruction without clearLocal (e.g. a refresh of the idle state) does not silence it.
    c.onInstruction(instr('idle', false));
    await settle();
    expect(c.state().shown).toBe('intrusion');
    c.onInstruction(instr('idle', false, { clearLocal: true }));
    await settle();
    expect(shown.at(-1)).toBe('idle');
    expect(c.state().localAlarm).toBeNull();
  });

  it('lets a covered panel be opened and shows what the server decides; a breaker on an uncovered panel is an alarm too', async () => {
    const { c, shown, settle } = setup();
    c.start();
    c.onSamples([s('door_open', false), s('breaker_3_closed', true)]);
    c.onInstruction(instr('released', true, { workOrderId: 7 }));
    c.onSamples([s('door_open', true), s('breaker_3_closed', false)]);
    c.onInstruction(instr('in-progress', true, { workOrderId: 7, step: { index: 2, count: 5, title: 'Open breaker 3' } }));
    await settle();
    expect(shown).toEqual(['idle', 'released', 'in-progress']);
    // The server has gone quiet; the last it said was "covered", then "complete, not covered".
    c.onInstruction(instr('complete', false));
    c.onSamples([s('breaker_3_closed', true)]);
    await settle();
    expect(shown.slice(-2)).toEqual(['complete', 'intrusion']);
    expect(c.state().localAlarm?.reason).toBe('breaker-operated-uncovered');
  });

  it('ignores instructions older than the last applied and for other panels', async () => {
    const { c, shown, settle } = setup();
    c.start();
    const newer = instr('stop', false);
    const older: AndonInstruction = { ...instr('released', true), seq: newer.seq - 1, at: newer.at - 1 };
    c.onInstruction(newer);
    c.onInstruction(older);
    c.onInstruction({ ...instr('deviation', false), panel: 'PANEL-02' });
    await settle();
    expect(shown).toEqual(['idle', 'stop']);
  });

  it('keeps trying a tower that failed: the next refresh sends the state again', async () => {
    const { c, shown, settle, failTower } = setup();
    failTower(true);
    c.start();
    c.onSamples([s('door_open', true)]);
    await settle();
    expect(c.state().towerErrors).toBeGreaterThan(0);
    failTower(false);
    c.refresh();
    await settle();
    expect(shown).toEqual(['intrusion']);
  });
});
