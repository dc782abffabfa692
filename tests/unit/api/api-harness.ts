/** Builds the HTTP API and admin servers in-process (fastify inject, no sockets) over a real runtime. */
import type { FastifyInstance } from 'fastify';
import { buildAdminServer } from '../../../src/api/admin/server.ts';
import { TokenTable } from '../../../src/api/http/auth.ts';
import { buildApiServer } from '../../../src/api/http/server.ts';
import { type ConfigInput, type Runtime, createRuntime } from '../../../src/index.ts';
import { createLogger } from '../../../src/log.ts';
import { RuntimeMetrics } from '../../../src/metrics/runtime-metrics.ts';

export const TOKENS = { 'tok-acme': 'acme', 'tok-globex': 'globex' };
export const auth = (token: string) => ({ authorization: `Bearer ${token}` });

export interface Harness {
  runtime: Runtime;
  api: FastifyInstance;
  admin: FastifyInstance;
  state: { draining: boolean };
  close(): Promise<void>;
}

export async function startHarness(
  server: NonNullable<ConfigInput['server']> = {},
  more: Omit<ConfigInput, 'server'> = {},
  /** more of the runtime's boot environment (OTEL_* for traces) */
  env: Record<string, string> = {},
): Promise<Harness> {
  const runtime = createRuntime(
    {
      runtime: { workers: 1 },
      audit: { storage_type: 'memory' },
      ...more,
      server: { api_tokens: TOKENS, ...server },
    },
    { env: { ENVIRONMENT: 'test', ...env } },
  );
  await runtime.start();
  const state = { draining: false };
  const metrics = new RuntimeMetrics(runtime);
  const daemonStatus = () =>
    state.draining ? { status: 'unhealthy' as const, detail: 'draining' } : { status: 'healthy' as const };
  const api = await buildApiServer({
    runtime,
    config: runtime.config,
    log: createLogger({ log_level: 'silent' }),
    tokens: TokenTable.fromConfig(runtime.config.server),
    metrics,
    draining: () => state.draining,
    daemonStatus,
    track: (work) => work,
  });
  const admin = buildAdminServer({ runtime, metrics, daemonStatus });
  return {
    runtime,
    api,
    admin,
    state,
    async close() {
      await api.close();
      await admin.close();
      await runtime.stop();
    },
  };
}

export type Call = (
  token: string,
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  payload?: unknown,
) => Promise<import('light-my-request').Response>;

/** A request as a token holder makes it (JSON body when given); `api` is read at call time. */
export function apiCaller(api: () => FastifyInstance): Call {
  return (token, method, url, payload) =>
    api().inject({
      method,
      url,
      headers: { ...auth(token), ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(payload !== undefined ? { payload: JSON.stringify(payload) } : {}),
    });
}
