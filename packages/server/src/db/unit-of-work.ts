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

/**
 * What a store bound to a unit of work may ask for besides the transaction: something to do once
 * it has committed (wake a dispatcher for a notice written in it), never if it rolls back.
 */
export interface TransactionHooks {
  afterCommit(effect: () => void): void;
}

/** A unit of work over a {@link SqlDatabase}: `bind` builds the stores on the transaction's executor. */
export function sqlUnitOfWork<Stores>(
  database: Pick<SqlDatabase, 'db'>, bind: (tx: SqlExecutor, hooks: TransactionHooks) => Stores,
): UnitOfWork<Stores> {
  return {
    async run(work) {
      const effects: (() => void)[] = [];
      const hooks: TransactionHooks = { afterCommit: (effect) => { effects.push(effect); } };
      const result = await inTransaction(database.db, (tx) => work(bind(tx, hooks)));
      // Only a transaction of our own has committed here; one we joined commits with its owner,
      // whose hooks these are not: then the effects run when the caller's unit of work ends.
      for (const effect of effects) effect();
      return result;
    },
  };
}
