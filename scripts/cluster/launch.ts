/**
 * Forks scripts/cluster/node.ts with an IPC channel and wraps it: call(op, args) makes a
 * library call on that node; approval events it reports are collected. Used by the cluster
 * tests (tests/cluster) and the cluster benchmark (bench/cluster.bench.ts).
 */
import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import type { WireError } from '../../src/errors.ts';

const NODE_SCRIPT = path.resolve(import.meta.dirname, 'node.ts');

export class NodeError extends Error {
  constructor(readonly wire: WireError) {
    super(`${wire.code}: ${wire.message}`);
  }
  get code() {
    return this.wire.code;
  }
}

export interface ClusterNodeProcess {
  id: string;
  child: ChildProcess;
  call<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T>;
  /** approval requests this node's listeners saw (its own sessions and other nodes') */
  approvals: Array<{ session_id: string; action_id: string }>;
  exited: Promise<number | null>;
}

export function spawnNode(id: string, env: Record<string, string>): Promise<ClusterNodeProcess> {
  const child = fork(NODE_SCRIPT, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const approvals: ClusterNodeProcess['approvals'] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.on('message', (m: { event?: string; id?: number; ok?: boolean; value?: unknown; error?: WireError } & Record<string, string>) => {
      if (m.event === 'ready') resolve(node);
      else if (m.event === 'approval') approvals.push({ session_id: m.session_id!, action_id: m.action_id! });
      else if (m.id !== undefined) {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.ok) p?.resolve(m.value);
        else p?.reject(new NodeError(m.error!));
      }
    });
    void exited.then((code) => {
      const err = new Error(`node ${id} exited (${code}): ${stderr}`);
      for (const p of pending.values()) p.reject(err);
      pending.clear();
      reject(err);
    });
    const node: ClusterNodeProcess = {
      id,
      child,
      approvals,
      exited,
      call: <T>(op: string, args: Record<string, unknown> = {}) =>
        new Promise<T>((res, rej) => {
          const cmdId = nextId++;
          pending.set(cmdId, { resolve: res as (v: unknown) => void, reject: rej });
          child.send({ id: cmdId, op, ...args });
        }),
    };
  });
}


/** Deletes a throw-away cluster's KV buckets (its whole registry) from NATS. */
export async function destroyClusterBuckets(natsUrl: string, cluster: string): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    const kvm = new Kvm(nc);
    for (const bucket of [`${cluster}_sessions`, `${cluster}_nodes`]) {
      await (await kvm.open(bucket)).destroy().catch(() => {});
    }
  } finally {
    await nc.close();
  }
}
