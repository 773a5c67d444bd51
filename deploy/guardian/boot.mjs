#!/usr/bin/env node
/**
 * The guardian's stable launcher (/opt/shellguard/guardian/boot.mjs): never replaced by an
 * update. It reads the slot state, runs the active application slot's guardian.mjs in this
 * process, and points native-module loading (NODE_PATH, which the bundle's `require` honours) at
 * the active platform slot. Everything else is the bundle's business.
 *
 *   node boot.mjs [--prefix DIR] [run|id|measure] [guardian options...]
 *
 * --prefix (or SHELLGUARD_PREFIX) roots the standard paths elsewhere, for tests and staging;
 * SHELLGUARD_INSTALL_DIR and SHELLGUARD_SLOTS_FILE override them one by one.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { Module } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const argv = process.argv.slice(2);
let prefix = process.env.SHELLGUARD_PREFIX ?? '/';
const at = argv.indexOf('--prefix');
if (at >= 0) {
  prefix = argv[at + 1] ?? '';
  argv.splice(at, 2);
}
const installDir = process.env.SHELLGUARD_INSTALL_DIR ?? path.join(prefix, 'opt/shellguard/guardian');
const slotsFile = process.env.SHELLGUARD_SLOTS_FILE ?? path.join(prefix, 'var/lib/shellguard/guardian/slots.json');

function fail(message) {
  process.stderr.write(`shellguard-guardian boot: ${message}\n`);
  process.exit(78); // EX_CONFIG: systemd keeps restarting, the journal says why
}

let state;
try {
  state = JSON.parse(readFileSync(slotsFile, 'utf8'));
} catch (err) {
  fail(`cannot read the slot state ${slotsFile}: ${err instanceof Error ? err.message : String(err)}`);
}
const active = (stream) => {
  const slot = state?.v === 1 ? state.streams?.[stream]?.active : undefined;
  if (slot !== 'a' && slot !== 'b') fail(`${slotsFile}: streams.${stream}.active must be "a" or "b"`);
  return slot;
};

// Trial-boot accounting (packages/guardian/src/updates/slots.ts, SlotStore.bootSelect — the same
// rules, kept here in plain JS because this file must not depend on any slot's code): a trial
// release gets MAX_TRIAL_BOOTS starts to pass its health check before its window ends; after
// that the committed slot runs again, and the guardian reports why when it is up.
const MAX_TRIAL_BOOTS = 3;
function replaceState(next) {
  const tmp = `${slotsFile}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(next)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, slotsFile);
  const dir = openSync(path.dirname(slotsFile), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
for (const stream of ['platform', 'application']) {
  const s = state.streams?.[stream];
  if (!s || (s.trial !== 'a' && s.trial !== 'b')) continue;
  const now = Date.now();
  let next;
  const rollBack = (reason) => {
    const { trialInfo, ...rest } = s;
    return {
      ...rest, active: s.committed, trial: null, bootAttempts: 0,
      lastRollback: {
        version: trialInfo?.version ?? s.versions?.[s.trial] ?? 'unknown', reason, at: now,
        ...(trialInfo ? { deploymentId: trialInfo.deploymentId, sequence: trialInfo.sequence } : {}),
      },
    };
  };
  if (s.bootAttempts + 1 > MAX_TRIAL_BOOTS) {
    next = rollBack(`the new ${stream} release did not start: ${s.bootAttempts} boots without passing its health check`);
  } else if (s.trialInfo && now > s.trialInfo.healthDeadline) {
    next = rollBack('health window expired before the new release re-attested and streamed telemetry');
  } else {
    next = { ...s, bootAttempts: s.bootAttempts + 1 };
  }
  state = { ...state, streams: { ...state.streams, [stream]: next } };
  replaceState(state);
  if (next.trial === null) process.stderr.write(`shellguard-guardian boot: ${next.lastRollback.reason}; running the committed ${stream} slot ${next.active}\n`);
}

const appDir = path.join(installDir, 'slots', `app-${active('application')}`);
const platformDir = path.join(installDir, 'slots', `platform-${active('platform')}`);

// The bundle's require() resolves native modules through NODE_PATH; Module._initPaths re-reads
// it (it is read once at startup, before this file ran).
process.env.NODE_PATH = path.join(platformDir, 'node_modules');
Module._initPaths();

const entry = path.join(appDir, 'guardian.mjs');
process.argv = [process.argv[0], entry, ...argv];
await import(pathToFileURL(entry).href);
