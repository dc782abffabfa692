import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileAuditStore } from '../../src/audit/stores/file.ts';
import { auditStoreContract } from './audit-store.contract.ts';

auditStoreContract('FileAuditStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'audit-file-contract-'));
  return {
    store: new FileAuditStore({ dir, maxFileSize: 100 * 1024 * 1024, maxFiles: 10 }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

// Small files, so the whole contract also holds while events are spread over rotated files.
auditStoreContract('FileAuditStore (rotating every few events)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'audit-file-contract-rot-'));
  return {
    store: new FileAuditStore({ dir, maxFileSize: 4 * 1024, maxFiles: 1000 }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
