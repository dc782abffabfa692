/** Picks the audit store named by audit.storage_type. */
import path from 'node:path';
import type { Config } from '../../../config/schema.ts';
import { FileAuditStore } from './file.ts';
import { MemoryAuditStore } from './memory.ts';
import { createPostgresStore } from './postgres-copy.ts';
import type { AuditStore } from './store.ts';

export function createAuditStore(config: Config, log?: (msg: string) => void): AuditStore {
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
      return createPostgresStore(config, log);
  }
}
