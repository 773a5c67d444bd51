/**
 * The errors that used to leave a user stuck, seen the way a user sees them: the real CLI run as a
 * child process (`node --import tsx packages/cli/src/main.ts ...`), its exit status and what it
 * printed. Each says what is wrong and what to do, on one line, without a stack trace.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ROOT_CERT_FILE, initPki, startServer, type ServerHandle } from '@shellguard/server';
import { CliProcess } from '../../../test/system/support/cli-process.ts';
import { DEMO_MARKER_FILE } from '../src/commands/demo-dir.ts';

/** No API settings leak in from the environment of whoever runs the tests. */
const CLEAN_ENV = { SHELLGUARD_SERVER: '', SHELLGUARD_TOKEN: '', SHELLGUARD_CA: '', SHELLGUARD_LOG_LEVEL: 'warn' };
const DEVICE_ID = 'ab'.repeat(32);

interface Run {
  code: number | null;
  /** stdout and stderr as printed. */
  output: string;
}

async function shellguard(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const p = new CliProcess(`shellguard ${args.slice(0, 2).join(' ')}`, args, { env: { ...CLEAN_ENV, ...env } });
  const exit = await p.exited;
  return { code: exit.code, output: p.output() };
}

/** A loopback port held by a plain TCP listener. */
async function holdPort(): Promise<{ port: number; release(): Promise<void> }> {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return {
    port: (holder.address() as net.AddressInfo).port,
    release: () => new Promise<void>((resolve) => holder.close(() => resolve())),
  };
}

/** The line the CLI printed for the failure (it prints exactly one, prefixed "shellguard: "). */
function failureLine(run: Run): string {
  const line = run.output.split('\n').find((l) => l.startsWith('shellguard: ') || l.startsWith('error: '));
  if (!line) throw new Error(`no error line in:\n${run.output}`);
  return line;
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'sg-cli-errors-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('enumerated options', () => {
  it.each([
    [['alarms', 'list', '--state', 'bogus'], "option '--state <state>' argument 'bogus' is invalid. Allowed choices are normal, unack-active, ack-active, unack-rtn, shelved, suppressed, out-of-service."],
    [['alarms', 'list', '--priority', 'urgent'], 'Allowed choices are critical, high, medium, low.'],
    [['alarms', 'shelve', '7', '--kind', 'forever'], 'Allowed choices are one-shot, timed.'],
    [['asset', 'mode', 'dc1', 'AHU-1', 'off'], "value 'off' is invalid for argument 'mode'. Allowed choices are normal, maintenance."],
    [['token', 'create', '--name', 'ci', '--role', 'root'], 'Allowed choices are admin, engineer, technician, manager, viewer.'],
    [['maintenance', 'recommendations', '--status', 'closed'], 'Allowed choices are open, work-order.'],
    [['maintenance', 'work-orders', '--status', 'closed'], 'Allowed choices are open, done.'],
    [['maintenance', 'work-orders', '--type', 'urgent'], 'Allowed choices are planned, predictive, reactive.'],
    [['maintenance', 'work-order', '--site', 's', '--asset', 'a', '--title', 't', '--type', 'predictive'], 'Allowed choices are planned, reactive.'],
  ])('%j is refused before any request, listing the allowed values', async (args, message) => {
    const run = await shellguard(args, { SHELLGUARD_SERVER: 'https://127.0.0.1:9', SHELLGUARD_TOKEN: 'sgt_x' });
    expect(run.code).toBe(1);
    expect(run.output).toContain(message);
    expect(run.output).not.toContain('cannot reach');
  });
});

describe('talking to the API', () => {
  let server: ServerHandle;
  let caDir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    caDir = path.join(work, 'api-ca');
    await initPki(caDir, { commonName: 'CLI test site' });
    server = await startServer({
      dataDir: path.join(work, 'api-server'), caDir,
      mqtt: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 },
      tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
    }, { logger: pino({ level: 'silent' }) });
    env = { SHELLGUARD_SERVER: `https://127.0.0.1:${server.apiPort}`, SHELLGUARD_TOKEN: server.adminToken! };
  });
  afterAll(async () => server?.stop());

  it('refuses an http:// URL up front: the API is HTTPS only', async () => {
    const run = await shellguard(['device', 'list'], { ...env, SHELLGUARD_SERVER: `http://127.0.0.1:${server.apiPort}` });
    expect(run.code).toBe(1);
    expect(failureLine(run)).toBe(`shellguard: cli_insecure_server: the API is HTTPS only: use https://127.0.0.1:${server.apiPort}`);
  });

  it('says which root to trust, and how, when the server\'s certificate does not verify', async () => {
    const run = await shellguard(['device', 'list'], env);
    expect(run.code).toBe(1);
    const line = failureLine(run);
    expect(line).toMatch(/^shellguard: api_untrusted_certificate: https:\/\/127\.0\.0\.1:\d+ presented a certificate this machine does not trust \(/);
    expect(line).toContain('trust the site\'s root CA, the root.crt in the folder made by `shellguard ca init`');
    expect(line).toContain('with --ca <root.crt> or SHELLGUARD_CA=<root.crt>');
    // And following the advice works.
    const trusted = await shellguard(['device', 'list'], { ...env, SHELLGUARD_CA: path.join(caDir, ROOT_CERT_FILE) });
    expect(trusted.code, trusted.output).toBe(0);
  });

  it('says that a port answering without TLS is not the API', async () => {
    const sockets = new Set<net.Socket>();
    const plain = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined).end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    await new Promise<void>((resolve) => plain.listen({ host: '127.0.0.1', port: 0 }, resolve));
    try {
      const url = `https://127.0.0.1:${(plain.address() as net.AddressInfo).port}`;
      const run = await shellguard(['device', 'list'], { ...env, SHELLGUARD_SERVER: url, SHELLGUARD_CA: path.join(caDir, ROOT_CERT_FILE) });
      expect(run.code).toBe(1);
      expect(failureLine(run)).toBe(`shellguard: api_not_tls: ${url} does not answer in TLS (wrong version number): the Shellguard API is HTTPS only;`
        + ' check the port is the API\'s (api.port in server.yaml), not the broker\'s or another service\'s');
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });

  it('names the command that creates a missing group', async () => {
    const run = await shellguard(['device', 'claim', DEVICE_ID, '--site', 'dc1', '--group', 'hall-9'], { ...env, SHELLGUARD_CA: path.join(caDir, ROOT_CERT_FILE) });
    expect(run.code).toBe(1);
    expect(failureLine(run)).toBe('shellguard: group_unknown: no group hall-9: create it first with `shellguard group create hall-9 --site <site> --min-version <version>`');
  });
});

describe('shellguard server', () => {
  function writeConfig(name: string, lines: string[]): string {
    const file = path.join(work, `${name}.yaml`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  }

  it('stops with what to do when caDir holds no site PKI, and creates nothing', async () => {
    const dir = path.join(work, 'no-pki');
    mkdirSync(dir);
    const caDir = path.join(dir, 'ca');
    const config = writeConfig('no-pki', [`dataDir: ${path.join(dir, 'data')}`, `caDir: ${caDir}`, 'mqtt: { port: 0 }', 'api: { port: 0 }']);
    const run = await shellguard(['server', '--config', config]);
    expect(run.code).toBe(1);
    expect(failureLine(run)).toBe(
      `shellguard: no site PKI in ${caDir}: create one with \`shellguard ca init --dir ${caDir}\` (first start), or point caDir at the existing one [ca_missing]`,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('stops with the field and the keys it knows on a misspelt key under tls:', async () => {
    const config = writeConfig('typo', ['dataDir: data', 'caDir: ca', 'tls:', '  hostname: [sg.local]']);
    const run = await shellguard(['server', '--config', config]);
    expect(run.code).toBe(1);
    expect(failureLine(run)).toBe(`shellguard: ${config}: tls.hostname: unknown field (known: hostnames, ips) [config_invalid]`);
  });

  it('says which port is in use and where to choose another, and exits', async () => {
    const caDir = path.join(work, 'busy-ca');
    await initPki(caDir, { commonName: 'Busy port site' });
    const held = await holdPort();
    try {
      const config = writeConfig('busy', [`dataDir: ${path.join(work, 'busy-data')}`, `caDir: ${caDir}`, 'mqtt: { port: 0 }', `api: { port: ${held.port} }`]);
      const run = await shellguard(['server', '--config', config]);
      expect(run.code).toBe(1);
      expect(failureLine(run)).toBe(
        `shellguard: port ${held.port} on 127.0.0.1 is already in use (wanted for the HTTPS API); stop the other process or choose another port (api.port in server.yaml, or --api-port for shellguard demo) [port_in_use]`,
      );
    } finally {
      await held.release();
    }
  });
});

describe('shellguard ca init', () => {
  it('creates a site PKI once, and refuses to replace it', async () => {
    const caDir = path.join(work, 'init-ca');
    const first = await shellguard(['ca', 'init', '--dir', caDir]);
    expect(first.code, first.output).toBe(0);
    const root = readFileSync(path.join(caDir, ROOT_CERT_FILE), 'utf8');
    const again = await shellguard(['ca', 'init', '--dir', caDir]);
    expect(again.code).toBe(1);
    expect(failureLine(again)).toContain(`a site PKI already exists in ${caDir}; refusing to create another`);
    expect(readFileSync(path.join(caDir, ROOT_CERT_FILE), 'utf8')).toBe(root);
  });
});

describe('shellguard sim', () => {
  it('says which port is in use and which option moves it', async () => {
    const held = await holdPort();
    try {
      const run = await shellguard(['sim', '--assets', '1', '--base-port', String(held.port)]);
      expect(run.code).toBe(1);
      expect(failureLine(run)).toMatch(new RegExp(`^shellguard: port ${held.port} on 127\\.0\\.0\\.1 is already in use \\(wanted for simulated \\S+ equipment\\); `
        + 'stop the other process or choose another port \\(--base-port for shellguard sim, --sim-port for shellguard demo; .*\\) \\[port_in_use\\]$'));
    } finally {
      await held.release();
    }
  });
});

describe('shellguard demo', () => {
  const small = ['--assets', '2', '--guardians', '1', '--api-port', '0', '--mqtt-port', '0', '--sim-port', '0', '--duration', '1'];

  it('refuses a non-empty folder it did not make, and leaves it alone', async () => {
    const dir = path.join(work, 'precious');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'thesis.tex'), 'years of work');
    const run = await shellguard(['demo', '--dir', dir, ...small]);
    expect(run.code).toBe(1);
    expect(failureLine(run)).toBe(
      `shellguard: ${dir} is not empty and was not made by shellguard demo (no ${DEMO_MARKER_FILE} in it); refusing to delete it: choose another --dir, or an empty or missing folder [demo_dir_foreign]`,
    );
    expect(readdirSync(dir)).toEqual(['thesis.tex']);
    expect(readFileSync(path.join(dir, 'thesis.tex'), 'utf8')).toBe('years of work');
  });

  it('starts afresh in its own folder at every run', async () => {
    const dir = path.join(work, 'demo');
    const first = await shellguard(['demo', '--dir', dir, ...small]);
    expect(first.code, first.output).toBe(0);
    expect(existsSync(path.join(dir, DEMO_MARKER_FILE))).toBe(true);
    const firstToken = readFileSync(path.join(dir, 'admin-token'), 'utf8');
    const firstRoot = readFileSync(path.join(dir, 'ca', ROOT_CERT_FILE), 'utf8');
    writeFileSync(path.join(dir, 'left-over'), 'from the last run');

    const second = await shellguard(['demo', '--dir', dir, ...small]);
    expect(second.code, second.output).toBe(0);
    expect(existsSync(path.join(dir, 'left-over'))).toBe(false);
    expect(readFileSync(path.join(dir, 'admin-token'), 'utf8')).not.toBe(firstToken);
    expect(readFileSync(path.join(dir, 'ca', ROOT_CERT_FILE), 'utf8')).not.toBe(firstRoot);
  });

  it('says which port is in use, and exits', async () => {
    const held = await holdPort();
    try {
      const dir = path.join(work, 'demo-busy');
      const run = await shellguard(['demo', '--dir', dir, ...small.filter((_, i, a) => a[i - 1] !== '--api-port' && a[i] !== '--api-port'), '--api-port', String(held.port)]);
      expect(run.code).toBe(1);
      expect(failureLine(run)).toContain(`shellguard: port ${held.port} on 127.0.0.1 is already in use (wanted for the HTTPS API)`);
      expect(failureLine(run)).toMatch(/\[port_in_use\]$/);
    } finally {
      await held.release();
    }
  });
});
