/** A DMOP work order's status as shape, word and colour. */
import type { DmopWorkOrderStatus } from '../../app/api-types.ts';
import { StatusBadge, type Tone } from '../../app/components/badges.tsx';

const STATUS: Record<DmopWorkOrderStatus, { label: string; tone: Tone }> = {
  draft: { label: 'Draft: needs approval', tone: 'idle' },
  approved: { label: 'Approved: not released', tone: 'idle' },
  released: { label: 'Released', tone: 'ok' },
  'in-progress': { label: 'In progress', tone: 'warn' },
  completed: { label: 'Completed', tone: 'ok' },
  aborted: { label: 'Aborted', tone: 'bad' },
};

export function WorkOrderStatusBadge({ status, held = false }: { status: DmopWorkOrderStatus; held?: boolean }) {
  const s = STATUS[status] ?? { label: status, tone: 'idle' as const };
  return (
    <span data-testid="dmop-work-order-status" data-status={status} data-held={String(held)}>
      <StatusBadge tone={held ? 'bad' : s.tone} label={held ? `${s.label}, paused` : s.label} />
    </span>
  );
}

export function isActive(status: DmopWorkOrderStatus): boolean {
  return status === 'released' || status === 'in-progress';
}

export function isOpen(status: DmopWorkOrderStatus): boolean {
  return status !== 'completed' && status !== 'aborted';
}
