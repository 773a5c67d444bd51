/** The DMOP loop on fake time: procedures, work orders, step validation, deviations, alerts, stops. */
import { describe, expect, it } from 'vitest';
import { Dmop, PANELS, SAMPLE_PROCEDURE, SITE, alice, maria, tom, viewer } from './dmop-fixture.ts';

describe('procedures: two-person rule and versions', () => {
  it('refuses approval by the author and needs approval again for a new version', async () => {
    const d = await Dmop.create();
    const v1 = await d.library.submit(SAMPLE_PROCEDURE, alice);
    await expect(d.library.approve(v1.procedureId, 1, alice)).rejects.toMatchObject({ code: 'approval_by_author' });
    await expect(d.supervisor.createWorkOrder({ site: SITE, procedureId: v1.procedureId, version: 1, bindings: { source: 'PANEL-1' }, windowStart: d.now, windowEnd: d.now + 1e6, assignees: ['tom'] }, alice))
      .rejects.toMatchObject({ code: 'procedure_not_approved' });
    await d.library.approve(v1.procedureId, 1, maria);
    const v2 = await d.library.submit(SAMPLE_PROCEDURE.replace('Open the source panel', 'Open the source panel door'), alice);
    expect(v2.version).toBe(2);
    expect(v2.approvedBy).toBeNull();
    await expect(d.library.approve(v1.procedureId, 1, maria)).rejects.toMatchObject({ code: 'procedure_already_approved' });
    await expect(d.library.submit(SAMPLE_PROCEDURE, tom)).rejects.toMatchObject({ code: 'role_required' });
  });
});

describe('work orders: the state machine', () => {
  it('goes draft → approved → released → in progress → completed, audited, with the panel following each step', async () => {
    const d = await Dmop.create();
    PANELS.forEach((p) => d.baseline(p));
    const id = await d.released();
    expect(d.shown('PANEL-1')).toMatchObject({ state: 'released', covered: true, workOrderId: id });
    expect(d.shown('PANEL-2')).toMatchObject({ state: 'idle', covered: false });
    d.report('PANEL-1', { door_open: true });
    expect(d.shown('PANEL-1')).toMatchObject({ state: 'step-done', step: { index: 2, count: 7 } });
    await d.advance(4_000);
    expect(d.shown('PANEL-1')).toMatchObject({ state: 'in-progress', step: { index: 2 } });
    d.mainBreaker('PANEL-1', false);
    await d.advance(1_000);
    for (let i = 0; i < 4; i++) { d.now += 1_000; d.report('PANEL-1', { voltage_l1: 0.3, voltage_l2: 0.2, voltage_l3: 0.1 }); }
    await d.supervisor.flush();
    expect((await d.supervisor.detail(id)).workOrder.currentStep).toBe(3);
    await expect(d.supervisor.confirmStep(id, 5, tom)).rejects.toMatchObject({ code: 'step_mismatch' });
    await expect(d.supervisor.confirmStep(id, 4, { ...tom, name: 'jim', id: 'user:jim' })).rejects.toMatchObject({ code: 'role_required' });
    await d.supervisor.confirmStep(id, 4, tom, 'lock 17');
    await d.supervisor.confirmStep(id, 5, tom);
    d.mainBreaker('PANEL-1', true);
    d.report('PANEL-1', { door_open: false });
    await d.supervisor.flush();
    const done = await d.supervisor.detail(id);
    expect(done.workOrder.status).toBe('completed');
    expect(done.deviations).toEqual([]);
    expect(d.shown('PANEL-1')).toMatchObject({ state: 'complete' });
    await d.advance(61_000);
    expect(d.shown('PANEL-1')).toMatchObject({ state: 'idle' });
    expect(done.steps.map((s) => s.kind)).toEqual([
      'created', 'approved', 'released', 'started', 'step-done', 'observed', 'step-done', 'step-done',
      'confirmed', 'step-done', 'confirmed', 'step-done', 'observed', 'step-done', 'step-done', 'completed',
    ]);
    const actions = (await d.audit.list({ target: `workorder:${id}` })).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['workorder.create', 'workorder.approve', 'workorder.release', 'workorder.start', 'workorder.step', 'workorder.complete']));
    expect(actions.filter((a) => a === 'workorder.step')).toHaveLength(7);
    expect((await d.audit.verify()).ok).toBe(true);
  });

  it('refuses transitions out of order, the creator approving, and unassigned hands', async () => {
    const d = await Dmop.create();
    PANELS.forEach((p) => d.baseline(p));
    const v = await d.library.submit(SAMPLE_PROCEDURE, alice);
    await d.library.approve(v.procedureId, 1, maria);
    const input = { site: SITE, procedureId: v.procedureId, version: 1, bindings: { source: 'PANEL-1' }, windowStart: d.now, windowEnd: d.now + 3_600_000, assignees: ['tom'] };
    await expect(d.supervisor.createWorkOrder({ ...input, bindings: { source: 'AHU-1' } }, alice)).rejects.toMatchObject({ code: 'work_order_invalid' });
    await expect(d.supervisor.createWorkOrder({ ...input, bindings: {} }, alice)).rejects.toMatchObject({ code: 'work_order_invalid' });
    await expect(d.supervisor.createWorkOrder(input, viewer)).rejects.toMatchObject({ code: 'role_required' });
    const wo = await d.supervisor.createWorkOrder(input, maria);
    await expect(d.supervisor.releaseWorkOrder(wo.id, alice)).rejects.toMatchObject({ code: 'work_order_state' });
    await expect(d.supervisor.approveWorkOrder(wo.id, maria)).rejects.toMatchObject({ code: 'approval_by_author' });
    await d.supervisor.approveWorkOrder(wo.id, { id: 'user:max', name: 'max', role: 'manager' });
    await d.supervisor.releaseWorkOrder(wo.id, alice);
    await expect(d.supervisor.startWorkOrder(wo.id, { id: 'user:jim', name: 'jim', role: 'technician' })).rejects.toMatchObject({ code: 'role_required' });
    // A second work order on the same panel in an overlapping window is refused at release.
    const other = await d.supervisor.createWorkOrder(input, alice);
    await d.supervisor.approveWorkOrder(other.id, maria);
    await expect(d.supervisor.releaseWorkOrder(other.id, alice)).rejects.toMatchObject({ code: 'panel_busy' });
    await d.supervisor.abortWorkOrder(wo.id, 'rescheduled', maria);
    expect(d.shown('PANEL-1')).toMatchObject({ state: 'idle', covered: false });
    await expect(d.supervisor.abortWorkOrder(wo.id, 'again', maria)).rejects.toMatchObject({ code: 'work_order_state' });
  });

  it('a released work order whose window ends unstarted is aborted and no longer covers the panel', async () => {
    const d = await Dmop.create();
    d.baseline('PANEL-1');
    const id = await d.released();
    await d.advance(2 * 3_600_000 + 2_000);
    expect((await d.supervisor.detail(id)).workOrder).toMatchObject({ status: 'aborted', endReason: expect.stringMatching(/window ended/) });
    d.report('PANEL-1', { door_open: true });
    await d.supervisor.flush();
    expect(d.shown('PANEL-1')).toMatchObject({ state: 'intrusion' });
  });
});

describe('step validation: every deviation kind pauses the work until a manager acknowledges', () => {
  it('a skipped step (the absence-of-voltage check) is out of order', async () => {
    const d = await Dmop.create();
    d.baseline('PANEL-1');
    const id = await d.released();
    d.report('PANEL-1', { door_open: true });
    d.mainBreaker('PANEL-1', false);
    await d.advance(1_000);
    // Step 3 is the absence-of-voltage check; closing the breaker again (step 6) skips 3–5.
    d.now += 500;
    d.report('PANEL-1', { main_breaker_closed: true });
    await d.supervisor.flush();
    const det = await d.supervisor.detail(id);
    expect(det.deviations).toHaveLength(1);
    expect(det.deviations[0]).toMatchObject({ kind: 'out-of-order', step: 2, expected: expect.stringMatching(/step 3/), observed: expect.stringMatching(/step 6, steps 3–5 were not done/) });
    expect(det.paused).toBe(true);
    expect(d.shown('PANEL-1')).toMatchObject({ state: 'deviation' });
    expect(d.incidents.at(-1)!.input).toMatchObject({ kind: 'procedure.deviation', assignee: 'maria', site: SITE, asset: 'PANEL-1' });
    await expect(d.supervisor.confirmStep(id, 4, tom)).rejects.toMatchObject({ code: 'work_order_state' });
  });

  it('an unexpected breaker, a door closed early, a failed verification and a failed expectation', async () => {
    const cases: [string, (d: Dmop) => Promise<void> | void, string][] = [
      ['unexpected-operation', (d) => { d.report('PANEL-1', { door_open: true }); d.report('PANEL-1', { breaker_2_closed: false }); }, 'breaker_2_closed'],
      // Closing the door before the work is done skips to the last step.
      ['out-of-order', (d) => { d.report('PANEL-1', { door_open: true }); d.report('PANEL-1', { door_open: false }); }, 'door of panel source closed'],
      ['verification-failed', async (d) => {
        d.report('PANEL-1', { door_open: true });
        // The breaker reports open and the current falls, but a phase stays live (a back-feed).
        d.report('PANEL-1', { main_breaker_closed: false, current_l1: 0, current_l2: 0, current_l3: 0, voltage_l1: 0.2, voltage_l2: 118, voltage_l3: 0.1 });
        await d.advance(62_000);
      }, 'voltage_l2 = 118'],
      ['expectation-failed', async (d) => {
        d.report('PANEL-1', { door_open: true });
        d.report('PANEL-1', { main_breaker_closed: false });
        await d.advance(11_000);
      }, 'current_l1 = 40'],
    ];
    for (const [kind, act, observed] of cases) {
      const d = await Dmop.create();
      d.baseline('PANEL-1');
      const id = await d.released();
      await act(d);
      await d.supervisor.flush();
      const det = await d.supervisor.detail(id);
      expect(det.deviations.map((x) => x.kind), kind).toEqual([kind]);
      expect(det.deviations[0]!.observed, kind).toContain(observed);
      expect(d.shown('PANEL-1')?.state, kind).toBe('deviation');
    }
  });

  it('closing the panel does not silence the klaxon; an acknowledgement with a reason does, and the evidence stays', async () => {
    const d = await Dmop.create();
    d.baseline('PANEL-1');
    const id = await d.released();
    d.report('PANEL-1', { door_open: true });
    d.report('PANEL-1', { breaker_3_closed: false });
    await d.supervisor.flush();
    expect(d.shown('PANEL-1')?.state).toBe('deviation');
    d.now += 2_000;
    d.report('PANEL-1', { door_open: false });
    await d.advance(30_000);
    expect(d.shown('PANEL-1')?.state).toBe('deviation');
    const [dev] = (await d.supervisor.detail(id)).deviations;
    await expect(d.supervisor.acknowledgeDeviation(dev!.id, '', maria)).rejects.toMatchObject({ code: 'reason_required' });
    await expect(d.supervisor.acknowledgeDeviation(dev!.id, 'ok', tom)).rejects.toMatchObject({ code: 'role_required' });
    await d.supervisor.acknowledgeDeviation(dev!.id, 'Wrong breaker touched; restored and briefed', maria);
    const after = d.shown('PANEL-1');
    expect(after).toMatchObject({ state: 'in-progress', clearLocal: true });
    const det = await d.supervisor.detail(id);
    expect(det.deviations[0]).toMatchObject({ acknowledgedBy: 'maria', reason: 'Wrong breaker touched; restored and briefed' });
    expect(det.paused).toBe(false);
    // Restoring the breaker and re-opening the door move back to what the procedure expects: no new deviation.
    d.report('PANEL-1', { breaker_3_closed: true });
    d.report('PANEL-1', { door_open: true });
    await d.supervisor.flush();
    expect((await d.supervisor.detail(id)).deviations).toHaveLength(1);
    expect((await d.audit.list({ actionPrefix: 'workorder.deviation' })).map((e) => e.action)).toEqual(['workorder.deviation', 'workorder.deviation.acknowledge']);
  });
});

describe('wrong panel is a security event', () => {
  it('a door opened with no work order, or another panel than the released one, raises an alert and a ticket to the manager', async () => {
    const d = await Dmop.create();
    PANELS.forEach((p) => d.baseline(p));
    await d.released('PANEL-1');
    d.report('PANEL-2', { door_open: true });
    await d.supervisor.flush();
    expect(d.shown('PANEL-2')).toMatchObject({ state: 'intrusion', covered: false });
    expect(d.shown('PANEL-1')).toMatchObject({ state: 'released' });
    const inc = d.incidents.at(-1)!.input;
    expect(inc).toMatchObject({ kind: 'panel.intrusion', severity: 'critical', assignee: 'maria', asset: 'PANEL-2', captureAssets: ['PANEL-2'] });
    expect(inc.detail.workOrdersNearby).toEqual([expect.objectContaining({ assignees: ['tom'], panels: ['PANEL-1'] })]);
    expect(inc.detail.readingsBefore).toMatchObject({ 'PANEL-2': { voltage_l1: 230 } });
    // Closing the door leaves the klaxon on.
    d.report('PANEL-2', { door_open: false });
    await d.advance(20_000);
    expect(d.shown('PANEL-2')?.state).toBe('intrusion');
    const [alert] = d.supervisor.openAlerts(SITE);
    expect(alert).toMatchObject({ panel: 'PANEL-2', kind: 'door-opened-uncovered', incidentId: 1 });
    await d.supervisor.silenceAlert(alert!.id, 'Facilities contractor; escorted out, ticket follows', maria);
    expect(d.shown('PANEL-2')).toMatchObject({ state: 'idle', clearLocal: true });
    expect(d.supervisor.openAlerts()).toEqual([]);
    expect((await d.store.alerts({})).map((a) => a.silencedBy)).toEqual(['maria']);
    expect((await d.audit.list({ target: 'panel:dc1/PANEL-2' })).map((e) => e.action)).toEqual(['panel.intrusion', 'panel.alert.silence']);
  });

  it('a breaker operated on a panel with no work order is an intrusion too', async () => {
    const d = await Dmop.create();
    d.baseline('PANEL-3');
    d.report('PANEL-3', { breaker_1_closed: false });
    await d.supervisor.flush();
    expect(d.supervisor.openAlerts()[0]).toMatchObject({ kind: 'breaker-operated-uncovered', point: 'breaker_1_closed' });
    expect(d.shown('PANEL-3')?.state).toBe('intrusion');
  });
});

describe('alarm suppression by design', () => {
  it('covers only the expected points of the released panels, for the window, and lifts at the end', async () => {
    const d = await Dmop.create();
    d.baseline('PANEL-1');
    const id = await d.released();
    expect(d.suppressions.get(`workorder:${id}`)!.sort()).toEqual([
      'PANEL-1/current_l1', 'PANEL-1/current_l2', 'PANEL-1/current_l3', 'PANEL-1/main_breaker_closed',
      'PANEL-1/voltage_l1', 'PANEL-1/voltage_l2', 'PANEL-1/voltage_l3',
    ]);
    await d.supervisor.abortWorkOrder(id, 'weather', maria);
    expect(d.suppressions.get(`workorder:${id}`)).toEqual([]);
  });
});

describe('site stop', () => {
  it('pauses every released work order and shows stop on every panel until resumed', async () => {
    const d = await Dmop.create();
    PANELS.forEach((p) => d.baseline(p));
    const id = await d.released();
    await expect(d.supervisor.stopSite(SITE, 'Utility event', tom)).rejects.toMatchObject({ code: 'role_required' });
    await d.supervisor.stopSite(SITE, 'Utility event on feed B', maria);
    for (const p of PANELS) expect(d.shown(p)).toMatchObject({ state: 'stop' });
    expect((await d.supervisor.detail(id)).paused).toBe(true);
    await expect(d.supervisor.releaseWorkOrder(id, alice)).rejects.toMatchObject({ code: 'work_order_state' });
    d.report('PANEL-1', { door_open: true });
    await d.supervisor.flush();
    expect((await d.supervisor.detail(id)).deviations.map((x) => x.kind)).toEqual(['work-during-stop']);
    await d.supervisor.resumeSite(SITE, 'Feed B restored', maria);
    expect(d.shown('PANEL-2')).toMatchObject({ state: 'idle' });
    expect(d.shown('PANEL-1')).toMatchObject({ state: 'deviation' });
    expect((await d.supervisor.detail(id)).steps.map((s) => s.kind)).toEqual(expect.arrayContaining(['paused', 'resumed']));
  });
});

describe('restart', () => {
  it('reloads active work, unsilenced alerts and site stops, and keeps the panel red', async () => {
    const d = await Dmop.create();
    PANELS.forEach((p) => d.baseline(p));
    const id = await d.released();
    d.report('PANEL-1', { door_open: true });
    d.report('PANEL-1', { breaker_1_closed: false });
    d.report('PANEL-3', { door_open: true });
    await d.supervisor.flush();
    await d.supervisor.stop();
    d.signals.length = 0;
    const again = d.open();
    await again.load();
    expect(d.shown('PANEL-1')).toMatchObject({ state: 'deviation', workOrderId: id });
    expect(d.shown('PANEL-3')).toMatchObject({ state: 'intrusion' });
    const det = await again.detail(id);
    const dev = det.deviations[0]!;
    await again.acknowledgeDeviation(dev.id, 'Checked on site', maria);
    expect(d.shown('PANEL-1')).toMatchObject({ state: 'in-progress' });
    expect(d.errors).toEqual([]);
  });
});

describe('audit', () => {
  it('every approval, release, step, deviation, acknowledgement and silence is in the chain, and tampering is detected', async () => {
    const d = await Dmop.create();
    PANELS.forEach((p) => d.baseline(p));
    await d.released();
    d.report('PANEL-1', { door_open: true });
    d.report('PANEL-2', { door_open: true });
    await d.supervisor.flush();
    expect((await d.audit.verify()).ok).toBe(true);
    const ev = (await d.audit.list({ actionPrefix: 'workorder.step' }))[0]!;
    d.db.exec('DROP TRIGGER IF EXISTS audit_events_no_update');
    d.db.prepare('UPDATE audit_events SET detail = ? WHERE seq = ?').run(JSON.stringify({ step: 9 }), ev.seq);
    const v = await d.audit.verify();
    expect(v.ok).toBe(false);
    expect(v.problems[0]).toMatchObject({ code: 'event_edited', seq: ev.seq });
  });
});

describe('out-of-order telemetry', () => {
  it('judges a contact on its newest reading: an older sample arriving late is not an edge', async () => {
    const d = await Dmop.create();
    d.baseline('PANEL-2');
    d.report('PANEL-2', { door_open: true }, d.now + 100);
    d.report('PANEL-2', { door_open: false }, d.now + 300);
    // A slow poll that read the door open at +200 is delivered after the close.
    d.report('PANEL-2', { door_open: true }, d.now + 200);
    await d.supervisor.flush();
    expect(d.supervisor.panelBoard(SITE).find((p) => p.panel === 'PANEL-2')?.door).toBe(false);
    const [alert] = d.supervisor.openAlerts();
    await d.supervisor.silenceAlert(alert!.id, 'checked', maria);
    d.report('PANEL-2', { door_open: true }, d.now + 400);
    await d.supervisor.flush();
    expect(d.supervisor.openAlerts().map((a) => a.panel), 'the next real opening is an alert again').toEqual(['PANEL-2']);
  });
});
