/**
 * `shellguard user create|list|role|disable|enable|password`: people who sign in to the web
 * dashboard, managed by an admin over the API. A password is read from SHELLGUARD_PASSWORD or
 * from standard input, never from an argument (arguments show in `ps` and shell history), and
 * is never printed.
 */
import { ShellguardError } from '@shellguard/protocol';
import type { UserView } from '@shellguard/server';
import type { ApiClient } from '../api-client.ts';
import { formatTable, isoTime, type Output } from './fleet.ts';

export class PasswordInputError extends ShellguardError<'cli_no_password'> {}

export interface PasswordSource {
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

/**
 * The password from SHELLGUARD_PASSWORD, else all of standard input when it is not a terminal
 * (one trailing line break dropped, as `echo` and password managers add it).
 */
export async function readPassword(source: PasswordSource): Promise<string> {
  const fromEnv = source.env.SHELLGUARD_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (source.stdin.isTTY) {
    throw new PasswordInputError('cli_no_password',
      'give the password in SHELLGUARD_PASSWORD or on standard input (e.g. `pass show x | shellguard user ...`); never as an argument');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of source.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (password === '') throw new PasswordInputError('cli_no_password', 'standard input was empty: give the password in SHELLGUARD_PASSWORD or on standard input');
  return password;
}

const path = (username: string, action: string) => `/users/${encodeURIComponent(username)}/${action}`;

function describeUser(u: UserView): string {
  return `user ${u.username} (${u.role}${u.disabled ? ', disabled' : ''})`;
}

export async function createUser(client: ApiClient, out: Output, username: string, opts: { role: string; password: string }): Promise<void> {
  const { user } = await client.post<{ user: UserView }>('/users', { username, role: opts.role, password: opts.password });
  out.write(`${describeUser(user)} created: they can sign in to the dashboard now\n`);
}

export async function listUsers(client: ApiClient, out: Output): Promise<void> {
  const { users } = await client.get<{ users: UserView[] }>('/users');
  out.write(formatTable(['USERNAME', 'ROLE', 'STATUS', 'LAST SIGN-IN', 'CREATED'], users.map((u) => [
    u.username, u.role,
    u.disabled ? 'disabled' : u.lockedUntil !== null ? `locked until ${isoTime(u.lockedUntil)}` : 'active',
    isoTime(u.lastSignInAt ?? undefined), isoTime(u.createdAt),
  ])));
}

export async function setUserRole(client: ApiClient, out: Output, username: string, role: string): Promise<void> {
  const { user } = await client.post<{ user: UserView }>(path(username, 'role'), { role });
  out.write(`${describeUser(user)}: role set; their sessions ended, they sign in again\n`);
}

export async function disableUser(client: ApiClient, out: Output, username: string): Promise<void> {
  const { user } = await client.post<{ user: UserView }>(path(username, 'disable'), {});
  out.write(`${describeUser(user)}: sign-in refused and every session ended\n`);
}

export async function enableUser(client: ApiClient, out: Output, username: string): Promise<void> {
  const { user } = await client.post<{ user: UserView }>(path(username, 'enable'), {});
  out.write(`${describeUser(user)}: may sign in again (any lock-out lifted)\n`);
}

export async function setUserPassword(client: ApiClient, out: Output, username: string, password: string): Promise<void> {
  const { user } = await client.post<{ user: UserView }>(path(username, 'password'), { password });
  out.write(`${describeUser(user)}: password set; their sessions ended\n`);
}
