import { MemoryAuditStore } from '../../src/audit/stores/memory.ts';
import { auditStoreContract } from './audit-store.contract.ts';

auditStoreContract('MemoryAuditStore', async () => ({
  store: new MemoryAuditStore({ maxEvents: 10_000 }),
  cleanup: async () => {},
}));
