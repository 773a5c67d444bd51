/**
 * TypeBox schemas of the incident routes. Responses are serialised by their schema, so a member
 * missing here is dropped silently: every field of the incidents' types is listed.
 */
import { Type } from '@fastify/type-provider-typebox';
import { INCIDENT_SEVERITIES, MAX_ASSIGNEE_LENGTH, MAX_COMMENT_LENGTH, MAX_NOTE_LENGTH } from '../incidents/incident-log.ts';
import { INCIDENT_STATUSES } from '../incidents/incident-status.ts';

// An enum of strings, typed as their union (Type.Union over a mapped array loses the literals).
const literals = <T extends string>(values: readonly T[]) => Type.Unsafe<T>({ type: 'string', enum: [...values] });

export const IncidentStatus = literals(INCIDENT_STATUSES);
const Assignee = Type.String({ minLength: 1, maxLength: MAX_ASSIGNEE_LENGTH, description: 'A username' });

export const Incident = Type.Object({
  id: Type.Integer(),
  openedAt: Type.Integer(),
  status: IncidentStatus,
  kind: Type.String(),
  severity: literals(INCIDENT_SEVERITIES),
  deviceId: Type.Optional(Type.String()),
  site: Type.Optional(Type.String()),
  asset: Type.Optional(Type.String()),
  assignee: Type.Optional(Type.String()),
  reason: Type.String(),
  summary: Type.String(),
  detail: Type.Record(Type.String(), Type.Unknown()),
});

export const IncidentTicket = Type.Object({
  ...Incident.properties,
  rev: Type.Integer({ description: 'Status and assignee changes so far' }),
  updatedAt: Type.Integer(),
});

export const IncidentQuery = Type.Object({
  status: Type.Optional(IncidentStatus),
  deviceId: Type.Optional(Type.String({ maxLength: 64 })),
  kind: Type.Optional(Type.String({ maxLength: 128, description: 'e.g. panel.intrusion, procedure.deviation, attestation_failed' })),
  site: Type.Optional(Type.String({ maxLength: 128 })),
  asset: Type.Optional(Type.String({ maxLength: 128 })),
  assignee: Type.Optional(Type.String({ maxLength: MAX_ASSIGNEE_LENGTH })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});
export const IncidentListResponse = Type.Object({ incidents: Type.Array(Incident) });

export const IncidentIdParams = Type.Object({ id: Type.Integer({ minimum: 1, description: 'Incident id' }) });

export const IncidentComment = Type.Object({
  id: Type.Integer(), incidentId: Type.Integer(), at: Type.Integer(), author: Type.String(), text: Type.String(),
});

export const IncidentChange = Type.Object({
  seq: Type.Integer(),
  incidentId: Type.Integer(),
  at: Type.Integer(),
  actor: Type.String(),
  kind: literals(['opened', 'assigned', 'commented', 'status', 'evidence'] as const),
  detail: Type.Record(Type.String(), Type.Unknown()),
});

const SampleValue = Type.Union([Type.Number(), Type.Boolean(), Type.String(), Type.Null()]);

export const IncidentEvidence = Type.Object({
  id: Type.Integer(),
  incidentId: Type.Integer(),
  site: Type.String(),
  asset: Type.String(),
  role: Type.Optional(Type.String({ description: 'What the asset is to the incident, e.g. panel or feed' })),
  points: Type.Optional(Type.Array(Type.String())),
  from: Type.Integer(),
  to: Type.Integer(),
  dueAt: Type.Integer({ description: 'When the window is (next) read' }),
  state: literals(['pending', 'captured', 'failed'] as const),
  attempts: Type.Integer(),
  capturedAt: Type.Optional(Type.Integer()),
  series: Type.Optional(Type.Array(Type.Object({
    point: Type.String(),
    samples: Type.Array(Type.Object({ ts: Type.Integer(), value: SampleValue })),
  }))),
  error: Type.Optional(Type.String()),
});

export const IncidentReviewResponse = Type.Object({
  incident: IncidentTicket,
  comments: Type.Array(IncidentComment),
  history: Type.Array(IncidentChange),
  evidence: Type.Array(IncidentEvidence),
});
export const IncidentResponse = Type.Object({ incident: IncidentTicket });
export const IncidentCommentResponse = Type.Object({ comment: IncidentComment });

export const AssignBody = Type.Object({
  assignee: Type.Union([Assignee, Type.Null()], { description: 'A username, or null (an empty string is read as null) to unassign' }),
});
export const CommentBody = Type.Object({ text: Type.String({ minLength: 1, maxLength: MAX_COMMENT_LENGTH }) });
export const StatusBody = Type.Object({
  status: IncidentStatus,
  note: Type.Optional(Type.String({ maxLength: MAX_NOTE_LENGTH, description: 'Needed to resolve, to close unresolved and to reopen' })),
});
