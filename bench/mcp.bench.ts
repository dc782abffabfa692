/**
 * MCP tool calls through the runtime vs the raw SDK client, same stdio server program, same run.
 *
 *   raw_sdk        Client + StdioClientTransport ──► tests/fixtures/mcp/test-server.mjs (echo)
 *   gateway_direct McpConnection.call on this thread (the gateway without any thread hop)
 *   runtime_builtin session.execute of the built-in echo tool (the actor path alone, no MCP)
 *   runtime_mcp    session.execute(mcp__bench__echo): supervisor → worker (session actor,
 *                  executor, audit) → supervisor/gateway → server → back the same way
 *   runtime_mcp batch  one session.execute of 16 MCP actions (the hops shared by the batch)
 *
 * Each is measured sequentially (p50/p99, calls/s) and with 16 calls in flight (calls/s, p50/p99).
 * Bar (issue 4): runtime_mcp p50 ≤ 1.25 × raw p50; runtime_mcp throughput at 16 in flight ≥ 0.7 × raw.
 *
 * Reproduce: npm run bench -- mcp [--seq 3000] [--inflight 16] [--total 16000]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { pino } from 'pino';
import { McpConnection } from '../actors/mcp-gateway/connection.ts';
import type { McpServerConfig } from '../src/contracts.ts';
import { createRuntime, type Session } from '../src/index.ts';
import { packagePath } from '../src/package-paths.ts';
import { type CallFn, inFlight, sequential } from './load-shapes.ts';
import { round } from './stats.ts';

export const description =
  'MCP echo calls/s and p50/p99: runtime (session → gateway → stdio server) vs raw SDK client';

const SERVER = packagePath('tests/fixtures/mcp/test-server.mjs');
const IDS = { org_id: 'bench-org', user_id: 'bench-user' };

function assertOk(r: unknown): void {
  const result = r as { success?: boolean; error?: unknown; isError?: boolean };
  if (result.success === false || result.isError) throw new Error(`call failed: ${JSON.stringify(result)}`);
}

export async function run(options: Record<string, string>): Promise<Record<string, unknown>> {
  const seqN = Number(options.seq ?? 3000);
  const width = Number(options.inflight ?? 16);
  const total = Number(options.total ?? 16_000);
  const server: McpServerConfig = {
    id: 'bench',
    transport: { type: 'stdio', command: process.execPath, args: [SERVER] },
  };
  const dir = await mkdtemp(path.join(tmpdir(), 'semibot-mcp-bench-'));

  // Baseline: the raw SDK client on its own server process.
  const raw = new Client({ name: 'bench-raw', version: '1' });
  await raw.connect(
    new StdioClientTransport({ command: process.execPath, args: [SERVER], stderr: 'ignore' }),
  );
  const rawCall: CallFn = async (i) =>
    assertOk(await raw.callTool({ name: 'echo', arguments: { message: `m${i}` } }));

  // The gateway's connection alone, on this thread.
  const direct = new McpConnection('bench/direct', IDS.org_id, server, {
    connectionTimeoutMs: 10_000,
    callTimeoutMs: 30_000,
    maxRetries: 0,
    reconnectDelayMs: 1000,
    log: pino({ level: 'silent' }),
    onChange: () => {},
  });
  await direct.settle();
  const directCall: CallFn = async (i) => {
    // A fresh signal per call, as the gateway does: the SDK never removes its abort listener.
    const outcome = await direct.call('echo', { message: `m${i}` }, new AbortController().signal);
    if (!outcome.ok) throw new Error(outcome.error.message);
  };

  const runtime = createRuntime(
    {
      log_level: 'warn',
      audit: {
        storage_type: options.audit === 'file' ? 'file' : 'memory',
        log_dir: path.join(dir, 'audit'),
        flush_interval: 0.05,
        memory_max_events: 200_000,
      },
      runtime: { sandbox_dir: path.join(dir, 'sandbox') },
      policy: { max_iterations: 1_000_000, max_concurrent_actions: 64 },
    },
    { env: { ENVIRONMENT: 'test' } },
  );
  await runtime.start();
  try {
    const sessions: Session[] = [];
    for (let l = 0; l < width; l++) {
      sessions.push(
        await runtime.createSession({
          ...IDS,
          agent_id: `bench-agent-${l}`,
          tools: ['echo'],
          mcp_servers: [server],
        }),
      );
    }
    const mcpCall =
      (s: Session): CallFn =>
      async (i) =>
        assertOk(await s.execute({ name: 'mcp__bench__echo', params: { message: `m${i}` } }));
    const builtinCall =
      (s: Session): CallFn =>
      async (i) =>
        assertOk(await s.execute({ name: 'echo', params: { message: `m${i}` } }));

    const warm = 300;
    const seq = {
      raw_sdk: await sequential(rawCall, seqN, warm),
      gateway_direct: await sequential(directCall, seqN, warm),
      runtime_builtin: await sequential(builtinCall(sessions[0]!), seqN, warm),
      runtime_mcp: await sequential(mcpCall(sessions[0]!), seqN, warm),
    };
    const par = {
      raw_sdk: await inFlight(() => rawCall, width, total),
      gateway_direct: await inFlight(() => directCall, width, total),
      runtime_builtin: await inFlight((l) => builtinCall(sessions[l]!), width, total),
      runtime_mcp: await inFlight((l) => mcpCall(sessions[l]!), width, total),
    };
    // The same 16 calls in flight from one session, sent as one batch: the thread hops are shared.
    const batch =
      (s: Session): CallFn =>
      async (i) => {
        const results = await s.execute(
          Array.from({ length: width }, (_, k) => ({
            name: 'mcp__bench__echo',
            params: { message: `b${i}-${k}` },
          })),
        );
        for (const r of results) assertOk(r);
      };
    const batched = await sequential(batch(sessions[0]!), Math.ceil(total / width), 20);
    const batchedPerCall = { ...batched, calls_per_s: round(batched.calls_per_s * width, 0) };
    const p50Ratio = seq.runtime_mcp.p50_us / seq.raw_sdk.p50_us;
    const tputRatio = par.runtime_mcp.calls_per_s / par.raw_sdk.calls_per_s;
    return {
      sequential: seq,
      [`in_flight_${width}`]: par,
      [`runtime_mcp_one_session_batch_of_${width}`]: {
        calls_per_s: batchedPerCall.calls_per_s,
        batch_p50_us: batched.p50_us,
        batch_p99_us: batched.p99_us,
        batches: batched.n,
      },
      ratios: {
        runtime_p50_over_raw_p50: round(p50Ratio, 3),
        runtime_added_p50_us: round(seq.runtime_mcp.p50_us - seq.raw_sdk.p50_us, 1),
        runtime_throughput_over_raw_in_flight: round(tputRatio, 3),
        gateway_direct_p50_over_raw_p50: round(seq.gateway_direct.p50_us / seq.raw_sdk.p50_us, 3),
        actor_path_p50_us: seq.runtime_builtin.p50_us,
        runtime_batched_throughput_over_raw_in_flight: round(
          batchedPerCall.calls_per_s / par.raw_sdk.calls_per_s,
          3,
        ),
      },
      bar: {
        p50_at_most_1_25x_raw: p50Ratio <= 1.25,
        throughput_at_least_0_7x_raw: tputRatio >= 0.7,
      },
    };
  } finally {
    await runtime.stop({ drainTimeoutMs: 5000 });
    await direct.close();
    await raw.close();
    await rm(dir, { recursive: true, force: true });
  }
}
