/**
 * Incidents: things that went wrong and need a person (a failed attestation, refused telemetry, a
 * panel opened outside a released DMOP work order, a DMOP step done out of order). Each is also a
 * ticket: assigned, commented, moved through its statuses (incident-status.ts), with its history
 * and the evidence captured around it, so the next person learns from how it was handled.
 *
 * Three ports: `IncidentRaiser` is what raisers need (fleet, ingest, procedures), handed out by
 * their unit of work so the incident commits with the change that caused it; `IncidentLog` adds
 * the list; `IncidentTickets` adds the ticket work the API and the evidence capture need.
 */
import type { IncidentStatus } from './incident-status.ts';

export type { IncidentStatus } from './incident-status.ts';

export const INCIDENT_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type IncidentSeverity = (typeof INCIDENT_SEVERITIES)[number];

/** Lengths the store refuses beyond (the API's schemas say the same). */
export const MAX_COMMENT_LENGTH = 4000;
export const MAX_NOTE_LENGTH = 2000;
export const MAX_ASSIGNEE_LENGTH = 128;

/** The DMOP security incidents (procedures raise them); others are free-form dotted or snake_case kinds. */
export const DMOP_INCIDENT_KINDS = ['panel.intrusion', 'procedure.deviation'] as const;

/** One asset whose telemetry is kept as evidence: the panel itself, the feed that supplies it, ... */
export interface EvidenceTarget {
  asset: string;
  /** Points to keep; all the asset's points when absent. */
  points?: string[];
  /** What the asset is to the incident, for a reader: e.g. `panel`, `feed`. */
  role?: string;
}

/**
 * Telemetry to capture around an incident. It is read once the window has passed (plus the
 * settle time the capture allows for store-and-forward), so it holds what happened after too.
 */
export interface EvidenceRequest {
  targets: EvidenceTarget[];
  /** The moment the window is centred on (default: when the incident is raised). */
  at?: number;
  /** Window before and after `at` (defaults: the store's, 5 min each). */
  beforeMs?: number;
  afterMs?: number;
}

export interface IncidentInput {
  /** e.g. attestation_failed, panel.intrusion */
  kind: string;
  severity: IncidentSeverity;
  deviceId?: string;
  site?: string;
  /** The asset concerned, e.g. the panel of a DMOP incident. */
  asset?: string;
  /** Who should handle it from the start (a username), when the raiser knows. */
  assignee?: string;
  /** Stable reason code, e.g. measurements_mismatch */
  reason: string;
  summary: string;
  /**
   * Facts to act on, including evidence known when raised. DMOP incidents use the keys of
   * `DmopIncidentDetail` so the review view can show them as such.
   */
  detail: Record<string, unknown>;
  /**
   * Announce the new incident through the outbox (`incident.opened`). Default: high and critical
   * incidents only, so a person hears of a refused attestation without being paged for every
   * low-severity refusal (see incident-outbox.ts).
   */
  notify?: boolean;
  /**
   * Telemetry to keep as evidence. DMOP incidents with a site and an asset capture that asset
   * by default; name the feed here too.
   */
  evidence?: EvidenceRequest;
}

/**
 * Conventional `detail` keys of a DMOP incident, as the procedures' panel supervisor writes them:
 * what the review view shows beside the telemetry. Other keys are kept and shown as they are.
 */
export interface DmopIncidentDetail {
  workOrderId?: number;
  /** procedure.deviation: the step (1-based), what the procedure expected and what happened instead. */
  step?: number;
  expected?: unknown;
  observed?: unknown;
  /** The work order's step events up to the incident: what was done, by whom, when (`step` is 0-based). */
  stepLog?: { seq?: number; at: number; kind: string; step: number | null; actor: string; detail?: Record<string, unknown> }[];
  /** The people on the work order. */
  assignees?: string[];
  /** panel.intrusion: the work orders under way on the site at the time, with their people and panels. */
  workOrdersNearby?: { workOrderId: number; title?: string; status?: string; assignees?: string[]; panels?: string[] }[];
  /** Readings the raiser had just before the incident. */
  readingsBefore?: { asset?: string; point: string; ts: number; value: number | boolean | string | null }[];
}

export interface Incident {
  id: number;
  openedAt: number;
  status: IncidentStatus;
  kind: string;
  severity: IncidentSeverity;
  deviceId?: string;
  site?: string;
  asset?: string;
  assignee?: string;
  reason: string;
  summary: string;
  detail: Record<string, unknown>;
}

export interface IncidentFilter {
  status?: IncidentStatus | undefined;
  deviceId?: string | undefined;
  kind?: string | undefined;
  site?: string | undefined;
  asset?: string | undefined;
  assignee?: string | undefined;
  /** Default 100, at most 1000. */
  limit?: number | undefined;
}

/** What a domain needs to raise an incident: handed out by a unit of work, so the incident commits with the change that caused it. */
export interface IncidentRaiser {
  /** Records a new open incident (and its outbox notice, in the same transaction). */
  raise(incident: IncidentInput): Promise<Incident>;
}

export interface IncidentLog extends IncidentRaiser {
  /** Newest first. */
  list(options: IncidentFilter): Promise<Incident[]>;
}

/** An incident as a ticket: how often it changed (`rev`, the outbox's revision) and when last. */
export interface IncidentTicket extends Incident {
  rev: number;
  updatedAt: number;
}

export interface IncidentComment {
  id: number;
  incidentId: number;
  at: number;
  /** `user:<name>` or `token:<id>`. */
  author: string;
  text: string;
}

export type IncidentChangeKind = 'opened' | 'assigned' | 'commented' | 'status' | 'evidence';

/** One line of an incident's history, oldest first. */
export interface IncidentChange {
  seq: number;
  incidentId: number;
  at: number;
  /** `system` for the server itself. */
  actor: string;
  kind: IncidentChangeKind;
  /** assigned: {from, to}; status: {from, to, note}; commented: {commentId}; evidence: {captureId, state}. */
  detail: Record<string, unknown>;
}

export type EvidenceState = 'pending' | 'captured' | 'failed';

export interface EvidenceSeries {
  point: string;
  samples: { ts: number; value: number | boolean | string | null }[];
}

/** Telemetry of one asset around an incident: waiting for its window to pass, captured, or given up on. */
export interface IncidentEvidence {
  id: number;
  incidentId: number;
  site: string;
  asset: string;
  role?: string;
  /** The points asked for; all of the asset's when absent. */
  points?: string[];
  from: number;
  to: number;
  /** When it is (next) read. */
  dueAt: number;
  state: EvidenceState;
  attempts: number;
  capturedAt?: number;
  series?: EvidenceSeries[];
  /** Why the last attempt failed. */
  error?: string;
}

export interface IncidentReview {
  incident: IncidentTicket;
  comments: IncidentComment[];
  history: IncidentChange[];
  evidence: IncidentEvidence[];
}

export interface IncidentTickets extends IncidentLog {
  /** The incident with its comments, history and evidence; undefined when there is none. */
  get(id: number): Promise<IncidentReview | undefined>;
  /** Assigns (a username) or unassigns (null). Rejects with IncidentError. */
  assign(id: number, assignee: string | null, actor: string): Promise<IncidentTicket>;
  comment(id: number, author: string, text: string): Promise<IncidentComment>;
  /** Moves the incident along INCIDENT_TRANSITIONS; some moves need a note. Rejects with IncidentError. */
  setStatus(id: number, status: IncidentStatus, actor: string, note?: string): Promise<IncidentTicket>;
  comments(id: number): Promise<IncidentComment[]>;
  history(id: number): Promise<IncidentChange[]>;
}
