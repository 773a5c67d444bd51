import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { SqliteProcedureStore } from '../../src/procedures/sqlite-procedure-store.ts';
import { describeProcedureStoreContract } from './procedure-store-contract.ts';

describeProcedureStoreContract('SQLite', async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'sg-procstore-')), 'db.sqlite');
  let db: SqliteDatabase = openDatabase(file);
  return {
    store: new SqliteProcedureStore(db),
    async reopen() {
      db.close();
      db = openDatabase(file);
      return new SqliteProcedureStore(db);
    },
  };
});
