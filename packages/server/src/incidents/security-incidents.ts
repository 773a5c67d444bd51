/**
 * The DMOP security incidents as the procedures' panel supervisor raises them (its
 * `SecurityIncidents` port, procedures/panel-supervisor.ts, matched by shape): always announced,
 * since someone at a panel without a released work order is exactly what people must hear of at
 * once, and with the telemetry of the assets it names captured around the moment it happened.
 */
import type { IncidentRaiser, IncidentSeverity } from './incident-log.ts';

export interface SecurityIncidentRequest {
  kind: 'panel.intrusion' | 'procedure.deviation';
  severity: IncidentSeverity;
  site: string;
  /** The panel. */
  asset: string;
  reason: string;
  summary: string;
  assignee: string | undefined;
  detail: Record<string, unknown>;
  /** Assets whose telemetry around `at` is kept: the panel, and what feeds or is bound with it. */
  captureAssets: string[];
  at: number;
}

export interface SecurityIncidentOpener {
  /** The new incident's id. */
  open(input: SecurityIncidentRequest): Promise<number>;
}

export function securityIncidents(log: IncidentRaiser): SecurityIncidentOpener {
  return {
    async open(input) {
      const targets = [...new Set([input.asset, ...input.captureAssets])].map((asset) => (asset === input.asset ? { asset, role: 'panel' } : { asset }));
      const incident = await log.raise({
        kind: input.kind, severity: input.severity, site: input.site, asset: input.asset, reason: input.reason, summary: input.summary,
        ...(input.assignee !== undefined ? { assignee: input.assignee } : {}),
        detail: input.detail, notify: true, evidence: { at: input.at, targets },
      });
      return incident.id;
    },
  };
}
