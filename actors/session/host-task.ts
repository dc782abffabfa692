/**
 * What the supervisor hands a pool worker when it starts a session host there (one long-running
 * piscina task per thread): its slot, its two ports and the frozen configuration. Shared by the
 * supervisor (actors/supervisor/supervisor.ts) and the worker entry (workers/session.worker.ts).
 */
import type { MessagePort } from 'node:worker_threads';
import type { Config } from '../../config/schema.ts';
import type { PolicySource } from '../../src/policy/policy-source.ts';
import type { TracingSettings } from '../../src/telemetry/tracing.ts';

export interface HostTask {
  slot: number;
  /** session.* messages in, supervisor.* messages out (msgpack frames) */
  supervisorPort: MessagePort;
  /** audit.append out, session.audit_ack in */
  auditPort: MessagePort;
  config: Config;
  /** the Cedar policies of POLICY_DIR as text (compiled in the worker); absent without one */
  policies?: PolicySource;
  /** OTEL_* settings when traces are on: the host exports its sessions' spans itself */
  tracing?: TracingSettings;
}
