/** Request and response schemas of the deployment routes (rollouts of releases to device groups). */
import { Type, type Static } from '@sinclair/typebox';
import { UPDATE_STATES, UPDATE_STREAMS } from '@shellguard/protocol';
import { DEPLOYMENT_STATES } from '../updates/rollout/deployment-model.ts';

// Spelled out (not mapped from the lists) so the static types stay literal unions; the lists check them.
const Stream = Type.Union([Type.Literal('platform'), Type.Literal('application')]);
const UpdateState = Type.Union([
  Type.Literal('pending'), Type.Literal('deferred'), Type.Literal('downloading'), Type.Literal('downloaded'), Type.Literal('installed'),
  Type.Literal('healthy'), Type.Literal('failed'), Type.Literal('rolled_back'), Type.Literal('refused'),
]);
const DeploymentState = Type.Union([Type.Literal('running'), Type.Literal('paused'), Type.Literal('halted'), Type.Literal('aborted'), Type.Literal('completed')]);
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameLists: [Same<Static<typeof Stream>, (typeof UPDATE_STREAMS)[number]>, Same<Static<typeof UpdateState>, (typeof UPDATE_STATES)[number]>,
  Same<Static<typeof DeploymentState>, (typeof DEPLOYMENT_STATES)[number]>] = [true, true, true];
void sameLists;
const OptionalNumber = Type.Optional(Type.Number());
const OptionalString = Type.Optional(Type.String());

const MaintenanceWindow = Type.Object({
  days: Type.Optional(Type.Array(Type.Integer({ minimum: 0, maximum: 6 }), { minItems: 1, maxItems: 7, description: 'Weekdays the window starts on: 0 Sunday … 6 Saturday; absent: every day' })),
  start: Type.String({ pattern: '^\\d{2}:\\d{2}$', description: 'Local time HH:MM' }),
  end: Type.String({ pattern: '^\\d{2}:\\d{2}$', description: 'Local time HH:MM (24:00 for midnight); before start: the window runs past midnight' }),
  timeZone: Type.String({ maxLength: 64, description: '"UTC" or an IANA zone, e.g. "Europe/Berlin"' }),
}, { additionalProperties: false });

const PolicyFields = {
  waves: Type.Array(Type.Number({ exclusiveMinimum: 0, maximum: 100 }), { minItems: 1, maxItems: 10, description: 'Cumulative percentages ending in 100 (default [1, 10, 50, 100])' }),
  healthWindowSeconds: Type.Integer({ minimum: 30, maximum: 86_400, description: 'Seconds a device has after installing to prove, by attestation, that it runs the release (default 600)' }),
  failureThreshold: Type.Number({ minimum: 0, maximum: 1, description: 'Fraction of a wave failed or rolled back that halts the rollout (default 0.1)' }),
  minFailures: Type.Integer({ minimum: 1, description: 'Halt only once at least this many devices of the wave failed (default 1)' }),
  maintenanceWindows: Type.Array(MaintenanceWindow, { maxItems: 14, description: 'Devices install only inside one; none: any time' }),
  autoApply: Type.Boolean({ description: 'Platform stream only: install in every window without an engineer starting it (default false)' }),
  waveSoakSeconds: Type.Integer({ minimum: 0, maximum: 2_592_000, description: 'A complete wave stays healthy this long before the next starts (default 0)' }),
};
const Policy = Type.Object(PolicyFields);
const PolicyInput = Type.Partial(Type.Object(PolicyFields, { additionalProperties: false }));

export const DeploymentCreateBody = Type.Object({
  product: Type.String({ minLength: 1, maxLength: 64 }),
  stream: Stream,
  version: Type.String({ minLength: 5, maxLength: 64, description: 'A version published in the image repository of (product, stream)' }),
  group: Type.String({ minLength: 1, maxLength: 128 }),
  policy: Type.Optional(PolicyInput),
}, { additionalProperties: false });

export const DeploymentSchema = Type.Object({
  id: Type.String(), product: Type.String(), stream: Stream, version: Type.String(), group: Type.String(),
  target: Type.Object({
    targetName: Type.String(), length: Type.Integer(), sha256: Type.String(),
    manifest: Type.Object({
      product: Type.String(), stream: Stream, version: Type.String(),
      components: Type.Array(Type.Object({ component: Type.String(), digest: Type.String() })), platform: Type.String(), nodeAbi: Type.String(),
    }),
  }),
  policy: Policy,
  state: DeploymentState,
  currentWave: Type.Integer({ description: '1-based: the newest wave started' }),
  waveCount: Type.Integer(),
  waveStartedAt: Type.Number(),
  waveCompletedAt: OptionalNumber,
  installsStartedUntil: OptionalNumber,
  createdBy: Type.String(), createdAt: Type.Number(), updatedAt: Type.Number(),
  haltedReason: OptionalString,
  lastAction: Type.Optional(Type.Object({ action: Type.String(), by: Type.String(), at: Type.Number(), reason: OptionalString })),
  endedAt: OptionalNumber,
});

const StateCounts = Type.Record(Type.String(), Type.Integer(), { description: 'Devices per update state (every state present, 0 when none)' });
export const ProgressSchema = Type.Object({
  devices: Type.Integer(), healthy: Type.Integer(), failed: Type.Integer(), percentHealthy: Type.Number(), states: StateCounts,
  waves: Type.Array(Type.Object({
    wave: Type.Integer(), devices: Type.Integer(), started: Type.Boolean(), complete: Type.Boolean(), failed: Type.Integer(), states: StateCounts,
  })),
});

export const DeploymentViewResponse = Type.Object({ deployment: DeploymentSchema, progress: ProgressSchema });
export const DeploymentListResponse = Type.Object({ deployments: Type.Array(DeploymentSchema) });
export const DeploymentListQuery = Type.Object({
  group: Type.Optional(Type.String({ maxLength: 128 })), stream: Type.Optional(Stream), state: Type.Optional(DeploymentState),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
});

export const DeviceRolloutSchema = Type.Object({
  deploymentId: Type.String(), deviceId: Type.String(), wave: Type.Integer(), state: UpdateState, reason: OptionalString,
  running: OptionalString, sequence: Type.Integer(), instructedAt: OptionalNumber, installNow: Type.Optional(Type.Boolean()),
  installOrderedAt: OptionalNumber, installedAt: OptionalNumber, healthDeadline: OptionalNumber, healthReportedAt: OptionalNumber,
  deferredUntil: OptionalNumber, updatedAt: Type.Number(),
  history: Type.Array(Type.Object({ at: Type.Number(), state: UpdateState, reason: OptionalString, sequence: Type.Optional(Type.Integer()) })),
});
export const DeviceListResponse = Type.Object({ devices: Type.Array(DeviceRolloutSchema) });
export const DeviceResponse = Type.Object({ device: DeviceRolloutSchema });

export const DeploymentParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
export const DeploymentDeviceParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }), deviceId: Type.String({ minLength: 1, maxLength: 128 }) });
export const OptionalReasonBody = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 1000, description: 'Why: kept in the audit log' })) }, { additionalProperties: false });
export const DeferBody = Type.Object({
  until: Type.Union([Type.Integer({ minimum: 0 }), Type.String({ format: 'date-time' })], { description: 'Epoch ms or ISO 8601: hold the device back until then (at most 90 days)' }),
  reason: Type.String({ minLength: 3, maxLength: 1000 }),
}, { additionalProperties: false });

export const VersionReportParams = Type.Object({ group: Type.String({ minLength: 1, maxLength: 128 }) });
export const VersionReportQuery = Type.Object({ stream: Type.Optional(Stream) });
const VersionReportDevice = Type.Object({
  deviceId: Type.String(), running: OptionalString, source: Type.Union([Type.Literal('status'), Type.Literal('attestation'), Type.Literal('unknown')]),
  attested: Type.Boolean(), matches: Type.Boolean(), reason: OptionalString,
});
export const VersionReportResponse = Type.Object({
  group: Type.String(), stream: Stream,
  target: Type.Optional(Type.Object({ deploymentId: Type.String(), version: Type.String(), state: DeploymentState })),
  devices: Type.Array(VersionReportDevice), mismatches: Type.Array(VersionReportDevice),
});
