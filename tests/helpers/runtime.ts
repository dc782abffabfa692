/** Starts a real runtime (real worker threads, real audit thread) in a temp directory. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ConfigInput } from '../../config/schema.ts';
import { createRuntime, type Runtime } from '../../src/index.ts';

export const FIXTURE_SKILLS = path.resolve(import.meta.dirname, '../fixtures/skills');

export interface TestRuntime {
  runtime: Runtime;
  dir: string;
  cleanup(): Promise<void>;
}

/** Deep-merges `overrides` over a test config: memory audit, fast flushes, 2 workers. */
export async function startTestRuntime(overrides: ConfigInput = {}): Promise<TestRuntime> {
  const dir = await mkdtemp(path.join(tmpdir(), 'semibot-test-'));
  const base: ConfigInput = {
    log_level: 'silent',
    audit: { storage_type: 'memory', flush_interval: 0.02, log_dir: path.join(dir, 'audit') },
    runtime: { workers: 2, sandbox_dir: path.join(dir, 'sandbox'), skills_dir: FIXTURE_SKILLS },
  };
  const runtime = createRuntime(merge(base, overrides), { env: { ENVIRONMENT: 'test' } });
  await runtime.start();
  return {
    runtime,
    dir,
    async cleanup() {
      await runtime.stop({ drainTimeoutMs: 2000 });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function merge<T>(a: T, b: unknown): T {
  if (!b || typeof b !== 'object' || Array.isArray(b)) return (b ?? a) as T;
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [k, v] of Object.entries(b)) out[k] = merge(out[k], v);
  return out as T;
}

export const IDS = { org_id: 'acme', user_id: 'alice', agent_id: 'agent-1' } as const;
