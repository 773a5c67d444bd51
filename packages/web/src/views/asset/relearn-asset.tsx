/**
 * After a repair, a replaced sensor or a changed duty: declare the asset's behaviour normal from
 * now, so that its asset model and its points' baselines learn again (POST /asset-models/relearn;
 * admin or engineer, audited). Without it the models keep calling the new, healthy state a
 * deviation and the next fault is not recommended.
 */
import { useState } from 'react';
import { api, messageOf } from '../../app/api-client.ts';
import { useRole } from '../../app/auth.tsx';
import { ActionDialog } from '../../app/components/dialog.tsx';
import { can, rolesThatCan } from '../../app/permissions.ts';

interface Relearned { site: string; asset: string; points: number; assetModel: boolean }

export function RelearnAsset({ site, asset }: { site: string; asset: string }) {
  const role = useRole();
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<Relearned | null>(null);
  if (!can(role, 'asset.relearn')) {
    return <p className="muted" data-testid="relearn-not-allowed">After a repair, {rolesThatCan('asset.relearn')} can declare this asset&apos;s behaviour normal again.</p>;
  }
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      setDone(await api.post<Relearned>('/asset-models/relearn', { site, asset }));
      setOpen(false);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="toolbar" data-testid="relearn">
      {done ? (
        <p className="banner ok" role="status" data-testid="relearn-done">
          {done.asset} is normal from now: {done.points} point{done.points === 1 ? '' : 's'} learn their baselines again
          {done.assetModel ? ', and its asset model learns its normal state again' : ''}. Recommendations resume once they have.
        </p>
      ) : null}
      <button type="button" onClick={() => { setError(null); setOpen(true); }} data-testid="relearn-open">Declare normal from now…</button>
      <ActionDialog
        open={open} title={`Declare ${asset} normal from now`} confirmLabel="Declare normal" busy={busy} error={error}
        onConfirm={() => void confirm()} onCancel={() => { setOpen(false); setError(null); }}
      >
        <p>
          Use this after a repair, a replaced sensor or a changed duty, once <strong>{site} / {asset}</strong> runs as it should.
          Its asset model and every point&apos;s baseline and detector forget what they learned and learn again from the next
          readings (a week for the asset model at minute means); until then it is not recommended for maintenance. The action is
          recorded in the audit trail under your name.
        </p>
      </ActionDialog>
    </div>
  );
}
