/**
 * Disk gauges of the deployment guide, read on the main thread at scrape time from the file
 * system (no message to the audit thread, which owns the spool):
 *   runtime_audit_spool_bytes          bytes waiting in AUDIT_LOG_DIR/spool (database store)
 *   runtime_audit_dir_free_bytes       free space, for this user, on the audit directory's file system
 * Alert when free space nears audit.spool_max_bytes: a database outage fills the spool.
 */
import { readdir, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { Gauge, type Registry } from 'prom-client';

const SEGMENT = /^spool-\d{16}\.seg$/;

/** Sum of the spool segments' sizes; 0 when there is no spool. */
export async function spoolBytes(auditDir: string): Promise<number> {
  const dir = path.resolve(auditDir, 'spool');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let total = 0;
  for (const name of names.filter((n) => SEGMENT.test(n))) {
    // A segment replayed and removed between readdir and stat is simply gone.
    total += await stat(path.join(dir, name)).then((s) => s.size, () => 0);
  }
  return total;
}

/** Free bytes available to this process on the file system of `dir` (its nearest existing parent). */
export async function freeBytes(dir: string): Promise<number | undefined> {
  let at = path.resolve(dir);
  for (;;) {
    try {
      const fs = await statfs(at);
      return fs.bavail * fs.bsize;
    } catch {
      const parent = path.dirname(at);
      if (parent === at) return undefined;
      at = parent;
    }
  }
}

export function registerDiskMetrics(registry: Registry, auditDir: string): void {
  new Gauge({
    name: 'runtime_audit_spool_bytes',
    help: 'Bytes of audit batches waiting in the spool for PostgreSQL',
    registers: [registry],
    async collect() {
      this.set(await spoolBytes(auditDir));
    },
  });
  new Gauge({
    name: 'runtime_audit_dir_free_bytes',
    help: 'Free disk space available on the file system of the audit directory',
    registers: [registry],
    async collect() {
      const free = await freeBytes(auditDir);
      if (free !== undefined) this.set(free);
    },
  });
}
