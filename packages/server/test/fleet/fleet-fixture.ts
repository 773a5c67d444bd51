/**
 * A FleetService on a fresh test database (SQLite by default; any engine), a real site CA behind
 * the CertificateIssuer port, in-memory audit and incident logs that keep what a unit of work
 * recorded only once it commits, fake time, and guardians with real P-256 keys.
 */
import { X509Certificate, createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { sql } from 'kysely';
import {
  EAT_PROFILE, deviceIdFromPublicKey, encodeChallengeRequest, encodeEvidence, ueidForKey, type ChallengeRequest, type EvidenceClaims,
  type Measurement,
} from '@shellguard/protocol';
import type { AuditEvent, AuditEventInput, AuditRecorder } from '../../src/audit/audit-log.ts';
import type { Incident, IncidentInput, IncidentRaiser } from '../../src/incidents/incident-log.ts';
import { inTransaction, migrateServerDatabase, sqlUnitOfWork, type SqlDatabase, type SqlEngine, type SqlExecutor } from '../../src/db/index.ts';
import { createSiteCa, signDeviceCertificate, type SiteCa } from '../../src/pki/index.ts';
import {
  FleetService, sqlFleetStores, type CertificateIssuer, type FleetServiceOptions, type FleetUnitOfWork,
} from '../../src/fleet/index.ts';
import { createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';

export const T0 = Date.UTC(2026, 2, 1, 8, 0, 0);

/** Audit events of committed units of work, in order. */
export class MemoryAuditLog {
  readonly events: AuditEvent[] = [];
  /** A recorder for one unit of work: its events join the log when `commit` runs. */
  recorderIn(pending: AuditEventInput[]): AuditRecorder {
    return {
      record: async (event) => {
        pending.push(event);
        return { ...event, seq: this.events.length + pending.length, at: 0, prevHash: '', hash: '' };
      },
    };
  }
  commit(pending: AuditEventInput[]): void {
    for (const e of pending) this.events.push({ ...e, seq: this.events.length + 1, at: 0, prevHash: '', hash: '' });
  }
  list(options: { afterSeq?: number; target?: string } = {}): AuditEvent[] {
    return this.events.filter((e) => (options.target === undefined || e.target === options.target) && e.seq > (options.afterSeq ?? 0));
  }
  actions(): string[] {
    return this.events.map((e) => e.action);
  }
}

/** Incidents of committed units of work, in order. */
export class MemoryIncidentLog {
  readonly incidents: Incident[] = [];
  raiserIn(pending: IncidentInput[]): IncidentRaiser {
    return {
      raise: async (incident) => {
        pending.push(incident);
        return { ...incident, id: this.incidents.length + pending.length, openedAt: 0, status: 'open' };
      },
    };
  }
  commit(pending: IncidentInput[]): void {
    for (const i of pending) this.incidents.push({ ...i, id: this.incidents.length + 1, openedAt: 0, status: 'open' });
  }
}

/** The audit and incident logs as a unit of work binds them to its transaction (SqlAuditLog, SqlIncidentLog). */
export interface TransactionalLogs {
  audit: { recorderIn(tx: SqlExecutor): AuditRecorder };
  incidents: { raiserIn(tx: SqlExecutor): IncidentRaiser };
}

/** The fleet's unit of work on a test database: SQL stores on the transaction, the memory logs joined on commit. */
export function testFleetUnitOfWork(database: SqlDatabase, audit: MemoryAuditLog, incidents: MemoryIncidentLog, logs?: TransactionalLogs): FleetUnitOfWork {
  if (logs) {
    return sqlUnitOfWork(database, (tx) => ({
      ...sqlFleetStores(tx, database.engine), audit: logs.audit.recorderIn(tx), incidents: logs.incidents.raiserIn(tx),
    }));
  }
  return {
    async run(work) {
      const events: AuditEventInput[] = [];
      const raised: IncidentInput[] = [];
      const result = await inTransaction(database.db, (tx) => work({
        ...sqlFleetStores(tx, database.engine), audit: audit.recorderIn(events), incidents: incidents.raiserIn(raised),
      }));
      audit.commit(events);
      incidents.commit(raised);
      return result;
    },
  };
}

/** The CertificateIssuer port over the existing single-CA PKI functions. */
export class TestIssuer implements CertificateIssuer {
  signed = 0;
  crlRequests: { serial: string; revokedAt: number }[][] = [];
  constructor(readonly ca: SiteCa) {}
  async signOperationalCertificate(device: { deviceId: string; publicKey: KeyObject }, policy: { validityHours: number; now?: number }) {
    const publicKeySpki = device.publicKey.export({ type: 'spki', format: 'der' });
    const certPem = await signDeviceCertificate(this.ca, { deviceId: device.deviceId, publicKey: device.publicKey, publicKeySpki }, {
      validityHours: policy.validityHours, ...(policy.now !== undefined ? { now: new Date(policy.now) } : {}),
    });
    const cert = new X509Certificate(certPem);
    this.signed++;
    return { certPem, chainPem: `${certPem.trim()}\n${this.ca.certPem.trim()}\n`, serial: cert.serialNumber.toLowerCase(), notAfter: Date.parse(cert.validTo) };
  }
  rootPem(): string {
    return this.ca.certPem;
  }
  async generateCrls(revoked: { serial: string; revokedAt: number }[]): Promise<string[]> {
    this.crlRequests.push(revoked);
    return [`CRL ${revoked.map((r) => r.serial).join(',')}`];
  }
}

export function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Release 1.0.0 and 1.1.0 components; config and profiles are per device. */
export const RUNTIME = digest('node 20.19');
export const BUNDLE_1_0 = digest('guardian bundle 1.0.0');
export const BUNDLE_1_1 = digest('guardian bundle 1.1.0');

export class TestGuardian {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly deviceId: string;
  bootcount = 1;
  swversion = '1.1.0';
  measurements: Measurement[];

  constructor(readonly name: string) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    this.privateKey = pair.privateKey;
    this.publicKey = pair.publicKey;
    this.deviceId = deviceIdFromPublicKey(pair.publicKey);
    this.measurements = [
      { component: 'runtime', digest: RUNTIME },
      { component: 'guardian-bundle', digest: BUNDLE_1_1 },
      { component: 'config', digest: this.configDigest },
      { component: 'profiles', digest: digest('profiles v1') },
    ];
  }

  get configDigest(): string {
    return digest(`config of ${this.name}`);
  }

  claims(nonce: string, now: number): EvidenceClaims {
    return {
      eat_profile: EAT_PROFILE, eat_nonce: nonce, ueid: ueidForKey(this.publicKey), swname: 'shellguard-guardian',
      swversion: this.swversion, bootcount: this.bootcount, iat: Math.floor(now / 1000), measurements: this.measurements,
    };
  }

  /** A challenge request signed with this guardian's key (proof of possession), as enrol() sends it. */
  challengeRequest(now: number, requestId = randomBytes(16).toString('base64url')): ChallengeRequest {
    return encodeChallengeRequest({ publicKey: this.publicKey, issuedAt: now, requestId }, (data) => sign('sha256', data, this.privateKey));
  }

  evidence(nonce: string, now: number, overrides: Partial<EvidenceClaims> = {}): string {
    return encodeEvidence({ ...this.claims(nonce, now), ...overrides }, this.publicKey, (data) => sign('sha256', data, this.privateKey));
  }
}

export interface FleetFixture {
  fleet: FleetService;
  test: TestDatabase;
  database: SqlDatabase;
  issuer: TestIssuer;
  audit: MemoryAuditLog;
  incidents: MemoryIncidentLog;
  clock: { now: number };
  revoked: string[];
  quarantined: string[];
  /** Another FleetService on the same database (a restart, or a second replica with `reopen`). */
  another(options?: Partial<FleetServiceOptions> & { database?: SqlDatabase }): FleetService;
  /** Group "ahu-gw" in site "dc1": min 1.0.0 by default, releases 1.0.0 (with `configs`) and 1.1.0. */
  setupGroup(configs: string[], minSecureVersion?: string): Promise<void>;
  certificateRows(): Promise<number>;
  close(): Promise<void>;
}

let sharedCa: SiteCa | undefined;

export interface FleetFixtureSetup {
  /** Default sqlite. */
  engine?: SqlEngine;
  /** Real audit and incident logs on the fixture's database (else the memory ones, `audit` and `incidents`). */
  logs?: (database: SqlDatabase, clock: { now: number }) => Promise<TransactionalLogs>;
}

export async function fleetFixture(options: Partial<FleetServiceOptions> = {}, setup: FleetFixtureSetup = {}): Promise<FleetFixture> {
  sharedCa ??= await createSiteCa({ commonName: 'test site CA', validityDays: 3650, now: new Date(T0 - 86_400_000) });
  const test = await createTestDatabase(setup.engine ?? 'sqlite', 'fleet');
  const database = test.database;
  await migrateServerDatabase(database);
  const issuer = new TestIssuer(sharedCa);
  const audit = new MemoryAuditLog();
  const incidents = new MemoryIncidentLog();
  const clock = { now: T0 };
  const logs = setup.logs ? await setup.logs(database, clock) : undefined;
  const revoked: string[] = [];
  const quarantined: string[] = [];
  const build = (opts: Partial<FleetServiceOptions> & { database?: SqlDatabase } = {}): FleetService => {
    const { database: on = database, ...rest } = opts;
    return new FleetService({
      stores: sqlFleetStores(on.db, on.engine), uow: testFleetUnitOfWork(on, audit, incidents, logs), issuer, now: () => clock.now,
      ...rest,
    });
  };
  const fleet = build({ onRevoked: (id) => revoked.push(id), onQuarantined: (id) => quarantined.push(id), ...options });
  return {
    fleet, test, database, issuer, audit, incidents, clock, revoked, quarantined,
    another: build,
    async setupGroup(configs, minSecureVersion = '1.0.0') {
      await fleet.defineGroup({ id: 'ahu-gw', site: 'dc1', minSecureVersion }, 'token:admin');
      const base = (bundle: string) => [
        { component: 'runtime', digest: RUNTIME },
        { component: 'guardian-bundle', digest: bundle },
        { component: 'profiles', digest: digest('profiles v1') },
      ];
      // Per-device configs are registered once, in the older release: any release of the group counts.
      await fleet.registerRelease({
        group: 'ahu-gw', swname: 'shellguard-guardian', swversion: '1.0.0',
        components: [...base(BUNDLE_1_0), ...configs.map((c) => ({ component: 'config', digest: c }))],
      }, 'token:admin');
      await fleet.registerRelease({ group: 'ahu-gw', swname: 'shellguard-guardian', swversion: '1.1.0', components: base(BUNDLE_1_1) }, 'token:admin');
    },
    async certificateRows() {
      const { rows } = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM fleet_certificates`.execute(database.db);
      return Number(rows[0]!.n);
    },
    close: () => test.destroy(),
  };
}
