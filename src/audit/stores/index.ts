/** Picks the audit store named by audit.storage_type. */
import path from 'node:path';
import type { Config } from '../../../config/schema.ts';
import { RuntimeError } from '../../errors.ts';
import { FileAuditStore } from './file.ts';
import { MemoryAuditStore } from './memory.ts';
import type { AuditStore } from './store.ts';

export function createAuditStore(config: Config): AuditStore {
  switch (config.audit.storage_type) {
    case 'memory':
      return new MemoryAuditStore({ maxEvents: config.audit.memory_max_events });
    case 'file':
      return new FileAuditStore({
        dir: path.resolve(config.audit.log_dir),
        maxFileSize: config.audit.max_file_size,
        maxFiles: config.audit.max_files,
      });
    case 'database':
      throw new RuntimeError('audit_unavailable', 'the database audit store is not available in this build');
  }
}
