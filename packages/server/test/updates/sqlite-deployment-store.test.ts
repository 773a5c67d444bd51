import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { SqliteDeploymentStore } from '../../src/updates/rollout/sqlite-deployment-store.ts';
import { describeDeploymentStoreContract } from './deployment-store-contract.ts';

describeDeploymentStoreContract('SQLite', async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'sg-deploystore-')), 'db.sqlite');
  let db: SqliteDatabase = openDatabase(file);
  return {
    store: new SqliteDeploymentStore(db),
    async reopen() {
      db.close();
      db = openDatabase(file);
      return new SqliteDeploymentStore(db);
    },
  };
});
