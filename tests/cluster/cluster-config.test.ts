/**
 * Cluster mode's bad inputs (issue 6): a node id that cannot name a NATS subject is refused
 * at load with the key named; an unreachable NATS fails start() with cluster_unavailable and
 * leaves no thread running. Single-node mode has no cluster layer at all.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, createRuntime, RuntimeError } from '../../src/index.ts';
import { startTestRuntime } from '../helpers/runtime.ts';

describe('cluster configuration', () => {
  it('refuses a node id or cluster name that cannot be a subject token, naming the key', () => {
    expect(() => createRuntime({ cluster: { enabled: true, node_id: 'bad id' } })).toThrow(ConfigError);
    expect(() => createRuntime({ cluster: { enabled: true, node_id: 'a.b' } })).toThrow(/cluster\.node_id/);
    expect(() => createRuntime({ cluster: { enabled: true, name: 'x>y' } })).toThrow(/cluster\.name/);
    expect(() => createRuntime({ cluster: { enabled: true, lease_ms: 0 } })).toThrow(/cluster\.lease_ms/);
  });

  it('fails start() with cluster_unavailable when NATS cannot be reached, and stops what it started', async () => {
    const runtime = createRuntime(
      {
        log_level: 'silent',
        audit: { storage_type: 'memory' },
        runtime: { workers: 1 },
        cluster: { enabled: true, nats_url: 'nats://127.0.0.1:1', node_id: 'unreachable' },
      },
      { env: { ENVIRONMENT: 'test' } },
    );
    const err = await runtime.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe('cluster_unavailable');
    expect(() => runtime.stats()).toThrow(expect.objectContaining({ code: 'runtime_stopping' }));
  });

  it('single-node mode has no cluster layer and needs no NATS', async () => {
    const t = await startTestRuntime({ cluster: { enabled: false, nats_url: 'nats://127.0.0.1:1' } });
    try {
      expect(t.runtime.cluster).toBeUndefined();
      const session = await t.runtime.createSession({ org_id: 'o', user_id: 'u', agent_id: 'a', tools: ['echo'] });
      expect((await session.execute({ name: 'echo', params: { message: 'solo' } })).success).toBe(true);
      expect(t.runtime.session(session.id).id).toBe(session.id);
      expect(() => t.runtime.session('nope')).toThrow(expect.objectContaining({ code: 'session_not_found' }));
    } finally {
      await t.cleanup();
    }
  });
});
