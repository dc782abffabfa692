/**
 * Session start with MCP servers connected: what the capability cache saves, same run.
 *
 *   no_cache    CAPABILITY_CACHE_TTL=0: every start asks each server for tools/list and the
 *               worker compiles the graph's validators again
 *   in_process  CAPABILITY_CACHE_TTL=300, in-process cache (the default)
 *   redis       CAPABILITY_CACHE_TTL=300, REDIS_URL (the shared cache on 127.0.0.1:6379)
 *
 * Each runtime has the same two stdio servers connected before measuring: the project's test
 * server and @modelcontextprotocol/server-everything. One start = createSession() of an agent
 * naming both servers (supervisor → capability cache → gateway → worker builds the graph →
 * session_started), measured until it resolves; the session is then ended (not measured).
 * The three runtimes take turns in blocks, so machine noise falls on all of them alike.
 * Also measured: a new node's first session start (no connection yet) with the tool lists in
 * Redis (seeded, no tools/list) against without.
 *
 * Reproduce: npm run bench -- capability-cache [--starts 600] [--block 50]
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { ConfigInput } from '../config/schema.ts';
import type { McpServerConfig } from '../src/contracts.ts';
import { createRuntime, type Runtime } from '../src/index.ts';
import { packagePath } from '../src/package-paths.ts';
import { round, summarize } from './stats.ts';

export const description =
  'session start with 2 MCP servers connected: capability cache (in process, Redis) vs no cache';

const require = createRequire(import.meta.url);
const TEST_SERVER = packagePath('tests/fixtures/mcp/test-server.mjs');
const EVERYTHING = path.join(
  path.dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')),
  'dist/index.js',
);
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SERVERS: McpServerConfig[] = [
  { id: 'test', transport: { type: 'stdio', command: process.execPath, args: [TEST_SERVER] } },
  { id: 'everything', transport: { type: 'stdio', command: process.execPath, args: [EVERYTHING, 'stdio'] } },
];
const REQUEST = {
  org_id: 'bench-org',
  user_id: 'bench-user',
  agent_id: 'bench-agent',
  tools: ['echo', 'read_file', 'write_file'],
  mcp_servers: SERVERS,
};

function config(cacheTtl: number, redis?: { url: string; key_prefix: string }): ConfigInput {
  return {
    log_level: 'silent',
    audit: { storage_type: 'memory' },
    runtime: { workers: 1 },
    capability: { cache_ttl: cacheTtl },
    ...(redis ? { redis } : {}),
  };
}

async function startRuntime(input: ConfigInput): Promise<Runtime> {
  const runtime = createRuntime(input, { env: { ENVIRONMENT: 'test' } });
  await runtime.start();
  return runtime;
}

/** One measured session start (ms); the session is ended afterwards, outside the measurement. */
async function sessionStart(runtime: Runtime): Promise<number> {
  const t0 = performance.now();
  const session = await runtime.createSession(REQUEST);
  const ms = performance.now() - t0;
  if (!session.capabilities.some((c) => c.name === 'mcp__everything__echo')) {
    throw new Error('the session started without the MCP tools: a server is not connected');
  }
  await session.end();
  return ms;
}

export async function run(options: Record<string, string>): Promise<Record<string, unknown>> {
  const starts = Number(options.starts ?? 600);
  const block = Number(options.block ?? 50);
  const prefix = `semibot-bench:${randomUUID()}:`;
  const redisConfig = { url: REDIS_URL, key_prefix: prefix };
  const variants: Record<string, Runtime> = {
    no_cache: await startRuntime(config(0)),
    in_process: await startRuntime(config(300)),
    redis: await startRuntime(config(300, redisConfig)),
  };
  const samples: Record<string, number[]> = { no_cache: [], in_process: [], redis: [] };
  try {
    // Connect every runtime's servers and fill the caches; warm the JIT.
    for (const runtime of Object.values(variants)) for (let i = 0; i < 30; i++) await sessionStart(runtime);
    for (let done = 0; done < starts; done += block) {
      for (const [name, runtime] of Object.entries(variants)) {
        for (let i = 0; i < block; i++) samples[name]!.push(await sessionStart(runtime));
      }
    }
    const measured = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
    const stats = Object.fromEntries(
      Object.entries(variants).map(([k, runtime]) => [k, runtime.stats().capability_cache]),
    );

    // A new node's first session: its connections are made now. With the lists in Redis it
    // skips tools/list; without, it lists. Fresh runtimes each time, alternating.
    const firstStart: Record<string, number[]> = { redis_seeded: [], no_cache: [] };
    for (let i = 0; i < 5; i++) {
      for (const [name, input] of [
        ['redis_seeded', config(300, redisConfig)],
        ['no_cache', config(0)],
      ] as const) {
        const node = await startRuntime(input);
        try {
          firstStart[name]!.push(await sessionStart(node));
        } finally {
          await node.stop({ drainTimeoutMs: 1000 });
        }
      }
    }
    const first = Object.fromEntries(Object.entries(firstStart).map(([k, v]) => [k, summarize(v)]));

    return {
      starts_per_variant: starts,
      mcp_servers: SERVERS.map((s) => s.id),
      session_start: measured,
      cache_stats: stats,
      ratio_in_process_vs_no_cache_p50: round(measured.in_process!.p50_us / measured.no_cache!.p50_us, 3),
      ratio_redis_vs_no_cache_p50: round(measured.redis!.p50_us / measured.no_cache!.p50_us, 3),
      saved_us_p50_in_process: round(measured.no_cache!.p50_us - measured.in_process!.p50_us, 0),
      saved_us_p50_redis: round(measured.no_cache!.p50_us - measured.redis!.p50_us, 0),
      new_node_first_session_start: first,
      ratio_new_node_seeded_vs_listing_p50: round(first.redis_seeded!.p50_us / first.no_cache!.p50_us, 3),
    };
  } finally {
    await Promise.all(Object.values(variants).map((r) => r.stop({ drainTimeoutMs: 1000 })));
    const client = new Redis(REDIS_URL);
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  }
}
