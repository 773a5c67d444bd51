/**
 * Revoking a guardian (POST /fleet/:deviceId/revoke). It is final on the server: the device's
 * certificates are revoked (and listed in the CRL), the broker refuses and disconnects it, and the
 * same device id can never attest or be claimed again (fleet-service `revoke`, `validateClaim`).
 * The dialog says so before asking for the reason that goes into the audit log.
 */
import { useState } from 'react';
import { api, messageOf } from '../../app/api-client.ts';
import { ActionDialog } from '../../app/components/dialog.tsx';
import type { Guardian } from './guardian-status.ts';

/** The claim as the revoke route answers it (fleet-schemas.ts ClaimRecord). */
export interface RevokedClaim {
  deviceId: string;
  site: string;
  group: string;
  state: 'claimed' | 'quarantined' | 'revoked';
  reason?: string;
  changedBy: string;
  changedAt: number;
}

export function RevokeDialog({ guardian, onRevoked, onCancel }: {
  guardian: Guardian | null;
  onRevoked(claim: RevokedClaim): void;
  onCancel(): void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const cancel = () => {
    setError(null);
    onCancel();
  };

  const revoke = async (reason: string) => {
    if (!guardian) return;
    setBusy(true);
    setError(null);
    try {
      const { claim } = await api.post<{ claim: RevokedClaim }>(`/fleet/${encodeURIComponent(guardian.deviceId)}/revoke`, { reason });
      onRevoked(claim);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <ActionDialog
      open={guardian !== null}
      title="Revoke this guardian?"
      confirmLabel="Revoke guardian"
      danger
      busy={busy}
      error={error}
      comment={{ label: 'Why (kept in the audit log)', required: true }}
      onConfirm={(reason) => void revoke(reason)}
      onCancel={cancel}
    >
      {guardian ? (
        <>
          <p>
            Guardian <code className="fleet-id-full">{guardian.deviceId}</code> of site <strong>{guardian.site}</strong>,
            group <strong>{guardian.group}</strong>.
          </p>
          <p>Revoking is final:</p>
          <ul>
            <li>its certificates are revoked and published in the revocation list;</li>
            <li>the broker disconnects it now and refuses it from then on, so its telemetry stops;</li>
            <li>it cannot attest again, and this device id can never be claimed again — to bring the box back, give it a new identity and claim the new id.</li>
          </ul>
        </>
      ) : null}
    </ActionDialog>
  );
}
