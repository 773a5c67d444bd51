#!/usr/bin/env node
/**
 * `shellguard`: one command line for every part. It only wires the packages together.
 */
import { Command, InvalidArgumentError } from 'commander';
import { ShellguardError } from '@shellguard/protocol';
import { runDemo } from './commands/demo.ts';
import { runServer } from './commands/server.ts';
import { runGuardian, writeGuardianCsr } from './commands/guardian.ts';
import { initCa, issueCertificate } from './commands/ca.ts';
import { runSim } from './commands/sim.ts';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number 0-65535');
  return n;
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number above 0');
  return n;
}

const program = new Command('shellguard')
  .description('Connect a datacenter\'s mechanical and electrical plant safely: read-only, mutually authenticated, audited.')
  .showHelpAfterError();

program.command('demo')
  .description('run a whole virtual site on this machine: CA, server, broker, simulated equipment, guardians')
  .option('--dir <dir>', 'where the demo keeps its state', '.shellguard/demo')
  .option('--assets <n>', 'simulated assets', positive, 32)
  .option('--guardians <n>', 'guardians sharing the assets', positive, 4)
  .option('--api-port <port>', 'HTTPS API port', port, 8443)
  .option('--mqtt-port <port>', 'MQTT/TLS broker port', port, 8883)
  .option('--sim-port <port>', 'first Modbus TCP port of the simulated equipment', port, 25020)
  .option('--duration <seconds>', 'stop after this many seconds (default: run until Ctrl-C)', positive)
  .action(runDemo);

program.command('server')
  .description('run the control plane: broker, ingest, store, HTTPS API')
  .requiredOption('--config <file>', 'server.yaml')
  .action(runServer);

const guardian = program.command('guardian').description('run or enrol a guardian (edge agent)');
guardian.command('run', { isDefault: true })
  .description('poll equipment and send telemetry upstream')
  .requiredOption('--config <file>', 'guardian.yaml')
  .action(runGuardian);
guardian.command('csr')
  .description('create the identity key if needed and write a certificate request for it')
  .requiredOption('--data-dir <dir>', 'the guardian\'s data folder (holds identity.key)')
  .requiredOption('--out <file>', 'where to write the CSR (PEM)')
  .action(writeGuardianCsr);

const ca = program.command('ca').description('the site certificate authority');
ca.command('init')
  .description('create a site CA (refuses to overwrite one)')
  .requiredOption('--dir <dir>', 'folder for ca.crt and ca.key')
  .option('--name <cn>', 'CA common name', 'Shellguard site CA')
  .action(initCa);
ca.command('issue')
  .description('issue a guardian certificate from its CSR (device id = SHA-256 of its public key)')
  .requiredOption('--dir <dir>', 'CA folder')
  .requiredOption('--csr <file>', 'the guardian\'s CSR (PEM)')
  .requiredOption('--out <file>', 'where to write the certificate')
  .option('--hours <n>', 'validity in hours', positive, 24)
  .action(issueCertificate);

program.command('sim')
  .description('run simulated equipment: Modbus TCP servers on loopback')
  .option('--site <id>', 'site id', 'site-1')
  .option('--assets <n>', 'number of assets', positive, 32)
  .option('--base-port <port>', 'first port', port, 25020)
  .option('--seed <n>', 'random seed', positive, 1)
  .option('--fault <asset:kind...>', 'inject a slow fault, e.g. AHU-01:fan-bearing or GEN-01:coolant-drift')
  .action(runSim);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ShellguardError) {
    process.stderr.write(`shellguard: ${err.message} [${err.code}]\n`);
  } else {
    process.stderr.write(`shellguard: unexpected failure: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  process.exitCode = 1;
}
