/**
 * Names and keys shared by the gateway (main thread) and the session hosts (workers).
 *
 * Tool names: `mcp__<server_id>__<tool_name>`, reduced to what LLM tool-calling APIs accept
 * (^[a-zA-Z0-9_-]{1,64}$). When the server's tool name had to change (other characters, or
 * too long), a short hash of the original is appended so two tools never map to one name.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../audit/hash-chain.ts';
import type { McpServerConfig } from '../../contracts.ts';

export const MCP_TOOL_PREFIX = 'mcp__';
export const MAX_TOOL_NAME_LENGTH = 64;
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

/** The capability name of `toolName` on server `serverId` (server ids are already [A-Za-z0-9_-]{1,32}). */
export function mcpToolName(serverId: string, toolName: string): string {
  const prefix = `${MCP_TOOL_PREFIX}${serverId}__`;
  const plain = `${prefix}${toolName}`;
  if (TOOL_NAME_PATTERN.test(plain)) return plain;
  const suffix = `_${shortHash(`${serverId}\u0000${toolName}`)}`;
  const cleaned = toolName.replace(/[^a-zA-Z0-9_-]/g, '_') || 'tool';
  const room = MAX_TOOL_NAME_LENGTH - prefix.length - suffix.length;
  return `${prefix}${cleaned.slice(0, Math.max(1, room))}${suffix}`;
}

/** A second name for a tool whose name another server in the same session already took. */
export function disambiguatedName(serverId: string, toolName: string): string {
  const base = mcpToolName(serverId, toolName);
  const suffix = `_${shortHash(`dup\u0000${serverId}\u0000${toolName}`)}`;
  return `${base.slice(0, MAX_TOOL_NAME_LENGTH - suffix.length)}${suffix}`;
}

/**
 * The gateway's connection key: org + server id + transport config, so sessions of one org
 * that name the same server share a connection, and a changed command or URL gets its own.
 */
export function mcpConnectionKey(orgId: string, server: McpServerConfig): string {
  // A server with auth is another connection per auth config (another token, another grant).
  const transport = canonicalJson(server.auth === undefined ? server.transport : [server.transport, server.auth]);
  return `${orgId}/${server.id}/${shortHash(`${orgId}\u0000${server.id}\u0000${transport}`)}`;
}
