/**
 * The fleet's tables, for both engines (issue 12). Domain `fleet` in schema_versions; version 1 is
 * the SQLite DDL servers have run since the first release, verbatim, so existing files keep working.
 */
import type { SqlMigration } from '../db/sql-migrations.ts';

export const FLEET_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    description: 'claims, groups, releases, attestations, certificates, reports',
    sqlite: `
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
      `,
    postgres: `
        CREATE TABLE fleet_groups (
          id TEXT PRIMARY KEY,
          site TEXT NOT NULL,
          min_secure_version TEXT NOT NULL,
          updated_by TEXT NOT NULL,
          updated_at BIGINT NOT NULL
        );
        CREATE TABLE fleet_claims (
          device_id TEXT PRIMARY KEY,
          site TEXT NOT NULL,
          group_id TEXT NOT NULL REFERENCES fleet_groups (id),
          state TEXT NOT NULL CHECK (state IN ('claimed', 'quarantined', 'revoked')),
          reason TEXT,
          claimed_by TEXT NOT NULL,
          claimed_at BIGINT NOT NULL,
          changed_by TEXT NOT NULL,
          changed_at BIGINT NOT NULL
        );
        CREATE TABLE fleet_releases (
          group_id TEXT NOT NULL REFERENCES fleet_groups (id),
          swname TEXT NOT NULL,
          swversion TEXT NOT NULL,
          components TEXT NOT NULL,
          registered_by TEXT NOT NULL,
          registered_at BIGINT NOT NULL,
          PRIMARY KEY (group_id, swversion)
        );
        CREATE TABLE fleet_attestations (
          id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          device_id TEXT NOT NULL,
          at BIGINT NOT NULL,
          result TEXT NOT NULL CHECK (result IN ('pass', 'fail')),
          reason TEXT,
          authentic INTEGER NOT NULL,
          swversion TEXT,
          measurements TEXT,
          cert_serial TEXT,
          cert_not_after BIGINT
        );
        CREATE INDEX fleet_attestations_by_device ON fleet_attestations (device_id, authentic, id);
        CREATE TABLE fleet_certificates (
          serial TEXT PRIMARY KEY,
          device_id TEXT NOT NULL,
          issued_at BIGINT NOT NULL,
          not_after BIGINT NOT NULL,
          revoked_at BIGINT
        );
        CREATE INDEX fleet_certificates_by_device ON fleet_certificates (device_id, not_after);
        CREATE TABLE fleet_reports (
          id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          device_id TEXT NOT NULL,
          received_at BIGINT NOT NULL,
          at BIGINT NOT NULL,
          kind TEXT NOT NULL,
          message TEXT NOT NULL,
          detail TEXT NOT NULL
        );
        CREATE INDEX fleet_reports_by_device ON fleet_reports (device_id, id);
      `,
  },
  {
    version: 2,
    description: 'challenge nonces in the database, shared by every replica (they were in memory)',
    sqlite: `
        CREATE TABLE fleet_nonces (
          id INTEGER PRIMARY KEY,
          nonce TEXT NOT NULL UNIQUE,
          device_id TEXT NOT NULL,
          expires_at INTEGER NOT NULL,
          used_at INTEGER
        );
        CREATE INDEX fleet_nonces_by_device ON fleet_nonces (device_id, id);
        CREATE INDEX fleet_nonces_by_expiry ON fleet_nonces (expires_at);
      `,
    postgres: `
        CREATE TABLE fleet_nonces (
          id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          nonce TEXT NOT NULL UNIQUE,
          device_id TEXT NOT NULL,
          expires_at BIGINT NOT NULL,
          used_at BIGINT
        );
        CREATE INDEX fleet_nonces_by_device ON fleet_nonces (device_id, id);
        CREATE INDEX fleet_nonces_by_expiry ON fleet_nonces (expires_at);
      `,
  },
  {
    version: 3,
    description: "a revision of each group's releases, so every replica can tell when its cached reference values are stale",
    sqlite: 'ALTER TABLE fleet_groups ADD COLUMN release_revision INTEGER NOT NULL DEFAULT 0',
    postgres: 'ALTER TABLE fleet_groups ADD COLUMN release_revision BIGINT NOT NULL DEFAULT 0',
  },
];
