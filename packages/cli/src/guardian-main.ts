#!/usr/bin/env node
/**
 * `shellguard-guardian`: the guardian's own command line, what a gateway runs (the application
 * bundle's `guardian.mjs`). The same commands as `shellguard guardian ...`, without the server,
 * simulator and admin code, so a gateway neither ships nor loads them.
 */
import { Command } from 'commander';
import { ShellguardError } from '@shellguard/protocol';
import { printGuardianId, printGuardianMeasurements, runGuardian } from './commands/guardian.ts';

const program = new Command('shellguard-guardian')
  .description('the Shellguard guardian: polls equipment read-only and sends telemetry upstream')
  .showHelpAfterError();
program.command('run', { isDefault: true })
  .description('poll equipment and send telemetry upstream')
  .requiredOption('--config <file>', 'guardian.yaml')
  .action(runGuardian);
program.command('id')
  .description('print the device id to claim (creates the identity key on first use; the key never leaves the box)')
  .requiredOption('--data-dir <dir>', 'the guardian\'s data folder (holds identity.key)')
  .action(printGuardianId);
program.command('measure')
  .description('print the release manifest (reference values) this guardian attests with, for `shellguard group release`')
  .requiredOption('--config <file>', 'guardian.yaml')
  .action(printGuardianMeasurements);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(err instanceof ShellguardError
    ? `shellguard-guardian: ${err.message} [${err.code}]\n`
    : `shellguard-guardian: unexpected failure: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
