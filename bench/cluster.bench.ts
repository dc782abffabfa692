/**
 * Cluster mode's cost (issue 6), all on this machine, in one run:
 *
 *   1. throughput: no-op (echo) actions/s with 1, 2 and 3 nodes. Requests enter at every node
 *      evenly and name any session, as behind a load balancer, so with k nodes (k-1)/k of
 *      them cross NATS to the owner. 1 node is the baseline (no hop). On a 2-core machine
 *      more nodes add no cores: the ratio shows the hop's overhead, not scaling.
 *   2. latency: at node A, p50 of an action on a session A owns (same-node) vs one B owns
 *      (cross-node), interleaved in rounds. Bar: cross-node adds at most 2 ms at p50.
 *
 * Each node is scripts/cluster/node.ts in its own process (1 session worker, file audit
 * store, so PostgreSQL is not what is measured); timings are taken inside node A.
 * Reproduce: `npm run bench -- cluster` (options: --actions 3000 --latency 1000 --concurrency 16).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { type ClusterNodeProcess, destroyClusterBuckets, spawnNode } from '../scripts/cluster/launch.ts';
import { round, summarize } from './stats.ts';

export const description = 'no-op action throughput with 1, 2, 3 nodes on NATS, and p50 cross-node vs same-node';

const NATS_URL = process.env.NATS_URL || 'nats://127.0.0.1:4222';
const REQUEST = {
  org_id: 'bench-org',
  user_id: 'bench-user',
  agent_id: 'bench-agent',
  tools: ['echo'],
  policy: { max_iterations: 100_000 },
};
const BAR_MS = 2;

interface Cluster {
  nodes: ClusterNodeProcess[];
  stop(): Promise<void>;
}

async function startCluster(count: number): Promise<Cluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'semibot-cluster-bench-'));
  const name = `bench${randomBytes(3).toString('hex')}`;
  const nodes = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      spawnNode(`n${i + 1}`, {
        ENVIRONMENT: 'test',
        LOG_LEVEL: 'warn',
        NATS_URL,
        CLUSTER_NAME: name,
        NODE_ID: `n${i + 1}`,
        AUDIT_STORAGE_TYPE: 'file',
        AUDIT_LOG_DIR: path.join(dir, `n${i + 1}`),
        SANDBOX_DIR: path.join(dir, 'sandbox'),
        RUNTIME_WORKERS: '1',
      }),
    ),
  );
  nodes.sort((a, b) => a.id.localeCompare(b.id));
  return {
    nodes,
    async stop() {
      await Promise.all(
        nodes.map(async (n) => {
          n.child.kill('SIGTERM');
          await n.exited;
        }),
      );
      await destroyClusterBuckets(NATS_URL, name);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

type Created = { session_id: string; owner: string };

async function throughput(k: number, actions: number, concurrency: number) {
  const c = await startCluster(k);
  try {
    // Two sessions per node, placed by load from node 1; every node waits until it sees them all.
    const sessions: Created[] = [];
    for (let i = 0; i < 2 * k; i++) sessions.push(await c.nodes[0]!.call<Created>('create', { request: REQUEST }));
    for (const node of c.nodes) {
      for (const s of sessions) {
        while ((await node.call<string | null>('owner', { session_id: s.session_id })) === null) {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }
    const ids = sessions.map((s) => s.session_id);
    // Warm-up (JIT, connections), then the measured run: every node at once.
    await Promise.all(c.nodes.map((n) => n.call('throughput', { session_ids: ids, count: 300, concurrency })));
    const perNode = Math.floor(actions / k);
    const t0 = performance.now();
    await Promise.all(
      c.nodes.map((n, i) =>
        // Each node starts its lanes at a different session, so lanes spread over owners.
        n.call<number>('throughput', { session_ids: rotate(ids, i), count: perNode, concurrency }),
      ),
    );
    const elapsedMs = performance.now() - t0;
    return {
      nodes: k,
      actions: perNode * k,
      cross_node_share: round((k - 1) / k),
      owners: Object.fromEntries(c.nodes.map((n) => [n.id, sessions.filter((s) => s.owner === n.id).length])),
      actions_per_s: Math.round((perNode * k) / (elapsedMs / 1000)),
    };
  } finally {
    await c.stop();
  }
}

async function latency(n: number) {
  const c = await startCluster(2);
  try {
    const [a, b] = c.nodes as [ClusterNodeProcess, ClusterNodeProcess];
    const local = await a.call<Created>('create', { request: REQUEST });
    const remote = await b.call<Created>('create', { request: REQUEST });
    if (local.owner !== a.id || remote.owner !== b.id) throw new Error('placement did not keep the sessions local');
    while ((await a.call<string | null>('owner', { session_id: remote.session_id })) === null) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await a.call('time_actions', { session_id: local.session_id, count: 200 });
    await a.call('time_actions', { session_id: remote.session_id, count: 200 });
    const same: number[] = [];
    const cross: number[] = [];
    const rounds = 5;
    for (let r = 0; r < rounds; r++) {
      same.push(...(await a.call<number[]>('time_actions', { session_id: local.session_id, count: n / rounds })));
      cross.push(...(await a.call<number[]>('time_actions', { session_id: remote.session_id, count: n / rounds })));
    }
    const s = summarize(same);
    const x = summarize(cross);
    const addedMs = round((x.p50_us - s.p50_us) / 1000, 3);
    return {
      same_node: s,
      cross_node: x,
      cross_node_added_p50_ms: addedMs,
      bar_ms: BAR_MS,
      meets_bar: addedMs <= BAR_MS,
    };
  } finally {
    await c.stop();
  }
}

function rotate<T>(xs: T[], by: number): T[] {
  const k = by % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

export async function run(options: Record<string, string>): Promise<Record<string, unknown>> {
  const actions = Number(options.actions ?? 3000);
  const concurrency = Number(options.concurrency ?? 16);
  const latencyN = Number(options.latency ?? 1000);
  const runs = [];
  for (const k of [1, 2, 3]) {
    runs.push(await throughput(k, actions, concurrency));
    console.error(`  ${k} node(s): ${runs.at(-1)!.actions_per_s} actions/s`);
  }
  const base = runs[0]!.actions_per_s;
  const lat = await latency(latencyN);
  console.error(
    `  p50 same-node ${lat.same_node.p50_us} µs, cross-node ${lat.cross_node.p50_us} µs (+${lat.cross_node_added_p50_ms} ms)`,
  );
  return {
    throughput: runs.map((r) => ({ ...r, ratio_to_1_node: round(r.actions_per_s / base) })),
    latency: lat,
  };
}
