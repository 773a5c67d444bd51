/** The fleet's tables in the server's SQLite file (ARCHITECTURE.md §5). */
import type { Migration } from '../db/migrations.ts';

export const FLEET_MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'claims, groups, releases, attestations, certificates, reports',
    up(db) {
      db.exec(`
        CREATE TABLE fleet_groups (
          id TEXT PRIMARY KEY,
          site TEXT NOT NULL,
          min_secure_version TEXT NOT NULL,
          updated_by TEXT NOT NULL,
          updated_at INTEGER NOT NULL
        );
        CREATE TABLE fleet_claims (
          device_id TEXT PRIMARY KEY,
          site TEXT NOT NULL,
          group_id TEXT NOT NULL REFERENCES fleet_groups (id),
          state TEXT NOT NULL CHECK (state IN ('claimed', 'quarantined', 'revoked')),
          reason TEXT,
          claimed_by TEXT NOT NULL,
          claimed_at INTEGER NOT NULL,
          changed_by TEXT NOT NULL,
          changed_at INTEGER NOT NULL
        );
        CREATE TABLE fleet_releases (
          group_id TEXT NOT NULL REFERENCES fleet_groups (id),
          swname TEXT NOT NULL,
          swversion TEXT NOT NULL,
          components TEXT NOT NULL,
          registered_by TEXT NOT NULL,
          registered_at INTEGER NOT NULL,
          PRIMARY KEY (group_id, swversion)
        );
        CREATE TABLE fleet_attestations (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          device_id TEXT NOT NULL,
          at INTEGER NOT NULL,
          result TEXT NOT NULL CHECK (result IN ('pass', 'fail')),
          reason TEXT,
          authentic INTEGER NOT NULL,
          swversion TEXT,
          measurements TEXT,
          cert_serial TEXT,
          cert_not_after INTEGER
        );
        CREATE INDEX fleet_attestations_by_device ON fleet_attestations (device_id, authentic, id);
        CREATE TABLE fleet_certificates (
          serial TEXT PRIMARY KEY,
          device_id TEXT NOT NULL,
          issued_at INTEGER NOT NULL,
          not_after INTEGER NOT NULL,
          revoked_at INTEGER
        );
        CREATE INDEX fleet_certificates_by_device ON fleet_certificates (device_id, not_after);
        CREATE TABLE fleet_reports (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          device_id TEXT NOT NULL,
          received_at INTEGER NOT NULL,
          at INTEGER NOT NULL,
          kind TEXT NOT NULL,
          message TEXT NOT NULL,
          detail TEXT NOT NULL
        );
        CREATE INDEX fleet_reports_by_device ON fleet_reports (device_id, id);
      `);
    },
  },
];
