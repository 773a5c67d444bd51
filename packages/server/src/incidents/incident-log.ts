/**
 * Incidents: things that went wrong and need a person (a failed attestation, a revoked device
 * still trying). Later issues add tickets and the DMOP security alerts on the same record.
 */
export interface IncidentInput {
  /** e.g. attestation_failed */
  kind: string;
  severity: 'low' | 'medium' | 'high' | 'critical';
  deviceId?: string;
  /** Stable reason code, e.g. measurements_mismatch */
  reason: string;
  summary: string;
  detail: Record<string, unknown>;
}

export interface Incident extends IncidentInput {
  id: number;
  openedAt: number;
  status: 'open' | 'acknowledged' | 'closed';
}

export interface IncidentLog {
  raise(incident: IncidentInput): Incident;
  list(options: { status?: Incident['status']; deviceId?: string; limit?: number }): Incident[];
}
