import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UserView } from '@shellguard/server';
import { createApiClient, type ApiClient } from '../../src/api-client.ts';
import {
  createUser, disableUser, enableUser, listUsers, readPassword, setUserPassword, setUserRole,
} from '../../src/commands/user.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-api-server.ts';

class Buffered {
  text = '';
  write(s: string) { this.text += s; }
}

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const TOKEN = `sgt_0123456789abcdef_${'A'.repeat(43)}`;
const AT = Date.UTC(2026, 0, 2, 3, 4, 5);
const ALICE: UserView = {
  username: 'alice', role: 'engineer', disabled: false, createdAt: AT, updatedAt: AT, lastSignInAt: null, lockedUntil: null,
};

let api: FakeApiServer;
let client: ApiClient;
let out: Buffered;
beforeAll(async () => {
  api = await startFakeApiServer();
  client = createApiClient({ server: api.url, token: TOKEN, ca: api.caFile });
});
afterAll(async () => api.close());
beforeEach(() => {
  out = new Buffered();
  api.requests.length = 0;
  api.respond = () => ({ status: 200, body: { user: ALICE } });
});

const stdinOf = (text: string, isTTY = false) => Object.assign(Readable.from([Buffer.from(text)]), { isTTY });

describe('readPassword', () => {
  it('takes SHELLGUARD_PASSWORD first', async () => {
    expect(await readPassword({ env: { SHELLGUARD_PASSWORD: 'from the environment' }, stdin: stdinOf('from stdin') })).toBe('from the environment');
  });

  it('reads standard input when it is not a terminal, dropping one trailing line break', async () => {
    expect(await readPassword({ env: {}, stdin: stdinOf('piped passphrase\r\n') })).toBe('piped passphrase');
    expect(await readPassword({ env: { SHELLGUARD_PASSWORD: '' }, stdin: stdinOf(' spaces kept  \n\n') })).toBe(' spaces kept  \n');
  });

  it('refuses a terminal and empty input, saying where the password goes', async () => {
    await expect(readPassword({ env: {}, stdin: stdinOf('', true) })).rejects.toThrow(/SHELLGUARD_PASSWORD or on standard input/);
    await expect(readPassword({ env: {}, stdin: stdinOf('\n') })).rejects.toThrow(/standard input was empty/);
  });
});

describe('shellguard user (over the API)', () => {
  it('creates a user with the admin token, sending the password only in the body and never printing it', async () => {
    api.respond = () => ({ status: 201, body: { user: ALICE } });
    await createUser(client, out, 'alice', { role: 'engineer', password: 'a secret passphrase' });
    expect(api.requests).toEqual([expect.objectContaining({
      method: 'POST', url: '/api/v1/users', authorization: `Bearer ${TOKEN}`,
      body: { username: 'alice', role: 'engineer', password: 'a secret passphrase' },
    })]);
    expect(out.text).toBe('user alice (engineer) created: they can sign in to the dashboard now\n');
  });

  it('lists users with their status', async () => {
    api.respond = () => ({ status: 200, body: { users: [
      ALICE, { ...ALICE, username: 'bob', role: 'viewer', disabled: true },
      { ...ALICE, username: 'carol', lockedUntil: AT + 900_000, lastSignInAt: AT },
    ] } });
    await listUsers(client, out);
    expect(api.requests.at(-1)).toMatchObject({ method: 'GET', url: '/api/v1/users' });
    const lines = out.text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^USERNAME\s+ROLE\s+STATUS\s+LAST SIGN-IN\s+CREATED$/);
    expect(lines[1]).toMatch(/^alice\s+engineer\s+active\s+-\s+2026-01-02T03:04:05Z$/);
    expect(lines[2]).toMatch(/^bob\s+viewer\s+disabled/);
    expect(lines[3]).toMatch(/^carol\s+engineer\s+locked until 2026-01-02T03:19:05Z\s+2026-01-02T03:04:05Z/);
  });

  it('changes a role, disables, enables and sets a password on the user\'s own routes', async () => {
    await setUserRole(client, out, 'alice', 'viewer');
    await disableUser(client, out, 'alice');
    await enableUser(client, out, 'alice');
    await setUserPassword(client, out, 'alice', 'another passphrase');
    expect(api.requests.map((r) => [r.method, r.url, r.body])).toEqual([
      ['POST', '/api/v1/users/alice/role', { role: 'viewer' }],
      ['POST', '/api/v1/users/alice/disable', {}],
      ['POST', '/api/v1/users/alice/enable', {}],
      ['POST', '/api/v1/users/alice/password', { password: 'another passphrase' }],
    ]);
    expect(out.text).not.toContain('another passphrase');
  });

  it('shows the API\'s own refusal, e.g. a password too short', async () => {
    api.respond = () => ({ status: 400, body: { error: { code: 'user_weak_password', message: 'a password needs at least 12 characters (this one has 5)' } } });
    await expect(createUser(client, out, 'bob', { role: 'viewer', password: 'short' })).rejects.toThrow(/at least 12 characters/);
  });
});

describe('shellguard user, the real CLI', () => {
  function run(args: string[], stdin: string | null, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'packages/cli/src/main.ts', ...args], {
        cwd: REPO_ROOT,
        env: { ...process.env, SHELLGUARD_SERVER: api.url, SHELLGUARD_TOKEN: TOKEN, SHELLGUARD_CA: api.caFile, SHELLGUARD_PASSWORD: '', ...env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => { output += c.toString(); });
      child.stderr.on('data', (c: Buffer) => { output += c.toString(); });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, output }));
      child.stdin.end(stdin ?? '');
    });
  }

  it('reads the password from a pipe, and has no option to pass one as an argument', async () => {
    api.respond = () => ({ status: 201, body: { user: ALICE } });
    const piped = await run(['user', 'create', 'alice', '--role', 'engineer'], 'piped passphrase\n');
    expect(piped.code, piped.output).toBe(0);
    expect(api.requests.at(-1)?.body).toEqual({ username: 'alice', role: 'engineer', password: 'piped passphrase' });
    expect(piped.output).not.toContain('piped passphrase');

    const refused = await run(['user', 'create', 'alice', '--role', 'engineer', '--password', 'on the command line'], null);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(/unknown option '--password'/);
    expect(api.requests).toHaveLength(1);
  }, 60_000);

  it('takes SHELLGUARD_PASSWORD for `user password`, and refuses an unknown role before calling the API', async () => {
    const set = await run(['user', 'password', 'alice'], null, { SHELLGUARD_PASSWORD: 'from the environment' });
    expect(set.code, set.output).toBe(0);
    expect(api.requests.at(-1)).toMatchObject({ url: '/api/v1/users/alice/password', body: { password: 'from the environment' } });
    const bad = await run(['user', 'role', 'alice', 'root'], null);
    expect(bad.code).not.toBe(0);
    expect(bad.output).toMatch(/Allowed choices are admin, engineer, technician, manager, viewer/);
    expect(api.requests).toHaveLength(1);
  }, 60_000);
});
