/**
 * Who acts on procedures and work orders: the API's principal, reduced to what the domain checks.
 * The roles are domain rules (who may approve, release, confirm, silence), so the domain checks
 * them itself; the API only authenticates.
 */
import type { Role } from '../auth/roles.ts';
import { ProcedureError } from './procedure-error.ts';

export interface ProcedureActor {
  /** Audit actor, e.g. `user:alice` or `token:3`. */
  id: string;
  /** The person's name (username), compared for the two-person rule and assignments. */
  name: string;
  role: Role;
}

export function requireActorRole(actor: ProcedureActor, roles: readonly Role[], what: string): void {
  if (!roles.includes(actor.role)) {
    throw new ProcedureError('role_required', `to ${what} needs the role ${roles.join(' or ')}; ${actor.name} has the role ${actor.role}`);
  }
}

export function requireReason(reason: string | undefined, what: string): string {
  const r = (reason ?? '').trim();
  if (r.length < 3) throw new ProcedureError('reason_required', `${what} needs a reason (at least 3 characters)`);
  if (r.length > 1000) throw new ProcedureError('reason_required', `the reason for ${what} must be at most 1000 characters`);
  return r;
}
