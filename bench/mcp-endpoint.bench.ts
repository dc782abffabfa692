/**
 * MCP clients calling the runtime (/mcp/:agent_id) vs the SDK's bare Streamable HTTP server doing
 * the same echo, same process, same run, same client code (the SDK's Client over HTTP):
 *
 *   bare_sdk  node:http ──► StreamableHTTPServerTransport ──► Server (tools/call echo → text)
 *   runtime   fastify (token, Host/Origin, profile) ──► the same transport ──► governed server
 *             ──► session.execute: supervisor → worker (graph, schema, policy, executor, audit)
 *
 * The difference is the governance: validation, policy, the audit trail (AUDIT_DURABILITY strict
 * on the file store by default: an action's result returns once its events are on disk).
 * Measured with 1 call in flight (p50/p99, calls/s) and 16 (16 clients, each its own session).
 * Goal (issue 19): runtime p50 ≤ 1.5 × bare p50; runtime calls/s at 16 in flight ≥ 0.5 × bare.
 *
 * Reproduce: npm run bench -- mcp-endpoint [--seq 2000] [--inflight 16] [--total 16000] [--audit file|memory] [--durability strict|relaxed]
 */
import { closeSync, fdatasyncSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  isInitializeRequest,
  ListToolsRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { TokenTable } from '../src/api/http/auth.ts';
import { buildApiServer } from '../src/api/http/server.ts';
import { createRuntime } from '../src/index.ts';
import { createLogger } from '../src/log.ts';
import { type CallFn, inFlight, sequential } from './load-shapes.ts';
import { round, summarize } from './stats.ts';

export const description =
  'MCP tools/call echo over Streamable HTTP: the runtime at /mcp/:agent_id vs the SDK bare server, p50/p99 and calls/s at 1 and 16 in flight';

const TOKEN = 'bench-token';

/** The baseline: the SDK's own server, one transport per session, echo answered at once. */
function bareServer(): HttpServer {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const mcpServer = () => {
    const server = new Server({ name: 'bare', version: '1' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: [
        {
          name: 'echo',
          inputSchema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] },
        },
      ],
    }));
    server.setRequestHandler(CallToolRequestSchema, async (request) => {
      const result = { message: request.params.arguments?.message };
      return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: { result } };
    });
    return server;
  };
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      const id = req.headers['mcp-session-id'];
      let transport = typeof id === 'string' ? sessions.get(id) : undefined;
      if (transport === undefined && isInitializeRequest(body)) {
        const created = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => crypto.randomUUID(),
          onsessioninitialized: (sid) => {
            sessions.set(sid, created);
          },
        });
        await mcpServer().connect(created);
        transport = created;
      }
      if (transport === undefined) {
        res.writeHead(404).end();
        return;
      }
      await transport.handleRequest(req, res, body);
    });
  });
}

/** p50/p99 of appending ~1 KB to a file in `dir` and fdatasync'ing it, `n` times after a warm-up. */
function appendAndSync(dir: string, n: number): ReturnType<typeof summarize> {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'fdatasync-floor.bin');
  const fd = openSync(file, 'a');
  const block = Buffer.alloc(1024, 0x61);
  const samples: number[] = [];
  try {
    for (let i = 0; i < n + 200; i++) {
      const started = performance.now();
      writeSync(fd, block);
      fdatasyncSync(fd);
      if (i >= 200) samples.push(performance.now() - started);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  return summarize(samples);
}

async function client(url: string): Promise<Client> {
  const c = new Client({ name: 'bench', version: '1' });
  await c.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
    }),
  );
  return c;
}

function echo(c: Client): CallFn {
  return async (i) => {
    const r = await c.callTool({ name: 'echo', arguments: { message: `m${i}` } });
    if (r.isError) throw new Error(`call failed: ${JSON.stringify(r)}`);
  };
}

export async function run(options: Record<string, string>): Promise<Record<string, unknown>> {
  const seqN = Number(options.seq ?? 2000);
  const width = Number(options.inflight ?? 16);
  const total = Number(options.total ?? 16_000);
  const audit = options.audit === 'memory' ? 'memory' : 'file';
  const durability = options.durability === 'relaxed' ? 'relaxed' : 'strict';
  const dir = await mkdtemp(path.join(tmpdir(), 'semibot-mcp-endpoint-bench-'));

  const bare = bareServer();
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/mcp`;

  const runtime = createRuntime(
    {
      log_level: 'warn',
      audit: {
        storage_type: audit,
        durability,
        log_dir: path.join(dir, 'audit'),
        memory_max_events: 500_000,
      },
      runtime: { sandbox_dir: path.join(dir, 'sandbox') },
      agents: [{ id: 'bench', tools: ['echo'], policy: { max_iterations: 100_000, timeout_seconds: 3600 } }],
      server: { api_tokens: { [TOKEN]: 'bench-org:bench-client:run' }, rate_limit_max: 100_000_000 },
    },
    { env: { ENVIRONMENT: 'test' } },
  );
  await runtime.start();
  const api = await buildApiServer({
    runtime,
    config: runtime.config,
    log: createLogger({ log_level: 'silent' }),
    tokens: TokenTable.fromConfig(runtime.config.server),
    draining: () => false,
    daemonStatus: () => ({ status: 'healthy' }),
    track: (work) => work,
  });
  const runtimeUrl = `${await api.listen({ port: 0, host: '127.0.0.1' })}/mcp/bench`;

  const clients: Client[] = [];
  try {
    const open = async (url: string, n: number) => {
      const made = await Promise.all(Array.from({ length: n }, () => client(url)));
      clients.push(...made);
      return made;
    };
    const bareClients = await open(bareUrl, width);
    const runtimeClients = await open(runtimeUrl, width);
    const warm = 300;
    // Alternated, so a noisy moment of the machine does not land on one side only.
    // The chain alone, without HTTP or MCP: the library's session.execute of the same echo.
    const library = await runtime.createSession({
      org_id: 'bench-org',
      user_id: 'bench',
      agent_id: 'bench',
      tools: ['echo'],
      policy: { max_iterations: 100_000 },
    });
    const libraryEcho: CallFn = async (i) => {
      const r = await library.execute({ name: 'echo', params: { message: `m${i}` } });
      if (!r.success) throw new Error(`call failed: ${JSON.stringify(r)}`);
    };
    const seq = {
      bare_sdk: await sequential(echo(bareClients[0]!), seqN, warm),
      runtime: await sequential(echo(runtimeClients[0]!), seqN, warm),
      library_execute_alone: await sequential(libraryEcho, seqN, warm),
    };
    // The floor strict durability puts under every answer at one call in flight: one append and
    // fdatasync on the audit directory's disk (what the file store does per group commit).
    const fsyncFloor =
      audit === 'file' && durability === 'strict' ? appendAndSync(path.join(dir, 'audit'), seqN) : undefined;
    const par = {
      bare_sdk: await inFlight((l) => echo(bareClients[l]!), width, total),
      runtime: await inFlight((l) => echo(runtimeClients[l]!), width, total),
    };
    const p50Ratio = seq.runtime.p50_us / seq.bare_sdk.p50_us;
    const tputRatio = par.runtime.calls_per_s / par.bare_sdk.calls_per_s;
    const seqTputRatio = seq.runtime.calls_per_s / seq.bare_sdk.calls_per_s;
    return {
      audit_store: `${audit} (AUDIT_DURABILITY ${durability})`,
      in_flight_1: seq,
      [`in_flight_${width}`]: par,
      ratios: {
        runtime_p50_over_bare_p50: round(p50Ratio, 3),
        runtime_p99_over_bare_p99: round(seq.runtime.p99_us / seq.bare_sdk.p99_us, 3),
        runtime_added_p50_us: round(seq.runtime.p50_us - seq.bare_sdk.p50_us, 1),
        // what the chain itself (worker hop, executor, audit ack) takes of the added time
        chain_p50_us: seq.library_execute_alone.p50_us,
        runtime_throughput_over_bare_in_flight_1: round(seqTputRatio, 3),
        [`runtime_throughput_over_bare_in_flight_${width}`]: round(tputRatio, 3),
        [`runtime_p50_over_bare_p50_in_flight_${width}`]: round(par.runtime.p50_us / par.bare_sdk.p50_us, 3),
      },
      ...(fsyncFloor
        ? {
            durability_floor: {
              append_fdatasync: fsyncFloor,
              // even with no other work at all: bare p50 + one fdatasync, over bare p50
              bare_plus_fdatasync_over_bare_p50: round(
                (seq.bare_sdk.p50_us + fsyncFloor.p50_us) / seq.bare_sdk.p50_us,
                3,
              ),
            },
          }
        : {}),
      goal: {
        p50_at_most_1_5x_bare: p50Ratio <= 1.5,
        throughput_at_least_0_5x_bare: tputRatio >= 0.5,
      },
    };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await api.close();
    await runtime.stop({ drainTimeoutMs: 5000 });
    bare.closeAllConnections();
    await new Promise((resolve) => bare.close(resolve));
    await rm(dir, { recursive: true, force: true });
  }
}
