/**
 * A guardian as the fleet page shows it: its claim and attestation (GET /fleet) joined with what
 * the registry saw of its connection (GET /devices), and the words and tones for each status.
 * Pure functions of the data and the current time, so the page and its summary agree.
 */
import type { ClaimState, FleetDevice, RegistryDevice } from '../../app/api-types.ts';
import type { Tone } from '../../app/components/badges.tsx';
import { formatAgo } from '../../app/format.ts';

/** Operational certificates live 24 h and are renewed well before; under 2 h left means renewal is failing. */
export const CERTIFICATE_WARN_MS = 2 * 3_600_000;

export interface Guardian extends FleetDevice {
  /** The registry's view of the connection; absent when the guardian never connected. */
  registry: RegistryDevice | undefined;
}

export function joinGuardians(fleet: readonly FleetDevice[], registry: readonly RegistryDevice[]): Guardian[] {
  const byId = new Map(registry.map((d) => [d.id, d]));
  return fleet.map((d) => ({ ...d, registry: byId.get(d.deviceId) }));
}

/** `3f9a1c…` — device ids are 64 hex characters; the first twelve tell guardians apart in practice. */
export function shortId(deviceId: string): string {
  return deviceId.length > 12 ? `${deviceId.slice(0, 12)}…` : deviceId;
}

/**
 * "3 min ago" for something that has happened: the page's clock ticks every 10 s, so a time the
 * server stamped since the last tick would otherwise read "in 4 s".
 */
export function formatPast(ms: number, now: number): string {
  return formatAgo(ms, Math.max(now, ms));
}

export const CLAIM_TONE: Record<ClaimState, Tone> = { claimed: 'ok', quarantined: 'warn', revoked: 'bad' };

export interface Status {
  tone: Tone;
  label: string;
}

export function attestationStatus(d: FleetDevice): Status {
  const a = d.lastAttestation;
  if (!a) return { tone: 'idle', label: 'never attested' };
  return a.result === 'pass' ? { tone: 'ok', label: 'passed' } : { tone: 'bad', label: 'failed' };
}

export function connectionStatus(d: Guardian): Status {
  if (!d.registry) return { tone: 'idle', label: 'never connected' };
  return d.registry.online ? { tone: 'ok', label: 'online' } : { tone: 'bad', label: 'offline' };
}

export function certificateStatus(notAfter: number | undefined, now: number): Status {
  if (notAfter === undefined) return { tone: 'idle', label: 'no certificate' };
  const left = notAfter - now;
  if (left <= 0) return { tone: 'bad', label: `expired ${formatAgo(notAfter, now)}` };
  return { tone: left < CERTIFICATE_WARN_MS ? 'warn' : 'ok', label: formatAgo(notAfter, now) };
}

export interface FleetSummary {
  total: number;
  online: number;
  attestationPassing: number;
  quarantined: number;
  revoked: number;
  /** Unrevoked guardians whose certificate runs out within CERTIFICATE_WARN_MS (or already has). */
  certificatesExpiring: number;
  certificatesExpired: number;
}

export function summarise(guardians: readonly Guardian[], now: number): FleetSummary {
  const s: FleetSummary = { total: guardians.length, online: 0, attestationPassing: 0, quarantined: 0, revoked: 0, certificatesExpiring: 0, certificatesExpired: 0 };
  for (const g of guardians) {
    if (g.registry?.online) s.online++;
    if (g.lastAttestation?.result === 'pass') s.attestationPassing++;
    if (g.state === 'quarantined') s.quarantined++;
    if (g.state === 'revoked') s.revoked++;
    if (g.state !== 'revoked' && g.certificateNotAfter !== undefined && g.certificateNotAfter - now < CERTIFICATE_WARN_MS) {
      s.certificatesExpiring++;
      if (g.certificateNotAfter <= now) s.certificatesExpired++;
    }
  }
  return s;
}
