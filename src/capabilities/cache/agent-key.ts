/**
 * The key a capability graph is cached under: the agent and everything its graph is built
 * from (org, tools, skills, and each MCP server's whole config, transport included, since a
 * graph's MCP tools belong to those connections). Order-insensitive. Shared by the worker's
 * compiled-graph cache and the main thread's capability cache, so both agree on "same agent".
 */
import { createHash } from 'node:crypto';
import type { SessionContext } from '../../contracts.ts';

export function agentCapabilityKey(
  ctx: Pick<SessionContext, 'org_id' | 'agent_id' | 'tools' | 'skills' | 'mcp_servers'>,
): string {
  const parts = [
    ctx.org_id,
    ctx.agent_id,
    [...ctx.tools].sort().join(','),
    [...ctx.skills].sort().join(','),
    ctx.mcp_servers
      .map((s) => JSON.stringify([s.id, s.name ?? null, s.transport, s.retry_tools ?? []]))
      .sort()
      .join(','),
  ];
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}
