/**
 * A modal dialog on the native <dialog> element (focus is trapped and Escape closes it), for
 * confirmations and actions that need a comment. The confirm button stays disabled until the
 * comment is given when one is required.
 */
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';

export interface ActionDialogProps {
  open: boolean;
  title: string;
  children?: ReactNode;
  confirmLabel: string;
  /** Ask for a comment; `required` blocks confirming without one. */
  comment?: { label: string; required: boolean };
  /** Extra fields (e.g. a shelve duration), rendered above the comment. */
  fields?: ReactNode;
  danger?: boolean;
  busy?: boolean;
  error?: string | null;
  onConfirm(comment: string): void;
  onCancel(): void;
}

export function ActionDialog(props: ActionDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const [comment, setComment] = useState('');
  const commentId = useId();
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) {
      setComment('');
      d.showModal();
    } else if (!props.open && d.open) d.close();
  }, [props.open]);
  const blocked = props.busy === true || (props.comment?.required === true && comment.trim() === '');
  return (
    <dialog ref={ref} className="dialog" aria-labelledby={titleId} onCancel={(e) => { e.preventDefault(); props.onCancel(); }} data-testid="action-dialog">
      <form method="dialog" onSubmit={(e) => { e.preventDefault(); if (!blocked) props.onConfirm(comment.trim()); }}>
        <h2 id={titleId}>{props.title}</h2>
        {props.children}
        {props.fields}
        {props.comment ? (
          <label htmlFor={commentId} className="field">
            <span>{props.comment.label}{props.comment.required ? ' (required)' : ''}</span>
            <textarea id={commentId} value={comment} onChange={(e) => setComment(e.target.value)} rows={3} maxLength={500} required={props.comment.required} />
          </label>
        ) : null}
        {props.error ? <p className="form-error" role="alert">{props.error}</p> : null}
        <div className="dialog-actions">
          <button type="button" onClick={props.onCancel}>Cancel</button>
          <button type="submit" className={props.danger ? 'danger' : 'primary'} disabled={blocked}>{props.busy ? 'Working…' : props.confirmLabel}</button>
        </div>
      </form>
    </dialog>
  );
}
