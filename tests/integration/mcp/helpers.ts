/** MCP test helpers: the fixture server's transport configs and audit lookups. */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { McpServerConfig } from '../../../src/contracts.ts';
import type { AuditEvent, Runtime } from '../../../src/index.ts';

export const FIXTURE_SERVER = path.resolve(import.meta.dirname, '../../fixtures/mcp/test-server.mjs');

/** The SDK test server over stdio (spawned with node, as the runtime would spawn any command). */
export function stdioServer(
  id: string,
  extraArgs: string[] = [],
  extra: Partial<McpServerConfig> = {},
): McpServerConfig {
  return {
    id,
    name: `test server ${id}`,
    transport: { type: 'stdio', command: process.execPath, args: [FIXTURE_SERVER, ...extraArgs] },
    ...extra,
  };
}

export async function eventsOf(runtime: Runtime, sessionId: string): Promise<AuditEvent[]> {
  await runtime.audit.flush();
  return runtime.audit.query({ session_id: sessionId, limit: 10_000 });
}

/** Polls until `check` returns a value (for state that changes on another thread or process). */
export async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('waitFor: condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Starts the fixture in Streamable HTTP mode; resolves with the process and its port once it listens. */
export async function startHttpFixture(port = 0): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [FIXTURE_SERVER, '--http', String(port)], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  for await (const chunk of child.stdout!) {
    out += chunk;
    const m = /listening (\d+)/.exec(out);
    if (m) return { child, port: Number(m[1]) };
  }
  throw new Error('the HTTP fixture exited before listening');
}
