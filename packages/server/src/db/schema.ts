/**
 * Every domain's migrations, in one place for both engines (issue 12). The server runs them once at
 * start, before any store is built; contract suites run them on each test database.
 * Order matters only where one domain's tables reference another's.
 */
import type { SqlDatabase } from './sql-database.ts';
import { runSqlMigrations, type SqlMigration } from './sql-migrations.ts';
import { FLEET_MIGRATIONS } from '../fleet/fleet-schema.ts';
import { AUDIT_MIGRATIONS } from '../audit/audit-schema.ts';
import { INCIDENT_MIGRATIONS } from '../incidents/incident-schema.ts';
import { OUTBOX_MIGRATIONS } from '../notifications/outbox-schema.ts';
import { REGISTRY_MIGRATIONS } from '../registry/registry-schema.ts';
import { TELEMETRY_MIGRATIONS } from '../telemetry/layout.ts';
import { ALARM_MIGRATIONS } from '../alarms/alarm-schema.ts';
import { MAINTENANCE_MIGRATIONS } from '../analytics/maintenance/maintenance-schema.ts';
import { API_TOKEN_MIGRATIONS, SESSION_MIGRATIONS, USER_MIGRATIONS } from '../auth/auth-schema.ts';
import { PROCEDURE_MIGRATIONS } from '../procedures/procedure-schema.ts';
import { IMAGE_REPOSITORY_MIGRATIONS } from '../updates/image-repository-schema.ts';
import { DIRECTOR_MIGRATIONS } from '../updates/director/director-schema.ts';
import { DEPLOYMENT_MIGRATIONS } from '../updates/rollout/deployment-schema.ts';
import { REPLICA_MIGRATIONS } from '../replicas/replica-schema.ts';
import { CENTRAL_MIGRATIONS } from '../federation/central-schema.ts';

/** [domain, migrations]: the domain name is the key in `schema_versions` (keep today's names). */
export const SERVER_MIGRATIONS: readonly (readonly [string, readonly SqlMigration[]])[] = [
  ['fleet', FLEET_MIGRATIONS],
  ['audit', AUDIT_MIGRATIONS],
  ['incidents', INCIDENT_MIGRATIONS],
  ['notifications', OUTBOX_MIGRATIONS],
  ['registry', REGISTRY_MIGRATIONS],
  ['telemetry', TELEMETRY_MIGRATIONS],
  ['alarms', ALARM_MIGRATIONS],
  ['maintenance', MAINTENANCE_MIGRATIONS],
  ['users', USER_MIGRATIONS],
  ['sessions', SESSION_MIGRATIONS],
  ['auth', API_TOKEN_MIGRATIONS],
  ['procedures', PROCEDURE_MIGRATIONS],
  ['image-repository', IMAGE_REPOSITORY_MIGRATIONS],
  ['director', DIRECTOR_MIGRATIONS],
  ['deployments', DEPLOYMENT_MIGRATIONS],
  ['replicas', REPLICA_MIGRATIONS],
  ['central', CENTRAL_MIGRATIONS],
];

/** Brings every domain's tables up to date; returns the version each reached. */
export async function migrateServerDatabase(database: Pick<SqlDatabase, 'db' | 'engine'>): Promise<Record<string, number>> {
  const reached: Record<string, number> = {};
  for (const [domain, migrations] of SERVER_MIGRATIONS) reached[domain] = await runSqlMigrations(database, domain, migrations);
  return reached;
}
