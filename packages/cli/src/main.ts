#!/usr/bin/env node
/**
 * `shellguard`: one command line for every part. It only wires the packages together.
 */
import { readFileSync } from 'node:fs';
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { ShellguardError } from '@shellguard/protocol';
import { ApiClientError, apiClientOptionsFrom, createApiClient, type ApiClient, type ApiClientOptions } from './api-client.ts';
import { claimDevice, claimDevicesFromCsv, listDevices, releaseDevice, revokeDevice } from './commands/device.ts';
import { createGroup, parseReleaseManifest, registerRelease } from './commands/group.ts';
import { printVersionReport } from './commands/fleet.ts';
import {
  actOnDeployment, createDeployment, deferDevice, listDeployments, printStreamVersionReport, showDeployment, type CreateDeploymentOptions,
} from './commands/deploy.ts';
import { runConformanceCli } from '@shellguard/guardian';
import { listAudit, runAuditVerify, type OfflineVerifyOptions } from './commands/audit.ts';
import { createToken, listTokens, revokeToken } from './commands/token.ts';
import { cosign, generateReleaseKey, initRepository, rotateRoot, signRelease, uploadPending } from './commands/release.ts';
import { createUser, disableUser, enableUser, listUsers, readPassword, setUserPassword, setUserRole } from './commands/user.ts';
import { runDemo } from './commands/demo.ts';
import { DEMO_SCENARIO_NAMES } from './commands/demo-scenario.ts';
import { DEMO_BROKERS } from './commands/demo-parts.ts';
import { moveAsset } from './commands/asset.ts';
import { runServer } from './commands/server.ts';
import { discoverBacnet, printGuardianId, printGuardianMeasurements, runGuardian } from './commands/guardian.ts';
import { initCa, rotateCa } from './commands/ca.ts';
import { runSim } from './commands/sim.ts';
import {
  acknowledgeAlarm, defineAlarmRules, listAlarmRules, listAlarms, parseAlarmId, parseAlarmRuleFile, removeAlarmFromService,
  returnAlarmToService, setAssetMode, shelveAlarm, showAlarm, unshelveAlarm,
} from './commands/alarms.ts';
import { createWorkOrder, listRecommendations, listWorkOrders, reactiveShare, relearnAsset, workOrderFromRecommendation } from './commands/maintenance.ts';
import {
  ALARM_LIST_STATES, ALARM_PRIORITIES, ASSET_MODES, NEW_WORK_ORDER_TYPES, RECOMMENDATION_STATUSES, SHELVE_KINDS, TOKEN_ROLES,
  USER_ROLES, WORK_ORDER_STATUSES, WORK_ORDER_TYPES,
} from './choices.ts';

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
  .option('--dir <dir>', 'where the demo keeps its state; emptied at every start, so it must be missing, empty or a folder an earlier demo made', '.shellguard/demo')
  .option('--assets <n>', 'simulated assets', positive, 32)
  .option('--guardians <n>', 'guardians sharing the assets', positive, 4)
  .option('--api-port <port>', 'HTTPS API port', port, 8443)
  .option('--mqtt-port <port>', 'MQTT/TLS broker port', port, 8883)
  .option('--sim-port <port>', 'first port of the simulated equipment (asset i answers on this port + i, TCP or UDP by its protocol)', port, 25020)
  .option('--duration <seconds>', 'stop after this many seconds (default: run until Ctrl-C)', positive)
  .addOption(new Option('--scenario <name>', 'what happens on the site: bearing-wear (time-compressed: a recommendation, then an alarm, within 5 minutes) or none (slow faults in real time: hours)')
    .choices(DEMO_SCENARIO_NAMES).default('bearing-wear'))
  .option('--api-cert <file>', 'your certificate chain (PEM, server certificate first) for the API and dashboard, e.g. from a CA your browser trusts; valid for 127.0.0.1 or localhost')
  .option('--api-key <file>', 'the private key of --api-cert (PEM, unencrypted)')
  .option('--api-ca <file>', 'the CA certificate that issued --api-cert, for the demo\'s guardians (default: the last certificate of --api-cert if it is a root)')
  .option('--database <postgres-url>', 'store everything in this PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/shellguard_scaleout (it must be empty; default: the embedded SQLite file in --dir)')
  .addOption(new Option('--broker <broker>', 'embedded (default), or mosquitto: start Debian\'s /usr/sbin/mosquitto on its own free loopback port, configured in --dir, stopped with the demo')
    .choices(DEMO_BROKERS).default('embedded'))
  .option('--replicas <n>', 'server replicas sharing the site (default 1); more need --database and --broker mosquitto, and start Debian\'s nats-server for their bus', positive, 1)
  .addOption(new Option('--protocols <set>', 'modbus (default): every asset over Modbus TCP; mixed: air handlers and CRAHs over BACnet/IP, UPSs and PDUs over SNMPv3, rack servers over Redfish, generators and panels over Modbus, as a real site')
    .choices(['mixed', 'modbus']).default('modbus'))
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
guardian.command('id')
  .description('print the device id to claim (creates the identity key on first use; the key never leaves the box)')
  .requiredOption('--data-dir <dir>', 'the guardian\'s data folder (holds identity.key)')
  .action(printGuardianId);
guardian.command('measure')
  .description('print the release manifest (reference values) this guardian attests with, for `shellguard group release`')
  .requiredOption('--config <file>', 'guardian.yaml')
  .action(printGuardianMeasurements);
guardian.command('discover-bacnet')
  .description('commissioning: send a BACnet Who-Is and list the devices that answer (device instance, address, route) for guardian.yaml')
  .requiredOption('--broadcast <address>', 'a directed broadcast of the plant network (e.g. 10.1.2.255), or one device\'s address')
  .option('--port <port>', 'BACnet/IP UDP port', port, 47808)
  .option('--timeout-ms <ms>', 'how long to collect I-Am answers', positive, 3000)
  .option('--low <instance>', 'lowest device instance asked for', (v) => Number(v))
  .option('--high <instance>', 'highest device instance asked for', (v) => Number(v))
  .option('--unicast', 'the address is one device\'s: ask it alone (Original-Unicast, not forwarded by a BBMD)')
  .option('--json', 'print the devices as JSON')
  .action(async (o: { broadcast: string; port: number; timeoutMs: number; low?: number; high?: number; json?: boolean; unicast?: boolean }) => { await discoverBacnet(o); });

const ca = program.command('ca').description('the site certificate authority');
ca.command('init')
  .description('create the site PKI: a root CA (its key may then go offline) and an issuing CA')
  .requiredOption('--dir <dir>', 'folder for the PKI')
  .option('--name <cn>', 'root CA common name', 'Shellguard site root CA')
  .action(initCa);
ca.command('rotate')
  .description('create a new issuing CA signed by the root (needs root.key); certificates of the old one stay valid')
  .requiredOption('--dir <dir>', 'folder of the PKI')
  .action(rotateCa);

program.command('sim')
  .description('run simulated equipment on loopback: Modbus TCP servers, or a mixed site (BACnet/IP, SNMP, Redfish, Modbus)')
  .option('--site <id>', 'site id', 'site-1')
  .option('--assets <n>', 'number of assets', positive, 32)
  .option('--base-port <port>', 'first port', port, 25020)
  .option('--seed <n>', 'random seed', positive, 1)
  .option('--fault <asset:kind...>', 'inject a slow fault, e.g. AHU-01:fan-bearing or GEN-01:coolant-drift')
  .addOption(new Option('--protocols <set>', 'modbus (every asset over Modbus TCP) or mixed (BACnet/IP, SNMPv3, Redfish and Modbus)').choices(['modbus', 'mixed']).default('modbus'))
  .option('--json', 'print the assets as JSON (with the simulator\'s credentials), one line, for scripts and benchmarks')
  .action(runSim);

// ---------------------------------------------------------------- admin verbs (over the HTTP API)

/** --server, --token and --ca on a command that talks to the API. */
function apiCommand(cmd: Command): Command {
  return cmd
    .option('--server <url>', 'API base URL, e.g. https://127.0.0.1:8443 (default: SHELLGUARD_SERVER)')
    .option('--token <token>', 'API token (default: SHELLGUARD_TOKEN; prefer the variable: arguments show in ps)')
    .option('--ca <file>', 'CA certificate (PEM) to trust for the server, e.g. the site root (default: SHELLGUARD_CA)');
}

function client(opts: ApiClientOptions): ApiClient {
  return createApiClient(apiClientOptionsFrom({ server: opts.server, token: opts.token, ca: opts.ca }));
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number, 0 or more');
  return n;
}

const out = process.stdout;

class UsageError extends ShellguardError<'cli_usage'> {}

const device = program.command('device').description('claim, revoke, release and list devices (guardians)');
apiCommand(device.command('claim [deviceId]'))
  .description('claim a device into a site and group, or many from a CSV (columns device_id,site,group; header required)')
  .option('--site <site>', 'site id')
  .option('--group <group>', 'device group id')
  .option('--csv <file>', 'claim every line of this CSV instead')
  .action(async (deviceId: string | undefined, opts: ApiClientOptions & { site?: string; group?: string; csv?: string }) => {
    if (opts.csv) {
      if (deviceId) throw new UsageError('cli_usage', 'give either a device id or --csv, not both');
      const failed = await claimDevicesFromCsv(client(opts), out, readFileSync(opts.csv, 'utf8'), opts.csv);
      if (failed > 0) process.exitCode = 1;
      return;
    }
    if (!deviceId || !opts.site || !opts.group) {
      throw new UsageError('cli_usage', 'usage: shellguard device claim <deviceId> --site S --group G (or --csv FILE)');
    }
    await claimDevice(client(opts), out, deviceId, { site: opts.site, group: opts.group });
  });
apiCommand(device.command('revoke <deviceId>'))
  .description('revoke a device for good: certificates revoked, disconnected from the broker')
  .requiredOption('--reason <text>', 'why (kept in the audit log)')
  .action(async (deviceId: string, opts: ApiClientOptions & { reason: string }) => revokeDevice(client(opts), out, deviceId, opts));
apiCommand(device.command('release <deviceId>'))
  .description('lift a quarantine so the device may attest again')
  .option('--reason <text>', 'why (kept in the audit log)')
  .action(async (deviceId: string, opts: ApiClientOptions & { reason?: string }) => releaseDevice(client(opts), out, deviceId, opts));
apiCommand(device.command('list'))
  .description('the fleet view: claim state, last attestation, version, certificate expiry, reports')
  .option('--json', 'print JSON')
  .action(async (opts: ApiClientOptions & { json?: boolean }) => listDevices(client(opts), out, opts));

const group = program.command('group').description('device groups and their reference releases');
apiCommand(group.command('create <groupId>'))
  .description('define a device group in a site with its minimum secure version')
  .requiredOption('--site <site>', 'site id')
  .requiredOption('--min-version <version>', 'minimum secure version (semver)')
  .action(async (id: string, opts: ApiClientOptions & { site: string; minVersion: string }) => createGroup(client(opts), out, id, opts));
apiCommand(group.command('release <groupId>'))
  .description('register a release (reference manifest) devices of the group may run')
  .requiredOption('--file <manifest.json>', '{"swname", "swversion", "components": [{"component", "digest"}]}')
  .action(async (id: string, opts: ApiClientOptions & { file: string }) =>
    registerRelease(client(opts), out, id, parseReleaseManifest(readFileSync(opts.file, 'utf8'), opts.file)));

const fleet = program.command('fleet').description('the fleet as a whole');
apiCommand(fleet.command('report'))
  .description('"right version everywhere": devices whose measured software differs from their group\'s release')
  .option('--json', 'print JSON')
  .action(async (opts: ApiClientOptions & { json?: boolean }) => {
    if ((await printVersionReport(client(opts), out, opts)) > 0) process.exitCode = 1;
  });

const deploy = program.command('deploy').description('roll a signed release out to a device group in waves, and watch it');
apiCommand(deploy.command('create'))
  .description('deploy a release (a genuine target of the image repository) to a group')
  .requiredOption('--product <name>', 'e.g. shellguard-guardian')
  .addOption(new Option('--stream <stream>', 'platform (runtime and native layer) or application (guardian and profiles)').choices(['platform', 'application']).makeOptionMandatory())
  .requiredOption('--version <version>', 'the release version')
  .requiredOption('--group <group>', 'device group')
  .option('--waves <percentages>', 'cumulative percentages of the group (default 1,10,50,100)')
  .option('--health-window <seconds>', 'time a device has to re-attest and stream after installing (default 600)', positive)
  .option('--failure-threshold <fraction>', 'fraction of a wave failed or rolled back that halts the rollout (default 0.1)', Number)
  .option('--min-failures <n>', 'failures needed before the threshold applies (default 1)', positive)
  .option('--soak <seconds>', 'a complete wave stays healthy this long before the next (default 0)', nonNegative)
  .option('--window <window...>', 'maintenance window(s) devices install in, e.g. "mon-fri 02:00-04:00 Europe/Amsterdam"')
  .option('--auto-apply', 'platform stream only: install in every maintenance window without an engineer starting it')
  .option('--json', 'print JSON')
  .action(async (opts: ApiClientOptions & CreateDeploymentOptions) => createDeployment(client(opts), out, opts));
apiCommand(deploy.command('list'))
  .description('deployments, newest first')
  .option('--group <group>', 'only this group')
  .option('--json', 'print JSON')
  .action(async (opts: ApiClientOptions & { group?: string; json?: boolean }) => listDeployments(client(opts), out, opts));
apiCommand(deploy.command('show <deploymentId>'))
  .description('progress per wave, and every device that is not healthy with its reason')
  .option('--all', 'list every device')
  .option('--json', 'print JSON')
  .action(async (id: string, opts: ApiClientOptions & { all?: boolean; json?: boolean }) => showDeployment(client(opts), out, id, opts));
for (const action of ['pause', 'resume', 'abort', 'start-installs'] as const) {
  apiCommand(deploy.command(`${action} <deploymentId>`))
    .description(action === 'start-installs' ? 'let waiting devices install now (inside a maintenance window)' : `${action} the rollout`)
    .option('--reason <text>', 'why (kept in the audit log)')
    .action(async (id: string, opts: ApiClientOptions & { reason?: string }) => actOnDeployment(client(opts), out, id, action, opts));
}
apiCommand(deploy.command('defer <deploymentId> <deviceId>'))
  .description('hold one device back from a deployment until a time (ISO 8601)')
  .requiredOption('--until <time>', 'e.g. 2026-12-20T06:00:00Z')
  .requiredOption('--reason <text>', 'why (kept in the audit log)')
  .action(async (id: string, deviceId: string, opts: ApiClientOptions & { until: string; reason: string }) => deferDevice(client(opts), out, id, deviceId, opts));
apiCommand(deploy.command('versions <group>'))
  .description('"right version everywhere" per stream: devices not running, or not attested on, the deployed release; exits 1 if any')
  .addOption(new Option('--stream <stream>', 'platform or application').choices(['platform', 'application']).default('application'))
  .option('--json', 'print JSON')
  .action(async (group: string, opts: ApiClientOptions & { stream: string; json?: boolean }) => {
    if ((await printStreamVersionReport(client(opts), out, group, opts)) > 0) process.exitCode = 1;
  });

program.command('tuf-client')
  .description('the TUF client the guardian updates with, behind the conformance suite\'s client CLI (theupdateframework/tuf-conformance CLIENT-CLI.md)')
  .allowUnknownOption()
  .helpOption(false)
  .argument('[args...]')
  .action(async (args: string[]) => { process.exitCode = await runConformanceCli(args); });

const audit = program.command('audit').description('the hash-chained audit log');
apiCommand(audit.command('verify'))
  .description('check the keyed hash chain and its anchors, over the API or offline (--db); exits 1 and says what is wrong and where')
  .option('--db <file>', 'offline: a copy of the server\'s shellguard.sqlite, opened read-only, or its PostgreSQL database (postgres://…, only read); no server needed')
  .option('--key <file>', 'offline: the server\'s audit key file (audit.key)')
  .option('--anchors <file>', 'offline: the anchor file (audit-anchors.log), or a webhook receiver\'s copy of the anchors')
  .action(async (opts: ApiClientOptions & OfflineVerifyOptions) => {
    if (!(await runAuditVerify(opts, () => client(opts), out))) process.exitCode = 1;
  });
apiCommand(audit.command('list'))
  .description('audit events in order')
  .option('--after <seq>', 'only events after this sequence number', nonNegative)
  .option('--limit <n>', 'at most this many (max 1000)', positive, 100)
  .option('--target <target>', 'only events about this target, e.g. device:<id>')
  .option('--json', 'print JSON')
  .action(async (opts: ApiClientOptions & { after?: number; limit: number; target?: string; json?: boolean }) =>
    listAudit(client(opts), out, opts));

const token = program.command('token').description('API tokens (admin token needed)');
apiCommand(token.command('create'))
  .description('create an API token with a role; its value is printed once')
  .requiredOption('--name <name>', 'who or what will use it')
  .addOption(new Option('--role <role>', 'what the token may do').choices(TOKEN_ROLES).makeOptionMandatory())
  .action(async (opts: ApiClientOptions & { name: string; role: string }) => createToken(client(opts), out, opts));
apiCommand(token.command('list'))
  .description('API tokens with their roles (never their values)')
  .action(async (opts: ApiClientOptions) => listTokens(client(opts), out));
apiCommand(token.command('revoke <tokenId>'))
  .description('revoke an API token (the 16-hex id from token list)')
  .action(async (tokenId: string, opts: ApiClientOptions) => revokeToken(client(opts), out, tokenId));

const user = program.command('user').description('people who sign in to the web dashboard (admin token needed)');
const passwordHelp = 'the password comes from SHELLGUARD_PASSWORD or standard input (at least 12 characters; never an argument)';
apiCommand(user.command('create <username>'))
  .description(`create a user with a role; ${passwordHelp}`)
  .addOption(new Option('--role <role>', 'what the user may do').choices(USER_ROLES).makeOptionMandatory())
  .action(async (username: string, opts: ApiClientOptions & { role: string }) => {
    const api = client(opts);
    await createUser(api, out, username, { role: opts.role, password: await readPassword({ env: process.env, stdin: process.stdin }) });
  });
apiCommand(user.command('list'))
  .description('users with their roles and status (never their passwords)')
  .action(async (opts: ApiClientOptions) => listUsers(client(opts), out));
apiCommand(user.command('role <username>').addArgument(new Argument('<role>', 'the new role').choices(USER_ROLES)))
  .description('change a user\'s role (their sessions end)')
  .action(async (username: string, role: string, opts: ApiClientOptions) => setUserRole(client(opts), out, username, role));
apiCommand(user.command('disable <username>'))
  .description('refuse a user\'s sign-in and end their sessions at once')
  .action(async (username: string, opts: ApiClientOptions) => disableUser(client(opts), out, username));
apiCommand(user.command('enable <username>'))
  .description('let a disabled or locked-out user sign in again')
  .action(async (username: string, opts: ApiClientOptions) => enableUser(client(opts), out, username));
apiCommand(user.command('password <username>'))
  .description(`set a user's password (their sessions end); ${passwordHelp}`)
  .action(async (username: string, opts: ApiClientOptions) => {
    const api = client(opts);
    await setUserPassword(api, out, username, await readPassword({ env: process.env, stdin: process.stdin }));
  });

const maintenance = program.command('maintenance').description('predictive maintenance: recommendations, work orders, the reactive-work KPI, relearning after a repair');
apiCommand(maintenance.command('recommendations'))
  .description('maintenance recommendations with their evidence (point, since, how far from normal, chart link)')
  .option('--site <site>', 'only this site')
  .addOption(new Option('--status <status>', 'only recommendations in this status').choices(RECOMMENDATION_STATUSES))
  .option('--json', 'print JSON')
  .action(async (opts: ApiClientOptions & { site?: string; status?: string; json?: boolean }) => listRecommendations(client(opts), out, opts));
apiCommand(maintenance.command('plan <recommendationId>'))
  .description('turn a recommendation into a predictive work order (admin, engineer or technician token)')
  .option('--title <text>', 'work order title')
  .action(async (id: string, opts: ApiClientOptions & { title?: string }) => workOrderFromRecommendation(client(opts), out, id, opts));
apiCommand(maintenance.command('work-order'))
  .description('open a planned or reactive work order')
  .requiredOption('--site <site>', 'site').requiredOption('--asset <asset>', 'asset')
  .addOption(new Option('--type <type>', 'planned or reactive (predictive ones come from `maintenance plan`)').choices(NEW_WORK_ORDER_TYPES).makeOptionMandatory())
  .requiredOption('--title <text>', 'what to do')
  .option('--point <point>', 'the point concerned')
  .action(async (opts: ApiClientOptions & { site: string; asset: string; type: string; title: string; point?: string }) => createWorkOrder(client(opts), out, opts));
apiCommand(maintenance.command('work-orders'))
  .description('work orders')
  .option('--site <site>', 'only this site')
  .addOption(new Option('--status <status>', 'only work orders in this status').choices(WORK_ORDER_STATUSES))
  .addOption(new Option('--type <type>', 'only work orders of this type').choices(WORK_ORDER_TYPES))
  .option('--json', 'print JSON')
  .action(async (opts: ApiClientOptions & { site?: string; status?: string; type?: string; json?: boolean }) => listWorkOrders(client(opts), out, opts));
apiCommand(maintenance.command('relearn <site> <asset>'))
  .description('after a repair or a changed duty: declare the asset normal from now, so its models learn again (admin or engineer token; audited)')
  .action(async (site: string, asset: string, opts: ApiClientOptions) => relearnAsset(client(opts), out, site, asset));
apiCommand(maintenance.command('kpi'))
  .description('share of reactive work per site and week')
  .option('--site <site>', 'only this site')
  .action(async (opts: ApiClientOptions & { site?: string }) => reactiveShare(client(opts), out, opts));

const alarms = program.command('alarms').description('ISA-18.2 alarms: list, inspect, acknowledge, shelve, take out of service');
apiCommand(alarms.command('list'))
  .description('alarms, critical first then most recently changed')
  .addOption(new Option('--state <state>', 'only alarms in this state').choices(ALARM_LIST_STATES))
  .option('--site <site>', 'only this site')
  .option('--asset <asset>', 'only this asset')
  .addOption(new Option('--priority <priority>', 'only alarms of this priority').choices(ALARM_PRIORITIES))
  .option('--all', 'also alarms in the normal state')
  .option('--json', 'print JSON')
  .action(async (opts: ApiClientOptions & { state?: string; site?: string; asset?: string; priority?: string; all?: boolean; json?: boolean }) =>
    listAlarms(client(opts), out, opts));
apiCommand(alarms.command('show <id>'))
  .description('one alarm and its history (activations, clears, every operator action)')
  .option('--json', 'print JSON')
  .action(async (id: string, opts: ApiClientOptions & { json?: boolean }) => showAlarm(client(opts), out, parseAlarmId(id), opts));
apiCommand(alarms.command('ack <id>'))
  .description('acknowledge an alarm (admin, engineer or technician token)')
  .option('--comment <text>', 'why (kept in the alarm history)')
  .action(async (id: string, opts: ApiClientOptions & { comment?: string }) => acknowledgeAlarm(client(opts), out, parseAlarmId(id), opts));
apiCommand(alarms.command('shelve <id>'))
  .description('shelve an alarm: one-shot (until it clears) or timed; never beyond its rule\'s maximum')
  .addOption(new Option('--kind <kind>', 'one-shot (until it clears) or timed (needs --minutes)').choices(SHELVE_KINDS).makeOptionMandatory())
  .option('--minutes <n>', 'how long (needed for timed)', positive)
  .option('--comment <text>', 'why (kept in the alarm history)')
  .action(async (id: string, opts: ApiClientOptions & { kind: string; minutes?: number; comment?: string }) =>
    shelveAlarm(client(opts), out, parseAlarmId(id), opts));
apiCommand(alarms.command('unshelve <id>'))
  .description('unshelve an alarm: it annunciates again')
  .option('--comment <text>', 'why (kept in the alarm history)')
  .action(async (id: string, opts: ApiClientOptions & { comment?: string }) => unshelveAlarm(client(opts), out, parseAlarmId(id), opts));
apiCommand(alarms.command('oos <id>'))
  .description('take an alarm out of service, e.g. a broken transmitter (admin or engineer token)')
  .option('--comment <text>', 'why (kept in the alarm history)')
  .action(async (id: string, opts: ApiClientOptions & { comment?: string }) =>
    removeAlarmFromService(client(opts), out, parseAlarmId(id), opts));
apiCommand(alarms.command('rts <id>'))
  .description('return an out-of-service alarm to service (admin or engineer token)')
  .option('--comment <text>', 'why (kept in the alarm history)')
  .action(async (id: string, opts: ApiClientOptions & { comment?: string }) =>
    returnAlarmToService(client(opts), out, parseAlarmId(id), opts));

const alarmRules = program.command('alarm-rules').description('alarm rules per equipment profile and point');
apiCommand(alarmRules.command('list'))
  .description('rule definitions')
  .option('--profile <profile>', 'only rules of this equipment profile')
  .option('--json', 'print JSON')
  .action(async (opts: ApiClientOptions & { profile?: string; json?: boolean }) => listAlarmRules(client(opts), out, opts));
apiCommand(alarmRules.command('define'))
  .description('define (or redefine) rules from a YAML or JSON file: one rule, a list, or {rules: [...]} (admin or engineer token)')
  .requiredOption('--file <file>', 'rule.yaml or rule.json')
  .action(async (opts: ApiClientOptions & { file: string }) => {
    await defineAlarmRules(client(opts), out, parseAlarmRuleFile(readFileSync(opts.file, 'utf8'), opts.file));
  });

const release = program.command('release').description('offline signing for the TUF image repositories (root and targets keys never reach the server)');
release.command('keygen')
  .description('make an ed25519 release key: private PEM (mode 0600) and <file>.pub; prints its key id')
  .requiredOption('--out <file>', 'the private key file (never overwritten)')
  .action((opts: { out: string }) => { generateReleaseKey(out, opts.out); });
const repositoryOptions = (cmd: Command) => cmd
  .requiredOption('--product <product>', 'e.g. shellguard-guardian')
  .addOption(new Option('--stream <stream>', 'platform or application').choices(['platform', 'application']).makeOptionMandatory())
  .option('--expires-days <n>', 'days until the signed metadata expires', positive)
  .option('--out <file>', 'write the metadata signed so far to this file (for cosign and upload) instead of uploading it');
repositoryOptions(apiCommand(release.command('init')))
  .description('create a repository: 1.root.json naming the offline keys and the server\'s online keys, signed with the root keys (admin token)')
  .requiredOption('--root-key <file...>', 'root private keys to sign with (their public keys become the root role)')
  .requiredOption('--root-threshold <n>', 'root signatures required', positive)
  .requiredOption('--targets-pub <file...>', 'targets public keys (.pub)')
  .requiredOption('--targets-threshold <n>', 'targets signatures required', positive)
  .action(async (opts: ApiClientOptions & { product: string; stream: string; rootKey: string[]; rootThreshold: number; targetsPub: string[]; targetsThreshold: number; expiresDays?: number; out?: string }) =>
    initRepository(client(opts), out, opts));
repositoryOptions(apiCommand(release.command('sign')))
  .description('add a bundle to the repository\'s targets (custom = its manifest), next version, signed with targets keys, uploaded with the bundle (admin or engineer token)')
  .requiredOption('--file <bundle>', 'the bundle')
  .requiredOption('--version <version>', 'its version (must match the manifest)')
  .requiredOption('--manifest <file>', 'its BundleManifest (JSON)')
  .requiredOption('--key <file...>', 'targets private keys to sign with')
  .option('--name <name>', 'the target name (default: the bundle\'s file name)')
  .action(async (opts: ApiClientOptions & { product: string; stream: string; file: string; version: string; manifest: string; key: string[]; name?: string; expiresDays?: number; out?: string }) =>
    signRelease(client(opts), out, opts));
repositoryOptions(apiCommand(release.command('rotate-root')))
  .description('sign the next root version with the old and new root keys; it names the server\'s proposed online keys (admin token)')
  .requiredOption('--root-key <file...>', 'root private keys to sign with: a threshold of the trusted root\'s and of the new root\'s')
  .option('--new-root-pub <file...>', 'the new root role\'s public keys (default: unchanged)')
  .option('--root-threshold <n>', 'root signatures required in the new root', positive)
  .option('--targets-pub <file...>', 'the new targets role\'s public keys (default: unchanged)')
  .option('--targets-threshold <n>', 'targets signatures required in the new root', positive)
  .action(async (opts: ApiClientOptions & { product: string; stream: string; rootKey: string[]; newRootPub?: string[]; rootThreshold?: number; targetsPub?: string[]; targetsThreshold?: number; expiresDays?: number; out?: string }) =>
    rotateRoot(client(opts), out, opts));
release.command('cosign')
  .description('add signatures to a pending release written with --out')
  .requiredOption('--in <file>', 'the pending release')
  .requiredOption('--key <file...>', 'private keys to sign with')
  .action((opts: { in: string; key: string[] }) => { cosign(out, opts.in, opts.key); });
apiCommand(release.command('upload'))
  .description('send a pending release once it has enough signatures')
  .requiredOption('--in <file>', 'the pending release')
  .action(async (opts: ApiClientOptions & { in: string }) => { await uploadPending(client(opts), out, opts.in); });

const asset = program.command('asset').description('assets');
apiCommand(asset.command('move <site> <asset>'))
  .description('bind an asset to another guardian (admin or engineer token; audited): the old guardian\'s data for it is refused from then on')
  .requiredOption('--to <deviceId>', 'the guardian that reports the asset from now on')
  .requiredOption('--reason <text>', 'why (kept in the audit log)')
  .action(async (site: string, assetId: string, opts: ApiClientOptions & { to: string; reason: string }) =>
    moveAsset(client(opts), out, site, assetId, opts));
apiCommand(asset.command('mode <site> <asset>').addArgument(new Argument('<mode>', 'normal or maintenance').choices(ASSET_MODES)))
  .description('normal or maintenance: in maintenance the asset\'s alarms are suppressed by design (admin or engineer token)')
  .option('--comment <text>', 'why (kept in the alarm history)')
  .action(async (site: string, assetId: string, mode: string, opts: ApiClientOptions & { comment?: string }) =>
    setAssetMode(client(opts), out, site, assetId, mode, opts));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ApiClientError) {
    // The API's own code first, as the API said it.
    process.stderr.write(`shellguard: ${err.describe()}\n`);
  } else if (err instanceof ShellguardError) {
    process.stderr.write(`shellguard: ${err.message} [${err.code}]\n`);
  } else {
    process.stderr.write(`shellguard: unexpected failure: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  process.exitCode = 1;
}
