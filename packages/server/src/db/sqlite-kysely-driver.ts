/**
 * A kysely driver for the server's one better-sqlite3 connection. kysely's own SqliteDriver keeps a
 * private mutex; this one takes the {@link SqliteWriteLock} the telemetry store shares, so kysely
 * transactions and raw telemetry writes exclude each other. Statements are prepared once and cached.
 */
import {
  CompiledQuery, SelectQueryNode, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler,
  type DatabaseConnection, type DatabaseIntrospector, type Dialect, type DialectAdapter, type Driver, type Kysely, type QueryCompiler,
  type QueryResult,
} from 'kysely';
import type { SqliteDatabase } from './database.ts';
import type { SqliteWriteLock } from './sqlite-write-lock.ts';

type Statement = ReturnType<SqliteDatabase['prepare']>;

/** Prepared statements by SQL text; kysely compiles the same text for the same query shape. */
class StatementCache {
  private readonly statements = new Map<string, Statement>();
  constructor(private readonly db: SqliteDatabase, private readonly max = 500) {}

  get(sql: string): Statement {
    let stmt = this.statements.get(sql);
    if (stmt) {
      // Most recently used last, so the first key is the one to evict.
      this.statements.delete(sql);
    } else {
      stmt = this.db.prepare(sql);
      if (this.statements.size >= this.max) this.statements.delete(this.statements.keys().next().value as string);
    }
    this.statements.set(sql, stmt);
    return stmt;
  }
}

class LockedSqliteConnection implements DatabaseConnection {
  constructor(private readonly statements: StatementCache) {}

  executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const stmt = this.statements.get(compiled.sql);
    const parameters = compiled.parameters as unknown[];
    if (stmt.reader) return Promise.resolve({ rows: stmt.all(parameters) as R[] });
    const { changes, lastInsertRowid } = stmt.run(parameters);
    return Promise.resolve({ numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] });
  }

  async *streamQuery<R>(compiled: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (!SelectQueryNode.is(compiled.query)) throw new Error('the SQLite driver streams only SELECT queries');
    const stmt = this.statements.get(compiled.sql);
    for (const row of stmt.iterate(compiled.parameters as unknown[])) yield { rows: [row as R] };
  }
}

class LockedSqliteDriver implements Driver {
  private readonly connection: LockedSqliteConnection;
  private readonly releases: (() => void)[] = [];

  constructor(db: SqliteDatabase, private readonly lock: SqliteWriteLock) {
    this.connection = new LockedSqliteConnection(new StatementCache(db));
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    this.releases.push(await this.lock.acquire());
    return this.connection;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('BEGIN IMMEDIATE'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('COMMIT'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('ROLLBACK'));
  }

  async releaseConnection(): Promise<void> {
    // One connection, acquired FIFO: the oldest holder releases first.
    this.releases.shift()?.();
  }

  /** The handle is closed by its owner ({@link SqlDatabase.close}), not by kysely. */
  async destroy(): Promise<void> {}
}

/** A kysely dialect over an open better-sqlite3 handle, serialised by `lock`. */
export class LockedSqliteDialect implements Dialect {
  constructor(private readonly db: SqliteDatabase, private readonly lock: SqliteWriteLock) {}
  createDriver(): Driver {
    return new LockedSqliteDriver(this.db, this.lock);
  }
  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }
  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}
