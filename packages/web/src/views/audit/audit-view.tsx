/**
 * Audit and incidents: whether the audit chain is intact (verified against its key and the
 * anchors kept outside the database), the trail itself, and the incidents the server raised.
 * Every signed-in role may read all three (audit-routes.ts has no role check).
 */
import { PageHeader } from '../../app/components/page.tsx';
import { AuditTrail } from './audit-trail.tsx';
import { ChainVerification } from './chain-verification.tsx';
import { IncidentsTable } from './incidents-table.tsx';

export default function AuditView() {
  return (
    <>
      <PageHeader title="Audit and incidents" subtitle="Who did what, checked against tampering; and what the server raised as security-relevant." />
      <ChainVerification />
      <AuditTrail />
      <IncidentsTable />
    </>
  );
}
