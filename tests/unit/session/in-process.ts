/**
 * A session actor run in this thread, without a worker, a supervisor or an audit thread: its
 * audit outbox sends to an array and is acknowledged at once (as the audit actor would, once
 * stored), and what it tells the supervisor is collected. For the logic of the executor and
 * the session actor; the thread plumbing has its own integration tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPlanner } from '../../../actors/session/planners/index.ts';
import { SessionActor } from '../../../actors/session/session-actor.ts';
import type { SupervisorMessage } from '../../../actors/supervisor/messages.ts';
import { loadConfig } from '../../../config/load.ts';
import { AuditOutbox } from '../../../src/audit/emit.ts';
import type { AuditEvent } from '../../../src/audit/events.ts';
import type { PlannerSpec, RuntimePolicyInput, SessionContext } from '../../../src/contracts.ts';
import { CapabilityGraphBuilder } from '../../../src/execution/capability-graph.ts';
import { resolvePolicy } from '../../../src/execution/policy.ts';

export interface InProcessSession {
  actor: SessionActor;
  /** every event the session emitted so far, in chain order */
  events(): AuditEvent[];
  /** what the session told the supervisor (approval requests, its end) */
  notified: SupervisorMessage[];
  close(): Promise<void>;
}

export async function inProcessSession({
  tools = ['echo', 'sleep', 'delete_file', 'write_file', 'read_file'],
  policy,
  planner = { type: 'external' },
  sessionId = 'in-process',
}: {
  tools?: string[];
  policy?: RuntimePolicyInput;
  planner?: PlannerSpec;
  sessionId?: string;
} = {}): Promise<InProcessSession> {
  const config = loadConfig({ env: { ENVIRONMENT: 'test' } });
  const sandboxRoot = await mkdtemp(path.join(tmpdir(), 'semibot-in-process-'));
  const sent: AuditEvent[] = [];
  const outbox: AuditOutbox = new AuditOutbox(
    {
      send: (events) => {
        sent.push(...events);
        queueMicrotask(() => outbox.ack(events.length));
      },
    },
    config.audit.producer_window,
  );
  const ctx: SessionContext = {
    org_id: 'acme',
    user_id: 'u',
    agent_id: 'a',
    session_id: sessionId,
    agent: {},
    tools,
    skills: [],
    mcp_servers: [],
    policy: resolvePolicy(policy, config.policy),
    planner,
    metadata: {},
  };
  const graph = await new CapabilityGraphBuilder({
    cacheTtlSeconds: 0,
    maxSkillsPerAgent: 10,
    maxMcpServersPerOrg: 10,
  }).build(ctx, new Map());
  const notified: SupervisorMessage[] = [];
  const r = config.runtime;
  const actor = new SessionActor(ctx, graph, createPlanner(planner), {
    outbox,
    notify: (message) => notified.push(message),
    sandboxRoot,
    httpAllowedHosts: [],
    executeCodeTimeoutMs: r.execute_code_timeout_ms,
    executeCodeMaxMemoryMb: r.execute_code_max_memory_mb,
    executeCodeJail: {
      bwrap: r.execute_code_bwrap,
      maxTotalMemoryMb: r.execute_code_max_total_memory_mb,
      maxProcesses: r.execute_code_max_processes,
      maxFileBytes: r.execute_code_max_file_bytes,
    },
    strictDurability: true,
    maxMemoryBytes: r.session_max_memory_bytes,
    sandboxMaxBytes: r.sandbox_max_bytes,
  });
  return {
    actor,
    events() {
      outbox.flush();
      return [...sent];
    },
    notified,
    async close() {
      if (!['completed', 'failed', 'cancelled'].includes(actor.state)) await actor.cancel('test over');
      await outbox.drained();
      await rm(sandboxRoot, { recursive: true, force: true });
    },
  };
}
