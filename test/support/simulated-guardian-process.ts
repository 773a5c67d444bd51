/**
 * One simulated guardian as its own process, for the kill -9 test: `node --import tsx
 * simulated-guardian-process.ts <options.json>`. With SG_KILL_AT=<phase>, it writes
 * `<dir>/reached-<phase>` when the updater reaches that phase and then stops there, so the test
 * can kill it with SIGKILL at exactly that point of the install.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SimulatedGuardian, type SimGuardianOptions } from './simulated-guardian.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: simulated-guardian-process.ts <options.json>');
const raw = JSON.parse(readFileSync(file, 'utf8')) as Omit<SimGuardianOptions, 'initialBundle'> & { initialBundle: string };
const killAt = process.env.SG_KILL_AT;
const guardian = new SimulatedGuardian({
  ...raw,
  initialBundle: Buffer.from(raw.initialBundle, 'base64'),
  onPhase: async (phase) => {
    writeFileSync(path.join(raw.dir, `phase-${phase}`), String(Date.now()));
    if (phase === killAt) {
      writeFileSync(path.join(raw.dir, `reached-${phase}`), String(process.pid));
      await new Promise(() => { /* stop here until killed */ });
    }
  },
});
await guardian.open();
await guardian.boot();
process.on('SIGTERM', () => { void guardian.stop().then(() => process.exit(0)); });
