/**
 * The transaction boundary as a port (issue 12): a domain service asks for a unit of work and
 * receives the stores it needs bound to one transaction, so a fleet change, its audit event and its
 * incident commit together or not at all — on SQLite and on PostgreSQL alike, without the domain
 * knowing which.
 */
import { inTransaction, type SqlDatabase, type SqlExecutor } from './sql-database.ts';

export interface UnitOfWork<Stores> {
  /** Runs `work` with `stores` bound to one transaction; commits when it resolves, rolls back when it throws. */
  run<T>(work: (stores: Stores) => Promise<T>): Promise<T>;
}

/** A unit of work over a {@link SqlDatabase}: `bind` builds the stores on the transaction's executor. */
export function sqlUnitOfWork<Stores>(database: Pick<SqlDatabase, 'db'>, bind: (tx: SqlExecutor) => Stores): UnitOfWork<Stores> {
  return { run: (work) => inTransaction(database.db, (tx) => work(bind(tx))) };
}
