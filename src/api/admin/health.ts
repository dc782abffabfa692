/**
 * The SPEC's /health document: status (healthy | degraded | unhealthy), version, the
 * components database, audit_logger and mcp_client (plus workers and daemon), and a timestamp.
 * 200 unless unhealthy (503), so load balancers take a draining daemon out of rotation.
 */
import { type ComponentStatus, worstStatus } from '../../health.ts';
import type { Runtime } from '../../runtime.ts';

export interface HealthDocument {
  status: ComponentStatus;
  version: string;
  components: Record<string, { status: ComponentStatus; detail?: string }>;
  timestamp: string;
}

export async function healthDocument(
  runtime: Runtime,
  version: string,
  daemon: () => { status: ComponentStatus; detail?: string },
): Promise<{ code: number; body: HealthDocument }> {
  let components: HealthDocument['components'];
  try {
    components = { ...(await runtime.health()).components };
  } catch (err) {
    components = { audit_logger: { status: 'unhealthy', detail: (err as Error).message } };
  }
  const audit = components.audit_logger ?? { status: 'unhealthy' as const, detail: 'unknown' };
  // The audit thread reports a database component of its own (spool, replay) when PostgreSQL is
  // the store; without one, the database is the audit store or is not used at all.
  components.database ??=
    runtime.config.audit.storage_type === 'database'
      ? audit
      : { status: 'healthy', detail: `not used (audit storage is ${runtime.config.audit.storage_type})` };
  components.mcp_client ??= { status: 'healthy', detail: 'sessions connect to MCP servers on demand' };
  components.daemon = daemon();
  const status = worstStatus(Object.values(components).map((c) => c.status));
  return {
    code: status === 'unhealthy' ? 503 : 200,
    body: { status, version, components, timestamp: new Date().toISOString() },
  };
}
