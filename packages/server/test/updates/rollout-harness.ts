/**
 * The rollout engine on fake time with the SQL store (in-memory SQLite) and recording ports: a
 * fleet of simulated guardians that report statuses and attest whatever software they run.
 */
import { createHash } from 'node:crypto';
import type { BundleManifest, UpdateState, UpdateStatus, UpdateStream } from '@shellguard/protocol';
import { ManualClock } from '@shellguard/protocol/testing';
import type { AuditEvent, AuditEventInput, AuditRecorder } from '../../src/audit/audit-log.ts';
import type { SqliteDatabase } from '../../src/db/database.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import { DEPLOYMENT_MIGRATIONS } from '../../src/updates/rollout/deployment-schema.ts';
import { createDeploymentService, type DeploymentService, type StatusOutcome } from '../../src/updates/rollout/deployment-service.ts';
import type { DeviceInstruction } from '../../src/updates/rollout/rollout-ports.ts';
import { SqlDeploymentStore } from '../../src/updates/rollout/sql-deployment-store.ts';

export const T0 = Date.UTC(2026, 2, 2, 12, 0, 0); // a Monday, 12:00 UTC
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

export const digest = (text: string): string => createHash('sha256').update(text).digest('hex');
export const deviceIdOf = (i: number): string => digest(`guardian ${i}`);

export const RUNTIME_20 = digest('node 20.19');
export const RUNTIME_20_20 = digest('node 20.20');
export const BUNDLE_1_0 = digest('bundle 1.0.0');
export const BUNDLE_1_1 = digest('bundle 1.1.0');

export function appManifest(version: string, bundle: string): BundleManifest {
  return { product: 'guardian', stream: 'application', version, components: [{ component: 'guardian-bundle', digest: bundle }, { component: 'profiles', digest: digest('profiles') }], platform: 'linux-x64', nodeAbi: '115' };
}
export function platformManifest(version: string, runtime: string): BundleManifest {
  return { product: 'guardian', stream: 'platform', version, components: [{ component: 'runtime', digest: runtime }], platform: 'linux-x64', nodeAbi: '115' };
}

interface Attestation { at: number; swversion: string; measurements: { component: string; digest: string }[] }

export interface Harness {
  database: SqlDatabase;
  /** The raw handle under it (other domains' stores in route tests still take one). */
  db: SqliteDatabase;
  service: DeploymentService;
  /** The service's clock: its tick timer runs only when a test moves it. */
  time: ManualClock;
  /** The time, read and set (setting it runs no timer). */
  clock: { now: number };
  /** Every instruction, in order. */
  instructions: { deviceId: string; at: number; instruction: DeviceInstruction }[];
  /** Audit events of committed changes only: the recorder writes in the change's unit of work. */
  audits: AuditEventInput[];
  /** When set, recording an audit event fails (and so does the change it belongs to). */
  failAudit: Error | undefined;
  allowed: { group: string; version: string; actor: string }[];
  groups: Map<string, string[]>;
  /** Runs whenever the engine asks for a group's devices (during a step, outside its transaction): another replica's moment. */
  onGroupRead: (() => Promise<void>) | undefined;
  releases: Map<string, BundleManifest>;
  attestations: Map<string, Attestation[]>;
  advance(ms: number): Promise<void>;
  /** A status from the device, with its next sequence number. */
  report(deviceId: string, deploymentId: string, state: UpdateState, extra?: Partial<UpdateStatus>): Promise<StatusOutcome>;
  /** The device restarts into the new software, passes attestation with its measurements. */
  attest(deviceId: string, swversion: string, measurements: { component: string; digest: string }[]): void;
  /** The whole good path: installed, attested with the release's digests, healthy. */
  installGood(deviceId: string, deploymentId: string, manifest: BundleManifest): Promise<void>;
  instructed(deploymentId: string): Set<string>;
  close(): Promise<void>;
}

export async function harness(deviceCount: number, group = 'ahu-gw'): Promise<Harness> {
  const database = openSqliteSqlDatabase(':memory:');
  await runSqlMigrations(database, 'deployments', DEPLOYMENT_MIGRATIONS);
  const engine = database.engine;
  const time = new ManualClock(T0);
  const clock = {
    get now(): number { return time.now(); },
    set now(t: number) { time.setTime(t); },
  };
  const instructions: Harness['instructions'] = [];
  const audits: AuditEventInput[] = [];
  const allowed: Harness['allowed'] = [];
  const groups = new Map<string, string[]>([[group, Array.from({ length: deviceCount }, (_, i) => deviceIdOf(i))]]);
  const releases = new Map<string, BundleManifest>([
    ['application 1.1.0', appManifest('1.1.0', BUNDLE_1_1)],
    ['application 1.2.0', appManifest('1.2.0', digest('bundle 1.2.0'))],
    ['platform 20.20.0', platformManifest('20.20.0', RUNTIME_20_20)],
  ]);
  const attestations = new Map<string, Attestation[]>();
  const sequences = new Map<string, number>();
  let ids = 0;
  // Audit events wait for their transaction: kept per transaction, published when it commits.
  const pending = new Map<unknown, AuditEventInput[]>();
  const recorderIn = (tx: unknown): AuditRecorder => ({
    async record(e) {
      if (h.failAudit) throw h.failAudit;
      pending.set(tx, [...(pending.get(tx) ?? []), e]);
      const recorded: AuditEvent = { ...e, seq: 0, at: clock.now, prevHash: '', hash: '' };
      return recorded;
    },
  });
  const units = sqlUnitOfWork(database, (tx) => ({ deployments: new SqlDeploymentStore(tx, { engine }), audit: recorderIn(tx), tx }));
  const service = createDeploymentService({
    store: new SqlDeploymentStore(database.db, { engine }),
    unitOfWork: {
      async run(work) {
        let tx: unknown;
        try {
          const result = await units.run((u) => { tx = u.tx; return work(u); });
          audits.push(...(pending.get(tx) ?? []));
          return result;
        } finally {
          pending.delete(tx);
        }
      },
    },
    catalog: {
      async find(product: string, stream: UpdateStream, version: string) {
        const manifest = product === 'guardian' ? releases.get(`${stream} ${version}`) : undefined;
        return manifest && { targetName: `guardian-${stream}-${version}.tar.gz`, length: 1234, sha256: digest(`${stream} ${version}`), manifest };
      },
    },
    groups: {
      async devicesInGroup(g) {
        await h.onGroupRead?.();
        return [...(groups.get(g) ?? [])];
      },
    },
    referenceValues: { async allow(g, manifest, actor) { allowed.push({ group: g, version: manifest.version, actor }); } },
    evidence: {
      async attestedSince(deviceId, since) {
        const newest = (attestations.get(deviceId) ?? []).filter((a) => a.at >= since).at(-1);
        return newest && { swversion: newest.swversion, measurements: newest.measurements };
      },
    },
    instructor: { async instruct(deviceId, instruction) { instructions.push({ deviceId, at: clock.now, instruction }); } },
    clock: time,
    tickIntervalMs: MINUTE,
    newId: () => `dep-${++ids}`,
  });
  const h: Harness = {
    database, db: database.sqlite!.handle, service, time, clock, instructions, audits, failAudit: undefined, onGroupRead: undefined, allowed, groups, releases, attestations,
    async advance(ms) {
      clock.now += ms;
      await service.tick();
    },
    async report(deviceId, deploymentId, state, extra = {}) {
      const sequence = (sequences.get(deviceId) ?? 0) + 1;
      sequences.set(deviceId, sequence);
      const dep = (await service.get(deploymentId)).deployment;
      return service.onDeviceStatus(deviceId, {
        v: 1, deploymentId, sequence, state, running: state === 'healthy' || state === 'installed' ? dep.version : '1.0.0', target: dep.version, at: clock.now, ...extra,
      });
    },
    attest(deviceId, swversion, measurements) {
      const list = attestations.get(deviceId) ?? [];
      list.push({ at: clock.now, swversion, measurements });
      attestations.set(deviceId, list);
    },
    async installGood(deviceId, deploymentId, manifest) {
      await h.report(deviceId, deploymentId, 'installed');
      h.attest(deviceId, manifest.version, [...manifest.components, { component: 'config', digest: digest(`config ${deviceId}`) }]);
      await h.report(deviceId, deploymentId, 'healthy');
    },
    instructed(deploymentId) {
      return new Set(instructions.filter((i) => i.instruction.deploymentId === deploymentId).map((i) => i.deviceId));
    },
    async close() {
      service.stop();
      await database.close();
    },
  };
  return h;
}
