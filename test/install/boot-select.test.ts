/**
 * The stable launcher (deploy/guardian/boot.mjs) counts trial boots and abandons a trial exactly as
 * the updater's SlotStore.bootSelect does: the two must agree, or a device could run a slot the
 * updater thinks it left. Run with plain node, as systemd runs it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SlotStore, initialSlotState, type SlotState } from '@shellguard/guardian';

const BOOT = fileURLToPath(new URL('../../deploy/guardian/boot.mjs', import.meta.url));

describe('boot.mjs trial-boot accounting', () => {
  let prefix: string;
  let store: SlotStore;
  let twin: SlotStore;

  beforeEach(() => {
    prefix = mkdtempSync(path.join(tmpdir(), 'sg-boot-'));
    const stateDir = path.join(prefix, 'var/lib/shellguard/guardian');
    const installDir = path.join(prefix, 'opt/shellguard/guardian');
    store = new SlotStore(stateDir, path.join(installDir, 'slots'));
    twin = new SlotStore(path.join(prefix, 'twin'), path.join(prefix, 'twin-slots'));
    for (const slot of ['app-a', 'app-b']) {
      mkdirSync(path.join(installDir, 'slots', slot), { recursive: true });
      // A stand-in guardian that only says which slot it is: the launcher's job ends at the import.
      writeFileSync(path.join(installDir, 'slots', slot, 'guardian.mjs'), `process.stdout.write('running ${slot}\\n');\n`);
    }
  });
  afterEach(() => rmSync(prefix, { recursive: true, force: true }));

  function trialState(bootAttempts: number, healthDeadline: number): SlotState {
    const s = initialSlotState({ application: '1.0.0', platform: '1.0.0' });
    s.streams.application = {
      ...s.streams.application, active: 'b', trial: 'b', bootAttempts, versions: { a: '1.0.0', b: '1.1.0' },
      trialInfo: { deploymentId: 'dep-1', sequence: 4, version: '1.1.0', fromVersion: '1.0.0', startedAt: 0, healthDeadline },
    };
    return s;
  }

  function boot(): string {
    const r = spawnSync(process.execPath, [BOOT, '--prefix', prefix, 'run'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.trim();
  }

  function strip(s: SlotState): unknown {
    // Times differ between the two runs; everything else must be the same.
    return JSON.parse(JSON.stringify(s, (k, v: unknown) => (k === 'at' ? 0 : v)));
  }

  for (const [name, attempts, deadline] of [
    ['counts a trial boot', 0, Date.now() + 600_000],
    ['abandons a trial that keeps crashing', 3, Date.now() + 600_000],
    ['abandons a trial whose health window has passed', 1, Date.now() - 1],
  ] as const) {
    it(`${name}, as SlotStore.bootSelect does`, () => {
      store.write(trialState(attempts, deadline));
      twin.write(trialState(attempts, deadline));
      const ran = boot();
      const expected = twin.bootSelect(Date.now()).state;
      expect(strip(store.read())).toEqual(strip(expected));
      expect(ran).toBe(`running app-${expected.streams.application.active}`);
    });
  }

  it('runs the active slot untouched when no trial is in progress', () => {
    store.write(initialSlotState({ application: '1.0.0', platform: '1.0.0' }));
    expect(boot()).toBe('running app-a');
    expect(store.read().streams.application.bootAttempts).toBe(0);
  });
});
