/**
 * Procedure versions and their approval. A version is used only after someone other than its
 * author approved it (two-person rule); every new version starts unapproved. Every submission
 * and approval is in the audit log.
 */
import type { AuditRecorder } from '../audit/audit-log.ts';
import { ProcedureError } from './procedure-error.ts';
import type { ProcedureVersion } from './procedure-model.ts';
import type { ProcedureStore } from './procedure-store.ts';
import { parseProcedureTemplate } from './procedure-template.ts';
import { requireActorRole, type ProcedureActor } from './procedure-actor.ts';

const AUTHOR_ROLES = ['admin', 'engineer', 'manager'] as const;

export interface ProcedureLibraryOptions {
  store: ProcedureStore;
  audit: AuditRecorder;
  now: () => number;
}

export class ProcedureLibrary {
  constructor(private readonly opts: ProcedureLibraryOptions) {}

  /** Validates the YAML and stores it as the next version of its procedure id (unapproved). */
  async submit(yaml: string, actor: ProcedureActor): Promise<ProcedureVersion> {
    requireActorRole(actor, AUTHOR_ROLES, 'submit a procedure');
    if (yaml.length > 256 * 1024) throw new ProcedureError('procedure_invalid', 'a procedure must be at most 256 KiB of YAML');
    const template = parseProcedureTemplate(yaml, 'procedure');
    const v = await this.opts.store.addVersion({
      procedureId: template.id, template, source: yaml, author: actor.name, createdAt: this.opts.now(),
    });
    await this.opts.audit.record({
      actor: actor.id, action: 'procedure.submit', target: `procedure:${v.procedureId}@${v.version}`,
      detail: { procedureId: v.procedureId, version: v.version, title: template.title, steps: template.steps.length },
    });
    return v;
  }

  async approve(procedureId: string, version: number, actor: ProcedureActor): Promise<ProcedureVersion> {
    requireActorRole(actor, AUTHOR_ROLES, 'approve a procedure');
    const v = await this.get(procedureId, version);
    if (v.approvedBy !== null) throw new ProcedureError('procedure_already_approved', `${procedureId} version ${version} was approved by ${v.approvedBy}`);
    if (v.author === actor.name) {
      throw new ProcedureError('approval_by_author', `${actor.name} wrote ${procedureId} version ${version}: someone else must approve it (two-person rule)`);
    }
    const at = this.opts.now();
    await this.opts.store.approveVersion(procedureId, version, actor.name, at);
    await this.opts.audit.record({
      actor: actor.id, action: 'procedure.approve', target: `procedure:${procedureId}@${version}`,
      detail: { procedureId, version, author: v.author },
    });
    return { ...v, approvedBy: actor.name, approvedAt: at };
  }

  async get(procedureId: string, version: number): Promise<ProcedureVersion> {
    const v = await this.opts.store.getVersion(procedureId, version);
    if (!v) throw new ProcedureError('procedure_not_found', `no procedure ${procedureId} version ${version}`, { procedureId, version });
    return v;
  }

  /** An approved version, for a work order. */
  async approved(procedureId: string, version: number): Promise<ProcedureVersion> {
    const v = await this.get(procedureId, version);
    if (v.approvedBy === null) {
      throw new ProcedureError('procedure_not_approved', `${procedureId} version ${version} is not approved yet: someone other than ${v.author} must approve it`);
    }
    return v;
  }

  list(procedureId?: string): Promise<ProcedureVersion[]> {
    return this.opts.store.versions(procedureId);
  }
}
