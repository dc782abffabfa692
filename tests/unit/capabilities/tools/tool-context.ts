/** Test fixture: a fresh temp sandbox and a ToolContext pointing at it. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { JailLimits } from '../../../../src/capabilities/tools/jail.ts';
import type { ToolContext } from '../../../../src/capabilities/tools/tool.ts';

/** The runtime's default confinement (config/schema.ts). */
export const TEST_JAIL: JailLimits = {
  bwrap: 'bwrap',
  maxTotalMemoryMb: 512,
  maxProcesses: 256,
  maxFileBytes: 64 * 1024 * 1024,
};

export interface TempSandbox {
  dir: string;
  ctx(overrides?: Partial<ToolContext>): ToolContext;
  cleanup(): Promise<void>;
}

export async function makeSandbox(prefix = 'semibot-tools-'): Promise<TempSandbox> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return {
    dir,
    ctx: (overrides = {}) => ({
      sandboxDir: dir,
      signal: new AbortController().signal,
      httpAllowedHosts: [],
      executeCodeTimeoutMs: 10_000,
      executeCodeMaxMemoryMb: 256,
      executeCodeJail: TEST_JAIL,
      executeCodeNetwork: false,
      sandboxMaxBytes: 0,
      ...overrides,
    }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
