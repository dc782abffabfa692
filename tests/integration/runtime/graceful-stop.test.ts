import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditQuerySchema } from '../../../src/audit/events.ts';
import { verifyChain } from '../../../src/audit/hash-chain.ts';
import { FileAuditStore } from '../../../src/audit/stores/file.ts';
import { createRuntime } from '../../../src/index.ts';
import { IDS } from '../../helpers/runtime.ts';

describe('stop()', () => {
  it('drains running actions and flushes every buffered event to the file store', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'semibot-stop-'));
    try {
      const auditDir = path.join(dir, 'audit');
      // A flush interval far longer than the test: only stop() can have written the events.
      const runtime = createRuntime(
        {
          log_level: 'silent',
          audit: { storage_type: 'file', log_dir: auditDir, flush_interval: 3600, batch_size: 100_000 },
          runtime: { workers: 2, sandbox_dir: path.join(dir, 'sandbox') },
        },
        { env: { ENVIRONMENT: 'test' } },
      );
      await runtime.start();
      const sessions = await Promise.all([1, 2, 3, 4].map(() => runtime.createSession({ ...IDS, tools: ['echo', 'sleep'] })));
      for (const s of sessions) await s.execute([1, 2, 3].map((n) => ({ name: 'echo', params: { message: `${n}` } })));
      // One action is still running when stop() is called; stop lets it finish.
      const late = sessions[0]!.execute({ name: 'sleep', params: { ms: 300 } });
      const stopping = runtime.stop({ drainTimeoutMs: 5000 });
      expect((await late).success).toBe(true);
      await stopping;

      const store = new FileAuditStore({ dir: auditDir, maxFileSize: 1e9, maxFiles: 10 });
      await store.init();
      for (const s of sessions) {
        const events = await store.sessionEvents(s.id);
        expect(verifyChain(s.id, events)).toMatchObject({ ok: true, complete: true });
        expect(events.at(-1)?.metadata).toMatchObject({ state: 'cancelled' });
      }
      // 4 × (started + ended) + 13 × (started + completed) + 4 × validated (first echo) + 1 validated (sleep)
      expect(await store.count(AuditQuerySchema.parse({}))).toBe(4 * 2 + 13 * 2 + 4 + 1);
      await store.close();
      await expect(runtime.createSession({ ...IDS })).rejects.toMatchObject({ code: 'runtime_stopping' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('deletes events older than the retention period', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'semibot-retention-'));
    const runtime = createRuntime(
      { log_level: 'silent', audit: { storage_type: 'file', log_dir: dir, flush_interval: 0.01 }, runtime: { workers: 1, sandbox_dir: dir } },
      { env: { ENVIRONMENT: 'test' } },
    );
    await runtime.start();
    try {
      const s = await runtime.createSession({ ...IDS, tools: ['echo'] });
      await s.execute({ name: 'echo', params: { message: 'x' } });
      const before = await runtime.audit.count({ session_id: s.id });
      expect(await runtime.audit.applyRetention()).toBe(0);
      expect(await runtime.audit.deleteOlderThan(new Date(Date.now() + 1000))).toBe(before);
      expect(await runtime.audit.count({ session_id: s.id })).toBe(0);
    } finally {
      await runtime.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
