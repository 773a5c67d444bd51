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
  bucketMs: number;
  baselineMean: number | null;
  baselineStd: number | null;
  ts: number[];
  scores: number[];
}

export interface Recommendation {
  id: number;
  site: string;
  asset: string;
  point: string;
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

export interface Incident {
  id: number;
  openedAt: number;
  status: 'open' | 'acknowledged' | 'closed';
  kind: string;
  severity: 'low' | 'medium' | 'high' | 'critical';
  deviceId?: string;
  reason: string;
  summary: string;
  detail: Record<string, unknown>;
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
