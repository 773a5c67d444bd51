/** Request and response schemas of the DMOP routes (procedures, work orders, panels, site stops). */
import { Type } from '@sinclair/typebox';

const Id = Type.Integer({ minimum: 1 });
const Name = Type.String({ minLength: 1, maxLength: 128 });
const Reason = Type.String({ minLength: 3, maxLength: 1000, description: 'Why: kept in the audit log and the step log' });
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);

/** The validated template (steps, roles, conditions); its full shape is ProcedureTemplate in the server. */
const Template = Type.Unknown({ description: 'The validated procedure template: id, title, panels, assets, steps' });

export const ProcedureVersionSchema = Type.Object({
  procedureId: Type.String(), version: Type.Integer(), template: Template, source: Type.String(),
  author: Type.String(), createdAt: Type.Number(), approvedBy: NullableString, approvedAt: NullableNumber,
});
export const ProcedureListResponse = Type.Object({ procedures: Type.Array(ProcedureVersionSchema) });
export const ProcedureResponse = Type.Object({ procedure: ProcedureVersionSchema });
export const ProcedureSubmitBody = Type.Object({
  source: Type.String({ minLength: 1, maxLength: 262_144, description: 'The procedure template in YAML' }),
}, { additionalProperties: false });
export const ProcedureParams = Type.Object({ procedureId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }), version: Id });
export const ProcedureQuery = Type.Object({ procedureId: Type.Optional(Type.String({ maxLength: 64 })) });

const WorkOrderStatus = Type.Union([
  Type.Literal('draft'), Type.Literal('approved'), Type.Literal('released'), Type.Literal('in-progress'), Type.Literal('completed'), Type.Literal('aborted'),
]);
export const WorkOrderSchema = Type.Object({
  id: Type.Integer(), site: Type.String(), procedureId: Type.String(), version: Type.Integer(), title: Type.String(),
  bindings: Type.Record(Type.String(), Type.String()), windowStart: Type.Number(), windowEnd: Type.Number(),
  assignees: Type.Array(Type.String()), createdBy: Type.String(), createdAt: Type.Number(), approvedBy: NullableString,
  releasedBy: NullableString, releasedAt: NullableNumber, status: WorkOrderStatus, currentStep: Type.Integer(),
  stepSince: NullableNumber, operatedAt: NullableNumber,
  hold: Type.Union([Type.Object({ kind: Type.Literal('deviation'), deviationId: Type.Integer(), since: Type.Number() }), Type.Null()]),
  baseline: Type.Record(Type.String(), Type.Boolean()), updatedAt: Type.Number(), endedAt: NullableNumber, endReason: NullableString,
});
export const WorkOrderResponse = Type.Object({ workOrder: WorkOrderSchema });
export const WorkOrderListResponse = Type.Object({ workOrders: Type.Array(WorkOrderSchema) });
export const WorkOrderQuery = Type.Object({
  site: Type.Optional(Name), status: Type.Optional(WorkOrderStatus), active: Type.Optional(Type.Boolean()),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
});
export const WorkOrderParams = Type.Object({ id: Id });
export const StepParams = Type.Object({ id: Id, step: Id });
export const WorkOrderCreateBody = Type.Object({
  site: Name,
  procedureId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  version: Id,
  bindings: Type.Record(Type.String({ maxLength: 64 }), Type.String({ minLength: 1, maxLength: 64 }), { description: 'Template role → asset id, e.g. {"source": "PANEL-3"}' }),
  windowStart: Type.Number({ description: 'epoch ms' }),
  windowEnd: Type.Number({ description: 'epoch ms' }),
  assignees: Type.Array(Name, { minItems: 1, maxItems: 20 }),
  title: Type.Optional(Type.String({ maxLength: 200 })),
}, { additionalProperties: false });
export const ReasonBody = Type.Object({ reason: Reason }, { additionalProperties: false });
export const NoteBody = Type.Object({ note: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false });

const DeviationSchema = Type.Object({
  id: Type.Integer(), workOrderId: Type.Integer(), site: Type.String(), panel: Type.String(), step: Type.Integer(),
  kind: Type.String(), expected: Type.String(), observed: Type.String(), at: Type.Number(), incidentId: NullableNumber,
  acknowledgedBy: NullableString, acknowledgedAt: NullableNumber, reason: NullableString,
});
export const DeviationResponse = Type.Object({ deviation: DeviationSchema });
const StepEventSchema = Type.Object({
  workOrderId: Type.Integer(), seq: Type.Integer(), at: Type.Number(), kind: Type.String(), step: Type.Union([Type.Integer(), Type.Null()]),
  actor: Type.String(), detail: Type.Record(Type.String(), Type.Unknown()),
});
export const WorkOrderDetailResponse = Type.Object({
  workOrder: WorkOrderSchema, template: Template, paused: Type.Boolean(),
  stopped: Type.Union([Type.Object({ site: Type.String(), by: Type.String(), at: Type.Number(), reason: Type.String() }), Type.Null()]),
  expected: NullableString, steps: Type.Array(StepEventSchema), deviations: Type.Array(DeviationSchema),
  readings: Type.Array(Type.Object({ role: Type.String(), asset: Type.String(), point: Type.String(), value: Type.Union([Type.Number(), Type.Boolean(), Type.Null()]) })),
});

export const PanelAlertSchema = Type.Object({
  id: Type.Integer(), site: Type.String(), panel: Type.String(), kind: Type.String(), point: Type.String(), at: Type.Number(),
  incidentId: NullableNumber, silencedBy: NullableString, silencedAt: NullableNumber, reason: NullableString,
});
export const PanelAlertResponse = Type.Object({ alert: PanelAlertSchema });
export const PanelAlertListResponse = Type.Object({ alerts: Type.Array(PanelAlertSchema) });
export const AlertParams = Type.Object({ id: Id });
export const SiteQuery = Type.Object({ site: Type.Optional(Name) });
export const SiteParams = Type.Object({ site: Name });

export const PanelBoardResponse = Type.Object({
  panels: Type.Array(Type.Object({
    site: Type.String(), panel: Type.String(),
    signal: Type.Object({
      state: Type.String(), covered: Type.Boolean(), workOrderId: Type.Optional(Type.Integer()),
      step: Type.Optional(Type.Object({ index: Type.Integer(), count: Type.Integer(), title: Type.String() })), reason: Type.Optional(Type.String()),
    }),
    door: Type.Union([Type.Boolean(), Type.Null()]),
    breakers: Type.Record(Type.String(), Type.Boolean()),
    alert: Type.Union([PanelAlertSchema, Type.Null()]),
    workOrder: Type.Union([Type.Object({ id: Type.Integer(), title: Type.String(), status: Type.String(), assignees: Type.Array(Type.String()) }), Type.Null()]),
  })),
  stops: Type.Array(Type.Object({ site: Type.String(), by: Type.String(), at: Type.Number(), reason: Type.String() })),
});
export const SiteStopResponse = Type.Object({ stop: Type.Object({ site: Type.String(), by: Type.String(), at: Type.Number(), reason: Type.String() }) });
export const OkResponse = Type.Object({ ok: Type.Boolean() });
