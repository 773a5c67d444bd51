/**
 * TypeBox schemas of the fleet, attestation, audit and incident routes. View objects allow extra
 * properties, so what the fleet service adds later reaches clients without a schema change.
 */
import { Type, type Static } from '@fastify/type-provider-typebox';
import { AttestationRefusals, type AttestationRefusal } from '@shellguard/protocol';

export const DeviceId = Type.String({
  pattern: '^[0-9a-f]{64}$',
  description: 'Lowercase hex SHA-256 of the device\'s SubjectPublicKeyInfo',
});
// The same rule as the protocol's isValidId (topic-safe ids).
const Name = (description: string) => Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$', description });
// Checked in full (semver.org 2.0.0) by the fleet service; this catches the obvious mistakes early.
const Semver = Type.String({ minLength: 5, maxLength: 64, pattern: '^[0-9]+\\.[0-9]+\\.[0-9]+', description: 'Semantic version, e.g. 1.4.2' });
const Reason = Type.String({ minLength: 1, maxLength: 500 });

export const Measurement = Type.Object({
  component: Type.String({ minLength: 1, maxLength: 200, description: 'runtime, guardian-bundle, config, profiles or profile:<id>' }),
  digest: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'Lowercase hex SHA-256' }),
});

export const DeviceClaim = Type.Object({ deviceId: DeviceId, site: Name('Site id'), group: Name('Device group id') });
export type DeviceClaim = Static<typeof DeviceClaim>;

const ClaimState = Type.Union([Type.Literal('claimed'), Type.Literal('quarantined'), Type.Literal('revoked')]);
export const ClaimRecord = Type.Object({
  deviceId: Type.String(),
  site: Type.String(),
  group: Type.String(),
  state: ClaimState,
  reason: Type.Optional(Type.String({ description: 'Why the state last changed (refusal code or the operator\'s reason)' })),
  claimedBy: Type.String(),
  claimedAt: Type.Integer(),
  changedBy: Type.String(),
  changedAt: Type.Integer(),
});
export type ClaimRecord = Static<typeof ClaimRecord>;

export const MAX_BULK_CLAIMS = 10_000;
// Items are not validated one by one here: the fleet service refuses each bad one on its own,
// so one mistyped line of a CSV does not refuse the other 9,999.
export const BulkClaimItem = Type.Object({
  deviceId: Type.String({ maxLength: 200 }),
  site: Type.String({ maxLength: 200 }),
  group: Type.String({ maxLength: 200 }),
  line: Type.Optional(Type.Integer({ minimum: 1, description: 'Where the claim came from (e.g. its CSV line), echoed in errors' })),
});
export type BulkClaimItem = Static<typeof BulkClaimItem>;
export const BulkClaimRequest = Type.Object({ claims: Type.Array(BulkClaimItem, { minItems: 1, maxItems: MAX_BULK_CLAIMS }) });

export const BulkClaimError = Type.Object({
  line: Type.Integer({ description: 'The claim\'s `line`, else its 1-based position in the list' }),
  deviceId: Type.Optional(Type.String()),
  code: Type.String(),
  reason: Type.String(),
});
export const BulkClaimResponse = Type.Object({
  claimed: Type.Array(ClaimRecord),
  errors: Type.Array(BulkClaimError),
});
export type BulkClaimResult = Static<typeof BulkClaimResponse>;

export const GroupDefinition = Type.Object({
  id: Name('Device group id'),
  site: Name('Site id'),
  minSecureVersion: Semver,
});
export type GroupDefinition = Static<typeof GroupDefinition>;
export const GroupRecord = Type.Object({
  ...GroupDefinition.properties, id: Type.String(), site: Type.String(), minSecureVersion: Type.String(),
  updatedBy: Type.String(), updatedAt: Type.Integer(),
});
export type GroupRecord = Static<typeof GroupRecord>;

export const ReleaseManifest = Type.Object({
  swname: Type.String({ minLength: 1, maxLength: 128 }),
  swversion: Semver,
  components: Type.Array(Measurement, { minItems: 1, maxItems: 1000 }),
});
export type ReleaseManifest = Static<typeof ReleaseManifest>;
export const ReleaseRecord = Type.Object({
  group: Type.String(), swname: Type.String(), swversion: Type.String(), components: Type.Array(Measurement),
  registeredBy: Type.String(), registeredAt: Type.Integer(),
});
export type ReleaseRecord = Static<typeof ReleaseRecord>;

export const ReasonBody = Type.Object({ reason: Reason });
export const OptionalReasonBody = Type.Object({ reason: Type.Optional(Reason) });
export const DeviceIdParams = Type.Object({ deviceId: DeviceId });

/** protocol/challenge-proof.ts: a request signed by the device's identity key (proof of possession). */
export const ChallengeRequest = Type.Object({
  deviceId: DeviceId,
  publicKey: Type.Object({
    kty: Type.Literal('EC'),
    crv: Type.Literal('P-256'),
    x: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
    y: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
  }, { additionalProperties: false, description: 'The identity public key, JWK (RFC 7517), public members only; must hash to deviceId' }),
  issuedAt: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'The guardian\'s clock, epoch ms; within 5 minutes of the server\'s' }),
  requestId: Type.String({ pattern: '^[A-Za-z0-9_-]{22,64}$', description: '16 or more random bytes, base64url; never reused' }),
  signature: Type.String({
    pattern: '^[A-Za-z0-9_-]{86}$',
    description: 'ES256 (R || S, base64url) by the identity key over "shellguard-challenge-v1" 0x00 deviceId 0x00 issuedAt 0x00 requestId',
  }),
});
export const ChallengeResponse = Type.Object({
  nonce: Type.String(),
  expiresAt: Type.Integer({ description: 'Epoch ms' }),
});
export const EvidenceRequest = Type.Object({
  evidence: Type.String({ minLength: 1, maxLength: 15_000, description: 'Compact JWS of an RFC 9711 EAT, ES256, jwk in the header' }),
});
export const EnrolmentResponse = Type.Object({
  certificatePem: Type.String({ description: 'Operational certificate followed by its issuing CA (PEM)' }),
  caPems: Type.Array(Type.String(), { description: 'Root CA certificate(s) to trust for the server (PEM)' }),
  notAfter: Type.Integer({ description: 'Epoch ms' }),
});
export const AttestationRefusalResponse = Type.Object({
  error: Type.Object({
    code: Type.Unsafe<AttestationRefusal>({ type: 'string', enum: [...AttestationRefusals] }),
    message: Type.String(),
  }),
}, { description: 'The challenge or the appraisal was refused; `code` says why' });

export const FleetDevice = Type.Object({
  deviceId: Type.String(),
  site: Type.String(),
  group: Type.String(),
  state: ClaimState,
  stateReason: Type.Optional(Type.String()),
  stateChangedAt: Type.Integer(),
  lastAttestation: Type.Optional(Type.Object({
    at: Type.Integer(),
    result: Type.Union([Type.Literal('pass'), Type.Literal('fail')]),
    reason: Type.Optional(Type.String({ description: 'The refusal code when result is fail' })),
  }, { description: 'The newest appraisal of evidence authentically from this device' })),
  swversion: Type.Optional(Type.String()),
  measurements: Type.Optional(Type.Array(Measurement)),
  certificateNotAfter: Type.Optional(Type.Integer({ description: 'Expiry of the newest unrevoked operational certificate (epoch ms)' })),
  reportCount: Type.Integer(),
  reportsDropped: Type.Integer({ description: 'Reports dropped by the rate limit since the server started' }),
});
export type FleetDevice = Static<typeof FleetDevice>;
export const FleetViewResponse = Type.Object({ devices: Type.Array(FleetDevice) });

export const ComponentDifference = Type.Object({
  component: Type.String(),
  expected: Type.Optional(Type.String()),
  measured: Type.Optional(Type.String()),
});
export const VersionDrift = Type.Object({
  deviceId: Type.String(),
  site: Type.String(),
  group: Type.String(),
  swversion: Type.String(),
  measuredAt: Type.Integer(),
  target: Type.Object({ swname: Type.String(), swversion: Type.String() }, { description: 'The release the group should run (its newest)' }),
  differences: Type.Array(ComponentDifference),
}, { description: 'A device whose measured software differs from what its group should run' });
export type VersionDrift = Static<typeof VersionDrift>;
export const VersionReportResponse = Type.Object({ devices: Type.Array(VersionDrift) });

export const StoredReport = Type.Object({
  deviceId: Type.String(),
  receivedAt: Type.Integer({ description: 'Server time of receipt (epoch ms)' }),
  at: Type.Integer({ description: 'Device time of the event (epoch ms)' }),
  kind: Type.Union([Type.Literal('crash'), Type.Literal('error')]),
  message: Type.String(),
  detail: Type.String(),
});
export type StoredReport = Static<typeof StoredReport>;
export const DeviceReportsResponse = Type.Object({ reports: Type.Array(StoredReport) });

export const AuditEvent = Type.Object({
  seq: Type.Integer(),
  at: Type.Integer(),
  actor: Type.String(),
  action: Type.String(),
  target: Type.String(),
  detail: Type.Record(Type.String(), Type.Unknown()),
  prevHash: Type.String(),
  hash: Type.String(),
});
export const AuditQuery = Type.Object({
  afterSeq: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'Oldest first: the events after this sequence number' })),
  beforeSeq: Type.Optional(Type.Integer({
    minimum: 1, description: 'Newest first: the events before this sequence number (without afterSeq; with neither and order=desc, the newest)',
  })),
  order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { description: 'asc (default, oldest first) or desc (newest first)' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  target: Type.Optional(Type.String({ maxLength: 300 })),
  actor: Type.Optional(Type.String({ maxLength: 300, description: 'Exactly this actor, e.g. user:alice or token:<id>' })),
  action: Type.Optional(Type.String({ maxLength: 200, description: 'Actions starting with this, e.g. alarm. or fleet.revoke' })),
});
export const AuditListResponse = Type.Object({ events: Type.Array(AuditEvent) });
