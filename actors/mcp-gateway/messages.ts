/**
 * Messages the MCP gateway (main thread) receives from session hosts (their shapes, and what
 * the gateway hands back, are in src/capabilities/mcp/shapes.ts). Hosts send `mcp.call` /
 * `mcp.cancel` over their supervisor port; the supervisor relays them here (grep 'mcp.call' for the handler in actors/supervisor/supervisor.ts).
 * Replies travel as `session.mcp_result`, connection changes as `session.mcp_status`
 * (actors/session/messages.ts).
 */
import { z } from 'zod';
import { McpCallSchema, McpCancelSchema } from '../../src/capabilities/mcp/shapes.ts';

export const McpGatewayMessageSchema = z.discriminatedUnion('type', [McpCallSchema, McpCancelSchema]);
export type McpGatewayMessage = z.infer<typeof McpGatewayMessageSchema>;
