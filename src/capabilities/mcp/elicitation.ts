/**
 * Elicitation from upstream MCP servers: a server asks, during a tool call, for input from the
 * person behind the client (MCP form elicitation). The runtime takes part only where a person
 * is at hand and the operator said so — a library caller's handler, or the terminal of
 * `run FILE` — and then declares the capability (with `applyDefaults`: the SDK fills what the
 * person left out from the schema's defaults). Everywhere else (the daemon) the capability is not
 * declared, so an upstream server cannot question the runtime's users.
 */
import type { ElicitResult } from '@modelcontextprotocol/sdk/types.js';

export interface ElicitationRequest {
  orgId: string;
  serverId: string;
  serverName: string;
  message: string;
  /** the form's JSON Schema (flat object of primitive properties) */
  requestedSchema: Record<string, unknown>;
}

/** Answers an upstream server's form elicitation: accept (with content), decline or cancel. */
export type ElicitationHandler = (request: ElicitationRequest) => Promise<ElicitResult>;
