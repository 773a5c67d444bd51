/**
 * A DMOP action that needs a reason (silence, stop, resume, acknowledge, abort): which one is
 * asked for, the request while it runs, and the server's own message when it refuses. The server
 * wants at least 3 characters (procedure-actor.ts requireReason); the dialog says so before asking.
 */
import { useCallback, useState } from 'react';
import { api, messageOf } from '../../app/api-client.ts';

export const MIN_REASON = 3;

export interface ReasonRequest {
  title: string;
  /** What the action does, for the dialog. */
  explanation: string;
  confirmLabel: string;
  reasonLabel: string;
  /** POST path under /api/v1. */
  path: string;
  danger?: boolean;
}

export interface ReasonAction {
  request: ReasonRequest | null;
  busy: boolean;
  error: string | null;
  ask(request: ReasonRequest): void;
  cancel(): void;
  confirm(reason: string): Promise<void>;
}

export function useReasonAction(onDone: () => void): ReasonAction {
  const [request, setRequest] = useState<ReasonRequest | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ask = useCallback((r: ReasonRequest) => { setError(null); setRequest(r); }, []);
  const cancel = useCallback(() => { setError(null); setRequest(null); }, []);
  const confirm = useCallback(async (reason: string) => {
    if (!request) return;
    if (reason.trim().length < MIN_REASON) {
      setError(`Give a reason of at least ${MIN_REASON} characters: it is kept in the audit log.`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.post(request.path, { reason: reason.trim() });
      setRequest(null);
      onDone();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }, [request, onDone]);
  return { request, busy, error, ask, cancel, confirm };
}
