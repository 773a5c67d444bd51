/**
 * {@link NonceStore} in SQL (kysely; the same code on SQLite and PostgreSQL). Consuming is one
 * conditional UPDATE ... RETURNING: on PostgreSQL a second replica's UPDATE of the same row waits
 * for the first, re-checks `used_at IS NULL` and changes nothing, so a nonce is accepted once.
 * The row is marked used rather than deleted (DELETE ... RETURNING would be as atomic) so that a
 * replay is still told apart from a nonce never issued.
 */
import { inTransaction, type SqlExecutor } from '../db/sql-database.ts';
import type { IssuedNonce, NonceCheck, NonceStore } from './nonce-store.ts';
import { fleetDb, type FleetDb } from './sql-fleet-tables.ts';

export class SqlNonceStore implements NonceStore {
  private readonly db: FleetDb;

  constructor(exec: SqlExecutor) {
    this.db = fleetDb(exec);
  }

  issue(n: IssuedNonce, maxOutstanding: number): Promise<void> {
    return inTransaction(this.db, async (exec) => {
      const tx = fleetDb(exec);
      await tx.insertInto('fleet_nonces').values({ nonce: n.nonce, device_id: n.deviceId, expires_at: n.expiresAt, used_at: null }).execute();
      await tx.deleteFrom('fleet_nonces')
        .where('device_id', '=', n.deviceId)
        .where('used_at', 'is', null)
        .where('id', '<=', (eb) => eb.selectFrom('fleet_nonces').select('id').where('device_id', '=', n.deviceId).where('used_at', 'is', null)
          .orderBy('id', 'desc').limit(1).offset(Math.max(1, Math.trunc(maxOutstanding))))
        .execute();
    });
  }

  async consume(nonce: string, deviceId: string, now: number): Promise<NonceCheck> {
    const used = await this.db.updateTable('fleet_nonces').set({ used_at: now })
      .where('nonce', '=', nonce).where('device_id', '=', deviceId).where('used_at', 'is', null).where('expires_at', '>=', now)
      .returning('id')
      .executeTakeFirst();
    if (used) return 'ok';
    const row = await this.db.selectFrom('fleet_nonces').select(['device_id', 'used_at']).where('nonce', '=', nonce).executeTakeFirst();
    // A nonce issued to another device is as good as unknown to this one (RFC 9334 §10.2: the
    // nonce binds the challenge to the Attester it was sent to).
    if (!row || row.device_id !== deviceId) return 'nonce_unknown';
    return row.used_at !== null ? 'nonce_replayed' : 'nonce_expired';
  }

  async forgetExpiredBefore(cutoff: number): Promise<number> {
    const result = await this.db.deleteFrom('fleet_nonces').where('expires_at', '<', cutoff).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
