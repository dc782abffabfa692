/**
 * The MCP server of one runtime session (the official SDK's low-level Server), the same for
 * both transports:
 *
 *   tools/list ──► session.currentCapabilities() ──► tool-listing.ts
 *   tools/call ──► session.execute({id, name, params}): one action through the whole chain
 *                  (graph, params schema, policy, approval, execution, audit), as from the HTTP API
 *                  └─ waits for approval? ──► the transport's ApprovalChannel (HTTP: progress
 *                     notifications while a person decides in the inbox; stdio: elicitation)
 *
 * A client that cancels a call (notifications/cancelled) while it waits for approval denies
 * that approval: nobody is left to receive the result.
 */
import { randomUUID } from 'node:crypto';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  type CallToolResult,
  CallToolRequestSchema,
  ListToolsRequestSchema,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import { VERSION } from '../api/version.ts';
import type { PendingApproval, RuntimePolicy } from '../contracts.ts';
import { toWireError } from '../errors.ts';
import type { Session } from '../runtime.ts';
import type { ApprovalWatch } from './approval-watch.ts';
import { toCallResult, toMcpTool } from './tool-listing.ts';

export type CallExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** What a transport does while a call waits for approval; returns what stops it (or nothing). */
export type ApprovalChannel = (
  approval: PendingApproval,
  call: { session: Session; extra: CallExtra; server: Server },
) => (() => void) | undefined;

export interface GovernedServerOptions {
  /** the runtime session (stdio creates it once the client has initialized) */
  session: () => Promise<Session>;
  /** the session's resolved policy: which tools are high-risk (annotations) */
  policy: RuntimePolicy;
  watch: ApprovalWatch;
  onApproval: ApprovalChannel;
  /** who denies an approval when the client cancels the call */
  principal: string;
  /** told when a call starts and ends (the HTTP endpoint's idle clock) */
  onCall?: (running: boolean) => void;
}

export const SERVER_INSTRUCTIONS =
  "semibot-runtime: every tool call is validated against this agent's capability graph, checked against its policy, " +
  'approved by a person when high-risk (the call waits), executed, and recorded in a tamper-evident audit trail.';

export function createGovernedServer(options: GovernedServerOptions): Server {
  const server = new Server(
    { name: 'semibot-runtime', version: VERSION },
    { capabilities: { tools: { listChanged: false } }, instructions: SERVER_INSTRUCTIONS },
  );

  server.setRequestHandler(ListToolsRequestSchema, async () => {
    const session = await options.session();
    const capabilities = await session.currentCapabilities();
    return { tools: capabilities.map((c) => toMcpTool(c, options.policy)) };
  });

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    options.onCall?.(true);
    try {
      return await callTool(server, options, request.params.name, request.params.arguments ?? {}, extra);
    } finally {
      options.onCall?.(false);
    }
  });
  return server;
}

async function callTool(
  server: Server,
  options: GovernedServerOptions,
  name: string,
  params: Record<string, unknown>,
  extra: CallExtra,
): Promise<CallToolResult> {
  const session = await options.session();
  // The action id is ours, so the approval request this call makes is known to be its own.
  const actionId = randomUUID();
  let stopChannel: (() => void) | undefined;
  let waiting = false;
  const unwatch = options.watch.watch(session.key, actionId, (approval) => {
    waiting = true;
    stopChannel = options.onApproval(approval, { session, extra, server });
  });
  const onCancel = () => {
    if (!waiting) return;
    void session
      .approve(actionId, false, {
        decided_by: `${options.principal} (cancelled the MCP call)`,
        reason: 'the MCP client cancelled the call',
      })
      .catch(() => {});
  };
  extra.signal.addEventListener('abort', onCancel, { once: true });
  try {
    return toCallResult(await session.execute({ id: actionId, name, params }));
  } catch (err) {
    // Refused before it became an action (the session ended, params too deep or too large).
    const error = toWireError(err);
    return {
      isError: true,
      content: [{ type: 'text', text: `${error.code}: ${error.message}` }],
      structuredContent: { action_id: actionId, error: { code: error.code, message: error.message } },
    };
  } finally {
    extra.signal.removeEventListener('abort', onCancel);
    unwatch();
    stopChannel?.();
  }
}
