import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { PostgresCopyAuditStore } from '../../src/audit/stores/postgres-copy.ts';
import { createTestDatabase, databaseConfig, type TestDatabase } from '../integration/postgres/pg-test-db.ts';
import { auditStoreContract } from './audit-store.contract.ts';

// One database for the file; each test starts from an empty table.
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

function maker(encryptionKey?: string) {
  return async () => {
    await db.sql('TRUNCATE audit_events');
    const dir = await mkdtemp(join(tmpdir(), 'audit-pg-contract-'));
    return {
      store: new PostgresCopyAuditStore({
        database: databaseConfig(db.url),
        deadLetterDir: dir,
        ...(encryptionKey ? { encryptionKey } : {}),
      }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  };
}

auditStoreContract('PostgresCopyAuditStore', maker());
// The same contract with action_params and metadata sealed by AES-256-GCM.
auditStoreContract(
  'PostgresCopyAuditStore (encrypted)',
  maker(`k2:${'ab'.repeat(32)},k1:${'cd'.repeat(32)}`),
);
