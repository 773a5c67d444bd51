/**
 * A FleetService on an in-memory database, a real site CA behind the CertificateIssuer port,
 * in-memory audit and incident logs, fake time, and guardians with real P-256 keys.
 */
import { X509Certificate, createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import {
  EAT_PROFILE, deviceIdFromPublicKey, encodeChallengeRequest, encodeEvidence, ueidForKey, type ChallengeRequest, type EvidenceClaims,
  type Measurement,
} from '@shellguard/protocol';
import type { AuditEvent, AuditEventInput, AuditLog } from '../../src/audit/audit-log.ts';
import type { Incident, IncidentInput, IncidentLog } from '../../src/incidents/incident-log.ts';
import { openDatabase, type SqliteDatabase } from '../../src/db/index.ts';
import { createSiteCa, signDeviceCertificate, type SiteCa } from '../../src/pki/index.ts';
import { FleetService, type CertificateIssuer, type FleetServiceOptions } from '../../src/fleet/index.ts';

export const T0 = Date.UTC(2026, 2, 1, 8, 0, 0);

export class MemoryAuditLog implements AuditLog {
  readonly events: AuditEvent[] = [];
  record(event: AuditEventInput): AuditEvent {
    const e: AuditEvent = { ...event, seq: this.events.length + 1, at: 0, prevHash: '', hash: '' };
    this.events.push(e);
    return e;
  }
  list(options: { afterSeq?: number; limit?: number; target?: string }): AuditEvent[] {
    return this.events.filter((e) => (options.target === undefined || e.target === options.target) && e.seq > (options.afterSeq ?? 0));
  }
  verify() {
    return { ok: true, events: this.events.length, problems: [], anchors: { checked: 0 } };
  }
  actions(): string[] {
    return this.events.map((e) => e.action);
  }
}

export class MemoryIncidentLog implements IncidentLog {
  readonly incidents: Incident[] = [];
  raise(incident: IncidentInput): Incident {
    const i: Incident = { ...incident, id: this.incidents.length + 1, openedAt: 0, status: 'open' };
    this.incidents.push(i);
    return i;
  }
  list(options: { status?: Incident['status']; deviceId?: string; limit?: number }): Incident[] {
    return this.incidents.filter((i) => options.deviceId === undefined || i.deviceId === options.deviceId);
  }
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
  db: SqliteDatabase;
  issuer: TestIssuer;
  audit: MemoryAuditLog;
  incidents: MemoryIncidentLog;
  clock: { now: number };
  revoked: string[];
  quarantined: string[];
  /** Group "ahu-gw" in site "dc1": min 1.0.0 by default, releases 1.0.0 (with `configs`) and 1.1.0. */
  setupGroup(configs: string[], minSecureVersion?: string): void;
  certificateRows(): number;
  close(): void;
}

let sharedCa: SiteCa | undefined;

export async function fleetFixture(options: Partial<FleetServiceOptions> = {}): Promise<FleetFixture> {
  sharedCa ??= await createSiteCa({ commonName: 'test site CA', validityDays: 3650, now: new Date(T0 - 86_400_000) });
  const db = openDatabase(':memory:');
  const issuer = new TestIssuer(sharedCa);
  const audit = new MemoryAuditLog();
  const incidents = new MemoryIncidentLog();
  const clock = { now: T0 };
  const revoked: string[] = [];
  const quarantined: string[] = [];
  const fleet = new FleetService({
    db, issuer, audit, incidents, now: () => clock.now,
    onRevoked: (id) => revoked.push(id), onQuarantined: (id) => quarantined.push(id), ...options,
  });
  return {
    fleet, db, issuer, audit, incidents, clock, revoked, quarantined,
    setupGroup(configs, minSecureVersion = '1.0.0') {
      fleet.defineGroup({ id: 'ahu-gw', site: 'dc1', minSecureVersion }, 'token:admin');
      const base = (bundle: string) => [
        { component: 'runtime', digest: RUNTIME },
        { component: 'guardian-bundle', digest: bundle },
        { component: 'profiles', digest: digest('profiles v1') },
      ];
      // Per-device configs are registered once, in the older release: any release of the group counts.
      fleet.registerRelease({
        group: 'ahu-gw', swname: 'shellguard-guardian', swversion: '1.0.0',
        components: [...base(BUNDLE_1_0), ...configs.map((c) => ({ component: 'config', digest: c }))],
      }, 'token:admin');
      fleet.registerRelease({ group: 'ahu-gw', swname: 'shellguard-guardian', swversion: '1.1.0', components: base(BUNDLE_1_1) }, 'token:admin');
    },
    certificateRows: () => (db.prepare('SELECT COUNT(*) AS n FROM fleet_certificates').get() as { n: number }).n,
    close: () => db.close(),
  };
}
