/**
 * How the runtime looks to an MCP client: a session's capabilities as MCP tools, and an action's
 * result as a tools/call result.
 *
 *   CapabilitySummary ──► Tool {name, description, inputSchema, annotations}
 *   ActionResult      ──► CallToolResult {structuredContent, content, isError}
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ActionResult, CapabilitySummary, RuntimePolicy } from '../contracts.ts';
import { requiresApproval } from '../execution/policy.ts';

/** Text renderings longer than this are cut (structuredContent always holds the whole result). */
const MAX_TEXT_CHARS = 100_000;

export function toMcpTool(capability: CapabilitySummary, policy: RuntimePolicy): Tool {
  const needsApproval = requiresApproval(policy, capability.name);
  const readOnly = capability.read_only === true;
  const description = needsApproval
    ? `${capability.description} (high-risk: each call waits for a person's approval of its exact params)`
    : capability.description;
  return {
    name: capability.name,
    description,
    // MCP requires an object schema; every capability takes an object of params.
    inputSchema: { ...capability.input_schema, type: 'object' } as Tool['inputSchema'],
    annotations: {
      title: capability.name,
      readOnlyHint: readOnly,
      // Meaningful only for tools that change something: high-risk ones are the destructive kind.
      ...(readOnly ? {} : { destructiveHint: needsApproval }),
      openWorldHint: capability.kind === 'mcp' || capability.name === 'http_request',
    },
    _meta: { 'semibot-runtime/kind': capability.kind, 'semibot-runtime/requires_approval': needsApproval },
  };
}

/**
 * Success: structuredContent {action_id, result, duration_ms} and the result as text. Failure:
 * isError with the runtime's error code in structuredContent.error.code (the same codes as the
 * HTTP API).
 */
export function toCallResult(result: ActionResult): CallToolResult {
  if (result.success) {
    const structured = {
      action_id: result.action_id,
      result: result.result ?? null,
      duration_ms: result.duration_ms,
    };
    return { content: [{ type: 'text', text: render(result.result) }], structuredContent: structured };
  }
  const error = result.error ?? { code: 'internal_error', message: 'the action failed without an error' };
  return {
    isError: true,
    content: [{ type: 'text', text: `${error.code}: ${error.message}` }],
    structuredContent: { action_id: result.action_id, error: { code: error.code, message: error.message } },
  };
}

function render(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null');
  return text.length > MAX_TEXT_CHARS
    ? `${text.slice(0, MAX_TEXT_CHARS)}… (cut; structuredContent holds all of it)`
    : text;
}
