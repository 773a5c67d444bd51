/**
 * The shapes the server's HTTP API answers with (packages/server/src/api/*-schemas.ts), as far as
 * the dashboard reads them. The web package depends on the API only, never on server code, so
 * these are written out here; a field the server adds later is simply ignored.
 */

export const ROLES = ['admin', 'engineer', 'technician', 'manager', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface SessionUser {
  username: string;
  role: Role;
}

export interface Session {
  user: SessionUser;
  csrfToken: string;
  expiresAt: number | string;
}

export interface Site {
  id: string;
  firstSeen: number;
  areaCount: number;
  assetCount: number;
}

export interface Area {
  site: string;
  id: string;
  assetCount: number;
}

export interface Asset {
  site: string;
  id: string;
  name: string;
  type: string;
  profile: string;
  area: string;
  deviceId: string;
  updatedAt: number;
}

export interface LatestValue {
  ts: number;
  value: number | null;
  /** OPC quality: 192 good, 64 uncertain, 0 bad. */
  quality: number;
}

export interface AssetPoint {
  id: number;
  name: string;
  unit: string;
  kind: string;
  description: string;
  latest: LatestValue | null;
}

export interface AssetDetail extends Asset {
  points: AssetPoint[];
}

export interface RegistryDevice {
  id: string;
  site: string;
  firstSeen: number;
  lastSeen: number;
  online: boolean;
  version: string;
  assetCount: number;
  clockOffsetMs: number | null;
}

export interface PointRef {
  id: number;
  site: string;
  asset: string;
  name: string;
}

/** `layout=columns` without a bucket. */
export interface RawColumns {
  point: PointRef;
  from: number;
  to: number;
  ts: number[];
  value: (number | null)[];
  quality: number[];
}

/** `layout=columns` with a bucket. */
export interface BucketColumns {
  point: PointRef;
  from: number;
  to: number;
  bucketMs: number;
  ts: number[];
  min: number[];
  avg: number[];
  max: number[];
  count: number[];
}

export type SeriesColumns = RawColumns | BucketColumns;

export interface SeriesResponse {
  from: number;
  to: number;
  bucketMs?: number;
  series: Omit<SeriesColumns, 'from' | 'to'>[];
}

export const ALARM_PRIORITIES = ['critical', 'high', 'medium', 'low'] as const;
export type AlarmPriority = (typeof ALARM_PRIORITIES)[number];
export const ALARM_STATES = ['normal', 'unack-active', 'ack-active', 'unack-rtn'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

export interface Alarm {
  id: number;
  key: string;
  ruleId: string;
  kind: string;
  level: string | null;
  site: string;
  asset: string;
  point: string;
  priority: AlarmPriority;
  description: string;
  state: AlarmState;
  active: boolean;
  acknowledged: boolean;
  shelved: { kind: 'one-shot' | 'timed'; by: string; at: number; until: number; comment: string } | null;
  suppressed: boolean;
  outOfService: { by: string; at: number; comment: string } | null;
  annunciated: boolean;
  activeSince: number | null;
  changedAt: number;
  value: number | boolean | null;
  pending: { to: 'active' | 'cleared'; deadline: number } | null;
  retired: boolean;
}

export interface AlarmEvent {
  seq: number;
  alarmId: number;
  at: number;
  kind: string;
  actor: string;
  comment: string;
  state: AlarmState;
  annunciated: boolean;
  value: number | boolean | null;
  detail: Record<string, unknown>;
}

export interface AlarmRule {
  id: string;
  kind: string;
  profile: string;
  point: string;
  description: string;
  priority: AlarmPriority;
  onDelayMs: number;
  offDelayMs: number;
  maxShelveMs: number;
  enabled: boolean;
  hh?: number;
  h?: number;
  l?: number;
  ll?: number;
  levelPriority?: Partial<Record<'hh' | 'h' | 'l' | 'll', AlarmPriority>>;
  threshold?: number;
  [extra: string]: unknown;
}

export type ClaimState = 'claimed' | 'quarantined' | 'revoked';

export interface FleetDevice {
  deviceId: string;
  site: string;
  group: string;
  state: ClaimState;
  stateReason?: string;
  stateChangedAt: number;
  lastAttestation?: { at: number; result: 'pass' | 'fail'; reason?: string };
  swversion?: string;
  measurements?: { component: string; digest: string }[];
  certificateNotAfter?: number;
  reportCount: number;
  reportsDropped: number;
}

export interface VersionDrift {
  deviceId: string;
  site: string;
  group: string;
  swversion: string;
  measuredAt: number;
  target: { swname: string; swversion: string };
  differences: { component: string; expected?: string; measured?: string }[];
}

export interface DeviceReport {
  deviceId: string;
  receivedAt: number;
  at: number;
  kind: 'crash' | 'error';
  message: string;
  detail: string;
}

export interface AssetHealth {
  site: string;
  asset: string;
  health: number;
  worstPoint: { point: string; score: number } | null;
  activeAlarms: number;
}

/** GET /asset-scores: one point's smoothed anomaly scores over its last 60 analytics buckets. */
export interface AssetScore {
  point: string;
  score: number;
  scoring: boolean;
  /** true once the point's drift baseline is learned (a day of buckets by default); the baseline is null before. */
  baselineLearned: boolean;
  bucketMs: number;
  baselineMean: number | null;
  baselineStd: number | null;
  ts: number[];
  scores: number[];
}

/** One point of an asset-level recommendation: its smoothed value against its learned normal. */
export interface PointMove {
  point: string;
  /** (value − normalMean) / normalStd. */
  z: number;
  value: number;
  normalMean: number;
  normalStd: number;
  /** Share of the asset's exceeding statistic, 0..1. */
  share: number;
}

export interface Recommendation {
  id: number;
  site: string;
  asset: string;
  /** For an asset-level one: the point that moved most. */
  point: string;
  /** `point`: one point's detector; `asset`: the asset's points scored together. */
  method: 'point' | 'asset';
  /** Asset-level: every point of the asset's model, largest share first; null for point-level ones. */
  moves: PointMove[] | null;
  since: number;
  at: number;
  recentMean: number;
  baselineMean: number;
  baselineStd: number;
  zScore: number;
  score: number;
  status: 'open' | 'work-order';
  /** `/api/v1/points/<id>/samples?from=..&to=..&bucket=60000`, or null. */
  chart: string | null;
  workOrderId: number | null;
  createdAt: number;
}

export interface WorkOrder {
  id: number;
  site: string;
  asset: string;
  point: string | null;
  type: 'planned' | 'predictive' | 'reactive';
  status: 'open' | 'done';
  title: string;
  recommendationId: number | null;
  createdBy: string;
  createdAt: number;
  doneAt: number | null;
}

export interface ReactiveShare {
  site: string;
  periodStart: number;
  total: number;
  reactive: number;
  share: number;
}

export interface PeerOutlier {
  site: string;
  asset: string;
  score: number;
  points: { point: string; value: number; median: number; mad: number; z: number; peers: number }[];
}

export interface AuditEvent {
  seq: number;
  at: number;
  actor: string;
  action: string;
  target: string;
  detail: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditVerification {
  ok: boolean;
  events: number;
  brokenAt?: number;
  keyedFromSeq?: number;
  problems: { code: string; seq?: number; lastSeq?: number; line?: number; message: string }[];
  omittedProblems?: number;
  anchors: { checked: number; newest?: { seq: number; hash: string; at: number; line: number } };
}

export type IncidentStatus = 'open' | 'acknowledged' | 'resolved' | 'closed';

export interface Incident {
  id: number;
  openedAt: number;
  status: IncidentStatus;
  kind: string;
  severity: 'low' | 'medium' | 'high' | 'critical';
  deviceId?: string;
  site?: string;
  asset?: string;
  assignee?: string;
  reason: string;
  summary: string;
  detail: Record<string, unknown>;
}

/** GET /incidents/:id: the incident as a ticket. */
export interface IncidentTicket extends Incident {
  rev: number;
  updatedAt: number;
}

export interface IncidentComment {
  id: number;
  incidentId: number;
  at: number;
  author: string;
  text: string;
}

export interface IncidentChange {
  seq: number;
  incidentId: number;
  at: number;
  actor: string;
  kind: 'opened' | 'assigned' | 'commented' | 'status' | 'evidence';
  detail: Record<string, unknown>;
}

export type EvidenceSampleValue = number | boolean | string | null;

export interface IncidentEvidence {
  id: number;
  incidentId: number;
  site: string;
  asset: string;
  role?: string;
  points?: string[];
  from: number;
  to: number;
  dueAt: number;
  state: 'pending' | 'captured' | 'failed';
  attempts: number;
  capturedAt?: number;
  series?: { point: string; samples: { ts: number; value: EvidenceSampleValue }[] }[];
  error?: string;
}

export interface IncidentReview {
  incident: IncidentTicket;
  comments: IncidentComment[];
  history: IncidentChange[];
  evidence: IncidentEvidence[];
}

export interface TokenInfo {
  tokenId: string;
  name: string;
  role: Role;
}

/** The `health` live event, every 5 s. */
export interface HealthEvent {
  time: number;
  ingest?: Record<string, unknown>;
  pointsPerSecond?: number;
  connectedDevices?: number;
  activeAlarms?: number;
  unackAlarms?: number;
}

// ---------------------------------------------------------------- digital methods of procedure
// procedure-schemas.ts and procedures/procedure-model.ts, procedure-template.ts of the server.

/** What a panel's signal tower shows (protocol pns.ts ANDON_STATES). */
export const ANDON_STATES = ['idle', 'released', 'in-progress', 'step-done', 'deviation', 'stop', 'complete', 'intrusion'] as const;
export type AndonState = (typeof ANDON_STATES)[number];

/** A numeric condition on a point of a bound role (`asset` is a role of the template). */
export interface PointCondition {
  asset: string;
  point: string;
  below?: number;
  above?: number;
}

interface ProcedureStepBase {
  title: string;
  /** Shown to the technician before the step (PPE, arc-flash boundary, ...). */
  warnings: string[];
  /** Roles allowed to perform or confirm the step. */
  roles: Role[];
  /** The panel role the step happens at. */
  panel: string;
}

export type ProcedureStep =
  | (ProcedureStepBase & { kind: 'open-panel' })
  | (ProcedureStepBase & { kind: 'close-panel' })
  | (ProcedureStepBase & { kind: 'confirm'; prompt: string })
  | (ProcedureStepBase & { kind: 'operate'; point: string; to: 'open' | 'closed'; expect: PointCondition[]; expectWithinMs: number })
  | (ProcedureStepBase & { kind: 'verify'; conditions: PointCondition[]; holdMs: number; withinMs: number });

export interface ProcedureTemplate {
  id: string;
  title: string;
  description: string;
  /** Panel roles; a work order binds each to a panel. */
  panels: string[];
  /** Other asset roles whose points the steps read. */
  assets: string[];
  steps: ProcedureStep[];
}

export interface ProcedureVersion {
  procedureId: string;
  version: number;
  template: ProcedureTemplate;
  source: string;
  author: string;
  createdAt: number;
  /** Two-person rule: someone other than the author; null until approved. */
  approvedBy: string | null;
  approvedAt: number | null;
}

export const DMOP_WORK_ORDER_STATUSES = ['draft', 'approved', 'released', 'in-progress', 'completed', 'aborted'] as const;
export type DmopWorkOrderStatus = (typeof DMOP_WORK_ORDER_STATUSES)[number];

/** A DMOP work order (GET /work-orders of procedure-routes.ts; not the maintenance `WorkOrder`). */
export interface DmopWorkOrder {
  id: number;
  site: string;
  procedureId: string;
  version: number;
  title: string;
  /** Template role → asset id. */
  bindings: Record<string, string>;
  windowStart: number;
  windowEnd: number;
  /** Usernames of the technicians who do the work. */
  assignees: string[];
  createdBy: string;
  createdAt: number;
  approvedBy: string | null;
  releasedBy: string | null;
  releasedAt: number | null;
  status: DmopWorkOrderStatus;
  /** 0-based index of the current step; the step count once all are done. */
  currentStep: number;
  stepSince: number | null;
  /** Set after an operate step's operation while its expected changes are awaited. */
  operatedAt: number | null;
  hold: { kind: 'deviation'; deviationId: number; since: number } | null;
  baseline: Record<string, boolean>;
  updatedAt: number;
  endedAt: number | null;
  endReason: string | null;
}

/** One line of a work order's step log. */
export interface StepEvent {
  workOrderId: number;
  seq: number;
  at: number;
  kind: 'created' | 'approved' | 'released' | 'started' | 'step-done' | 'confirmed' | 'observed'
    | 'deviation' | 'acknowledged' | 'paused' | 'resumed' | 'completed' | 'aborted' | (string & {});
  /** 0-based step index, if the event concerns one. */
  step: number | null;
  actor: string;
  detail: Record<string, unknown>;
}

export interface Deviation {
  id: number;
  workOrderId: number;
  site: string;
  panel: string;
  /** 0-based index of the step that was current. */
  step: number;
  kind: string;
  expected: string;
  observed: string;
  at: number;
  incidentId: number | null;
  acknowledgedBy: string | null;
  acknowledgedAt: number | null;
  reason: string | null;
}

export interface SiteStop {
  site: string;
  by: string;
  at: number;
  reason: string;
}

/** GET /work-orders/:id */
export interface DmopWorkOrderDetail {
  workOrder: DmopWorkOrder;
  template: ProcedureTemplate;
  /** Held for a deviation, or the site is stopped. */
  paused: boolean;
  stopped: SiteStop | null;
  /** What the current step asks for, in words; null when the work order is not released or in progress. */
  expected: string | null;
  steps: StepEvent[];
  deviations: Deviation[];
  /** What the bound assets report now. */
  readings: { role: string; asset: string; point: string; value: number | boolean | null }[];
}

/** A security alert: a panel opened or operated with no released work order covering it. */
export interface PanelAlert {
  /** Negative while the server is still recording it (it cannot be silenced yet). */
  id: number;
  site: string;
  panel: string;
  kind: 'door-opened-uncovered' | 'breaker-operated-uncovered' | (string & {});
  point: string;
  at: number;
  incidentId: number | null;
  silencedBy: string | null;
  silencedAt: number | null;
  reason: string | null;
}

/** What a panel's tower shows and why (andon-view.ts PanelSignal). */
export interface PanelSignal {
  state: AndonState;
  /** A released work order covers opening the panel now. */
  covered: boolean;
  workOrderId?: number;
  /** 1-based step of the covering work order. */
  step?: { index: number; count: number; title: string };
  reason?: string;
}

export interface PanelView {
  site: string;
  panel: string;
  signal: PanelSignal;
  /** Door open; null until the panel has reported. */
  door: boolean | null;
  /** Breaker or switch point → closed. */
  breakers: Record<string, boolean>;
  alert: PanelAlert | null;
  workOrder: { id: number; title: string; status: DmopWorkOrderStatus; assignees: string[] } | null;
}

/** GET /panels, and the `panels` live event. */
export interface PanelBoard {
  panels: PanelView[];
  stops: SiteStop[];
}

/** GET /demo/panels (only under `shellguard demo`; 404 otherwise): the panels the simulator operates. */
export interface DemoPanels {
  site?: string;
  panels: string[];
}

/* ---- Signed updates (issue 11): update-repository-routes.ts and deployment-schemas.ts */

export type UpdateStream = 'application' | 'platform';
export const UPDATE_STATES = ['pending', 'deferred', 'downloading', 'downloaded', 'installed', 'healthy', 'failed', 'rolled_back', 'refused'] as const;
export type UpdateState = (typeof UPDATE_STATES)[number];
export type DeploymentState = 'running' | 'paused' | 'halted' | 'aborted' | 'completed';
export type TufRoleName = 'root' | 'targets' | 'snapshot' | 'timestamp';

export interface TufRoleSummary {
  keyids: string[];
  threshold: number;
  /** null until the role's first metadata is published. */
  version: number | null;
  /** ISO 8601; null until published. */
  expires: string | null;
}

/** GET /updates/repositories (one item). */
export interface UpdateRepositorySummary {
  product: string;
  stream: string;
  createdAt: number;
  roles: Record<TufRoleName, TufRoleSummary>;
  /** False when the newest targets no longer verify under the newest root. */
  targetsTrusted: boolean;
}

export interface ReleaseManifest {
  product: string;
  stream: string;
  version: string;
  platform: string;
  nodeAbi: string;
  components: { component: string; digest: string }[];
}

/** A signed release: one TUF target with its BundleManifest. */
export interface UpdateTarget {
  name: string;
  length: number;
  sha256: string;
  custom: ReleaseManifest;
}

interface TufKey {
  keyid: string;
  key: { keytype: string; scheme: string; keyval: { public: string } };
}

/** GET /updates/repositories/:product/:stream → {repository}. */
export interface UpdateRepositoryDetail extends UpdateRepositorySummary {
  onlineKeys: { snapshot: TufKey; timestamp: TufKey };
  targets: UpdateTarget[];
}

export interface MaintenanceWindow {
  /** 0 Sunday … 6 Saturday; absent: every day. */
  days?: number[];
  start: string;
  end: string;
  timeZone: string;
}

export interface RolloutPolicy {
  waves: number[];
  healthWindowSeconds: number;
  failureThreshold: number;
  minFailures: number;
  maintenanceWindows: MaintenanceWindow[];
  autoApply: boolean;
  waveSoakSeconds: number;
}

export interface Deployment {
  id: string;
  product: string;
  stream: UpdateStream;
  version: string;
  group: string;
  target: { targetName: string; length: number; sha256: string; manifest: ReleaseManifest };
  policy: RolloutPolicy;
  state: DeploymentState;
  /** 1-based: the newest wave started. */
  currentWave: number;
  waveCount: number;
  waveStartedAt: number;
  waveCompletedAt?: number;
  installsStartedUntil?: number;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  haltedReason?: string;
  lastAction?: { action: string; by: string; at: number; reason?: string };
  endedAt?: number;
}

/** Devices per update state (every state present). */
export type UpdateStateCounts = Record<UpdateState, number>;

export interface DeploymentProgress {
  devices: number;
  healthy: number;
  failed: number;
  percentHealthy: number;
  states: UpdateStateCounts;
  waves: { wave: number; devices: number; started: boolean; complete: boolean; failed: number; states: UpdateStateCounts }[];
}

/** GET /deployments/:id, POST /deployments and the actions. */
export interface DeploymentView {
  deployment: Deployment;
  progress: DeploymentProgress;
}

export interface DeviceRollout {
  deploymentId: string;
  deviceId: string;
  wave: number;
  state: UpdateState;
  reason?: string;
  running?: string;
  sequence: number;
  instructedAt?: number;
  installNow?: boolean;
  installOrderedAt?: number;
  installedAt?: number;
  healthDeadline?: number;
  healthReportedAt?: number;
  deferredUntil?: number;
  updatedAt: number;
  history: { at: number; state: UpdateState; reason?: string; sequence?: number }[];
}

export interface VersionReportDevice {
  deviceId: string;
  running?: string;
  source: 'status' | 'attestation' | 'unknown';
  attested: boolean;
  matches: boolean;
  reason?: string;
}

/** GET /groups/:group/version-report?stream= */
export interface GroupVersionReport {
  group: string;
  stream: UpdateStream;
  target?: { deploymentId: string; version: string; state: DeploymentState };
  devices: VersionReportDevice[];
  mismatches: VersionReportDevice[];
}
