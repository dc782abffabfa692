/**
 * Entry of a pool worker: a long-running piscina task that hosts session actors.
 *
 *   piscina.run({slot, supervisorPort, auditPort, config}, {transferList}) ──► this task
 *     └─ SessionHost on supervisorPort (data plane: msgpack frames, transferred)
 *   The task resolves only when the supervisor sends session.shutdown; if the thread dies,
 *   piscina rejects it and the supervisor fails this worker's sessions (worker_crashed).
 */
import { threadId } from 'node:worker_threads';
import type { AuditMessage } from '../actors/audit/messages.ts';
import type { HostTask } from '../actors/session/host-task.ts';
import type { SessionHostMessage } from '../actors/session/messages.ts';
import { SessionHost } from '../actors/session/session-host.ts';
import type { SupervisorMessage } from '../actors/supervisor/messages.ts';
import { MessagePortTransport } from '../src/transport/message-port.ts';

export default async function hostSessions(task: HostTask): Promise<{ slot: number }> {
  const toSupervisor = new MessagePortTransport<SessionHostMessage, SupervisorMessage>(task.supervisorPort);
  const toAudit = new MessagePortTransport<SessionHostMessage, AuditMessage>(task.auditPort);
  const host = new SessionHost(task.config, toSupervisor, toAudit, task.policies, task.tracing);
  toSupervisor.send({ type: 'supervisor.ready', slot: task.slot, thread_id: threadId });
  await host.shutDown;
  toSupervisor.close();
  toAudit.close();
  return { slot: task.slot };
}
