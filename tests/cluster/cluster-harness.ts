/**
 * Three (or n) runtime processes on loopback sharing the local NATS and one PostgreSQL
 * database: each is scripts/cluster/node.ts, forked, driven over its IPC channel.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { type ClusterNodeProcess, destroyClusterBuckets, spawnNode } from '../../scripts/cluster/launch.ts';
import { createTestDatabase, type TestDatabase } from '../integration/postgres/pg-test-db.ts';

export const NATS_URL = process.env.NATS_URL || 'nats://127.0.0.1:4222';

/** Leases short enough for a test: a lost node is noticed within 1.5 s + 0.2 s. */
export const TEST_TIMING = { heartbeat_ms: 300, lease_ms: 1500, node_loss_check_ms: 200 } as const;

export interface TestCluster {
  nodes: ClusterNodeProcess[];
  db: TestDatabase;
  /** the cluster's name, unique to this run: its own KV buckets and subjects on the shared NATS */
  run: string;
  startNode(id: string): Promise<ClusterNodeProcess>;
  cleanup(): Promise<void>;
}

/** The environment of one test node: its cluster, the shared database, its own audit directory. */
export function nodeEnv({ id, run, databaseUrl, dir }: { id: string; run: string; databaseUrl: string; dir: string }) {
  return {
    ENVIRONMENT: 'test',
    NATS_URL,
    NODE_ID: id,
    CLUSTER_ENABLED: 'true',
    CLUSTER_NAME: run,
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: '2',
    AUDIT_STORAGE_TYPE: 'database',
    AUDIT_FLUSH_INTERVAL: '0.05',
    AUDIT_LOG_DIR: path.join(dir, id, 'audit'),
    SANDBOX_DIR: path.join(dir, 'sandbox'),
    RUNTIME_WORKERS: '1',
    CLUSTER_HEARTBEAT_MS: String(TEST_TIMING.heartbeat_ms),
    CLUSTER_LEASE_MS: String(TEST_TIMING.lease_ms),
    CLUSTER_NODE_LOSS_CHECK_MS: String(TEST_TIMING.node_loss_check_ms),
    CLUSTER_REQUEST_TIMEOUT_MS: '10000',
  };
}

export async function startCluster(count: number, extraEnv: Record<string, string> = {}): Promise<TestCluster> {
  const db = await createTestDatabase();
  const dir = await mkdtemp(path.join(tmpdir(), 'semibot-cluster-'));
  const run = `t${randomBytes(3).toString('hex')}`;
  const nodes: ClusterNodeProcess[] = [];
  const startNode = async (id: string): Promise<ClusterNodeProcess> => {
    const node = await spawnNode(id, { ...nodeEnv({ id, run, databaseUrl: db.url, dir }), ...extraEnv });
    nodes.push(node);
    return node;
  };
  await Promise.all(Array.from({ length: count }, (_, i) => startNode(`n${i + 1}`)));
  nodes.sort((x, y) => x.id.localeCompare(y.id));
  return {
    nodes,
    db,
    run,
    startNode,
    async cleanup() {
      await Promise.all(
        nodes.map(async (n) => {
          if (n.child.exitCode === null && n.child.signalCode === null) {
            n.child.kill('SIGTERM');
            const timer = setTimeout(() => n.child.kill('SIGKILL'), 10_000);
            await n.exited;
            clearTimeout(timer);
          }
        }),
      );
      await db.drop();
      await destroyClusterBuckets(NATS_URL, run);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function waitFor<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stops and restarts the local NATS server (JetStream data survives in its store dir). */
export const nats = {
  stop(): void {
    execFileSync('start-stop-daemon', ['--stop', '--oknodo', '--retry', '5', '--exec', '/usr/sbin/nats-server']);
  },
  /** `jetstream: false` brings the server back without JetStream: connections work, the KV registry does not. */
  start({ jetstream = true }: { jetstream?: boolean } = {}): void {
    execFileSync('start-stop-daemon', [
      '--start', '--oknodo', '--background', '--exec', '/usr/sbin/nats-server', '--',
      '-a', '127.0.0.1', '-p', '4222', ...(jetstream ? ['-js', '-sd', '/var/lib/nats-server'] : []),
      '-l', '/var/log/nats-server.log',
    ]);
  },
};

export type { ClusterNodeProcess };
export const IDS = { org_id: 'acme', user_id: 'alice', agent_id: 'agent-1' } as const;
