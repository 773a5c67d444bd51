/**
 * `shellguard audit verify` as an operator runs it, against a real server's files: over the API
 * while it runs, then offline (--db/--key/--anchors) on copies an attacker rewrote after it
 * stopped, and a restart refused when the key file is gone.
 */
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '@shellguard/server';
import { SITE, startTestSite, type TestSite } from '../support/enrolled-device.ts';
import { CliProcess } from '../system/support/cli-process.ts';
import { deleteAndRenumber, openAsAttacker, rechain, seqOf, sha256Chain } from '../../packages/server/test/audit/attacker.ts';

let site: TestSite;
let serverDir: string;
let revokeSeq: number;

async function shellguard(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; output: string }> {
  const p = new CliProcess(`shellguard ${args.slice(0, 2).join(' ')}`, args, { env });
  let stdout = '';
  p.child.stdout!.on('data', (chunk: string) => { stdout += chunk; });
  const exit = await p.exited;
  return { code: exit.code, stdout, output: p.output() };
}

/** A copy of the stopped server's database, key and anchor file, as an operator would take it. */
function copyOfServerFiles(name: string): { db: string; key: string; anchors: string } {
  const to = path.join(site.dir, name);
  mkdirSync(to);
  for (const f of ['shellguard.sqlite', 'shellguard.sqlite-wal', 'audit.key', 'audit-anchors.log']) {
    if (existsSync(path.join(serverDir, f))) copyFileSync(path.join(serverDir, f), path.join(to, f));
  }
  return { db: path.join(to, 'shellguard.sqlite'), key: path.join(to, 'audit.key'), anchors: path.join(to, 'audit-anchors.log') };
}

const offlineArgs = (f: { db: string; key: string; anchors: string }) => ['audit', 'verify', '--db', f.db, '--key', f.key, '--anchors', f.anchors];

beforeAll(async () => {
  site = await startTestSite('sg-audit-cli-');
  serverDir = path.join(site.dir, 'server');
  await site.server.fleet.revoke(site.keys.deviceId, 'token:0123456789abcdef', 'gateway stolen from hall 2');
  // Work after the revocation, so deleting it leaves events behind it.
  for (const id of ['spare-gateways', 'lab-gateways']) await site.server.fleet.defineGroup({ id, site: SITE, minSecureVersion: '0.1.0' }, 'token:0123456789abcdef');
});
afterAll(async () => {
  await site.server.stop();
  rmSync(site.dir, { recursive: true, force: true });
});

describe('shellguard audit verify', () => {
  it('finds the running server\'s log intact over the API', async () => {
    const caFile = path.join(site.dir, 'root.pem');
    writeFileSync(caFile, site.server.rootPem);
    const res = await shellguard(['audit', 'verify', '--server', site.apiUrl, '--ca', caFile], { SHELLGUARD_TOKEN: site.server.adminToken });
    expect(res.code, res.output).toBe(0);
    expect(res.stdout).toMatch(/audit log intact: \d+ event\(s\), every hash chained, every event keyed/);
  });

  it('after a clean stop, finds the copied files intact offline', async () => {
    await site.server.stop();
    const files = copyOfServerFiles('intact');
    const reader = new Database(files.db, { readonly: true });
    revokeSeq = seqOf(reader, 'device.revoke');
    reader.close();
    const res = await shellguard(offlineArgs(files));
    expect(res.code, res.output).toBe(0);
    expect(res.stdout).toMatch(/anchor\(s\) agree; newest: event \d+/);
  });

  it('exits 1 and names the place when the revocation was deleted and the chain recomputed', async () => {
    const files = copyOfServerFiles('revoke-deleted');
    const attacker = openAsAttacker(files.db);
    deleteAndRenumber(attacker, revokeSeq);
    rechain(attacker, revokeSeq, sha256Chain);
    attacker.close();
    const res = await shellguard(offlineArgs(files));
    expect(res.code, res.output).toBe(1);
    expect(res.stdout).toContain(`audit log BROKEN at event ${revokeSeq}`);
    expect(res.stdout).toMatch(new RegExp(`event_edited\\s+events ${revokeSeq}\\.\\.`));
    expect(res.stdout).toMatch(/truncated\s+anchor at line \d+/);
  });

  it('exits 1 when the tail was cut off', async () => {
    const files = copyOfServerFiles('truncated');
    const attacker = openAsAttacker(files.db);
    attacker.prepare('DELETE FROM audit_events WHERE seq >= ?').run(revokeSeq);
    attacker.close();
    const res = await shellguard(offlineArgs(files));
    expect(res.code, res.output).toBe(1);
    expect(res.stdout).toMatch(new RegExp(`truncated\\s+anchor at line \\d+ .* the log ends at event ${revokeSeq - 1}: events ${revokeSeq}\\.\\.\\d+ were cut off`));
  });

  it('will not start the server again without its audit key file, and says what to restore', async () => {
    const keyFile = path.join(serverDir, 'audit.key');
    rmSync(keyFile);
    await expect(startServer({
      dataDir: serverDir, caDir: path.join(site.dir, 'ca'),
      mqtt: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 },
      tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
    }, { logger: pino({ level: 'silent' }) })).rejects.toMatchObject({ code: 'audit_key_missing', message: expect.stringContaining(`Restore ${keyFile}`) });
    expect(existsSync(keyFile)).toBe(false);
  });
});
