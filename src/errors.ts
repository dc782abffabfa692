/**
 * The catalogue of error codes. Every failure that leaves the runtime — an action result,
 * an HTTP answer, a CLI exit — carries one of these codes. Codes are stable strings: add
 * new ones, never rename. Errors cross threads as plain `{code, message, data}` objects,
 * never as class instances (`instanceof` does not survive a MessagePort).
 */
import { z } from 'zod';

export const ERROR_CATALOGUE = {
  invalid_request: { status: 400, message: 'The request is malformed or has invalid fields.' },
  invalid_context: { status: 400, message: 'The session context is invalid.' },
  invalid_params: { status: 400, message: "The action's params do not match the capability's schema." },
  capability_not_found: { status: 400, message: 'The action names no capability of this session.' },
  too_many_skills: { status: 400, message: 'The agent asks for more skills than max_skills_per_agent.' },
  too_many_mcp_servers: { status: 400, message: 'The org has more MCP servers than max_mcp_servers_per_org.' },
  unauthorized: { status: 401, message: 'A valid bearer token is required.' },
  forbidden: { status: 403, message: 'This token may not see that resource.' },
  path_outside_sandbox: { status: 403, message: "The path escapes the session's sandbox directory." },
  host_not_allowed: { status: 403, message: 'The host is not on the http_request allow-list.' },
  mcp_server_not_allowed: {
    status: 403,
    message: "API requests may only name MCP servers of the operator's catalogue that their org may use.",
  },
  approval_denied: { status: 403, message: 'A person denied the high-risk action.' },
  policy_denied: { status: 403, message: 'The Cedar policies (POLICY_DIR) forbid the action, or none permits it.' },
  approval_unavailable: {
    status: 403,
    message: 'The high-risk action needs approval and nobody can be asked in this session.',
  },
  origin_not_allowed: {
    status: 403,
    message: 'The Host or Origin header is not allowed on the MCP endpoint (MCP_ALLOWED_HOSTS / MCP_ALLOWED_ORIGINS).',
  },
  agent_not_found: { status: 404, message: 'No agent profile of that id is open to this org.' },
  mcp_session_limit: { status: 429, message: 'The org holds its maximum of open MCP sessions (MCP_MAX_SESSIONS_PER_ORG).' },
  session_not_found: { status: 404, message: 'No session has that id.' },
  approval_not_found: { status: 404, message: 'No approval is pending for that action.' },
  file_not_found: { status: 404, message: 'The file does not exist in the sandbox.' },
  route_not_found: { status: 404, message: 'No such API route.' },
  session_exists: { status: 409, message: 'A session with that id already exists.' },
  session_not_active: { status: 409, message: 'The session has ended.' },
  wrong_planner: { status: 409, message: "The request does not fit the session's planner." },
  approval_params_mismatch: { status: 409, message: 'The approval was given for different params.' },
  approval_closed: { status: 409, message: 'The approval was already decided, or expired.' },
  max_iterations_reached: { status: 409, message: 'The session reached its max_iterations.' },
  action_cancelled: { status: 409, message: 'The action was cancelled with its session.' },
  request_timeout: { status: 408, message: 'The request was not received within its deadline.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'The request body must be application/json.' },
  rate_limited: { status: 429, message: 'Too many requests for this token.' },
  org_session_limit: { status: 429, message: 'The org holds its maximum of active sessions (ORG_MAX_SESSIONS).' },
  sandbox_quota_exceeded: { status: 507, message: "The write would take the session's sandbox over SANDBOX_MAX_BYTES." },
  session_memory_exceeded: {
    status: 507,
    message: 'The session keeps more memory than SESSION_MAX_MEMORY_BYTES allows; it failed alone.',
  },
  tool_error: { status: 500, message: 'The tool failed.' },
  skill_error: { status: 500, message: 'The skill failed.' },
  code_execution_failed: { status: 500, message: 'execute_code could not run the code.' },
  sandbox_unavailable: {
    status: 503,
    message: 'execute_code cannot be confined on this host (bubblewrap missing or namespaces refused), so it does not run.',
  },
  worker_crashed: { status: 500, message: "The session's worker thread crashed." },
  internal_error: { status: 500, message: 'An internal error occurred.' },
  audit_decrypt_failed: {
    status: 500,
    message: 'An encrypted audit record cannot be decrypted (unknown key id, bad tag or wrong record).',
  },
  audit_signing_key_invalid: {
    status: 500,
    message: 'AUDIT_SIGNING_KEY must be key_id:hmac:<base64, 32+ bytes> or key_id:ed25519:<base64 PKCS#8>, comma-separated.',
  },
  audit_encryption_key_invalid: {
    status: 500,
    message: 'AUDIT_ENCRYPTION_KEY must be a 32-byte key, or id:key pairs, each key base64 or 64 hex digits.',
  },
  migration_failed: { status: 500, message: 'A database migration failed; the schema is at the previous version.' },
  schema_too_new: {
    status: 500,
    message: 'The database schema is newer than this release knows; run the newer release or migrate down with it.',
  },
  mcp_token_key_invalid: {
    status: 500,
    message: 'MCP_TOKEN_KEY must be a 32-byte key, or id:key pairs, each key base64 or 64 hex digits.',
  },
  mcp_token_unreadable: {
    status: 500,
    message: 'A stored MCP token does not open with MCP_TOKEN_KEY (another key, another server, or an edited file).',
  },
  planner_error: { status: 502, message: 'The planner failed.' },
  mcp_authorization_required: {
    status: 502,
    message: 'The MCP server needs an authorization the runtime does not hold: semibot-runtime mcp login SERVER --org ORG.',
  },
  mcp_authorization_failed: { status: 502, message: 'Authorizing the runtime with the MCP server failed.' },
  mcp_unavailable: { status: 502, message: 'The MCP server is not reachable.' },
  mcp_call_failed: { status: 502, message: 'The MCP tool call failed.' },
  runtime_busy: { status: 503, message: 'The runtime is at max_sessions; retry later.' },
  runtime_stopping: { status: 503, message: 'The runtime is shutting down.' },
  node_lost: { status: 503, message: 'The cluster node that owned the session stopped answering; the session failed.' },
  cluster_unavailable: { status: 503, message: 'NATS is not reachable: the node cannot join the cluster.' },
  audit_unavailable: { status: 503, message: 'The audit trail cannot accept events.' },
  action_timeout: { status: 504, message: 'The action exceeded action_timeout_seconds.' },
  session_timeout: { status: 504, message: 'The session exceeded timeout_seconds.' },
  approval_timeout: { status: 504, message: 'Nobody decided within approval_timeout_seconds; the action is denied.' },
  mcp_timeout: { status: 504, message: 'The MCP tool call exceeded its timeout.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The wire shape of an error: what threads, HTTP and results carry. */
export const WireErrorSchema = z.object({
  code: z.custom<ErrorCode>(isErrorCode, 'expected an error code of the catalogue'),
  message: z.string(),
  data: z.unknown().optional(),
});
export type WireError = z.infer<typeof WireErrorSchema>;

export class RuntimeError extends Error {
  readonly code: ErrorCode;
  readonly data: unknown;

  constructor(code: ErrorCode, message?: string, data?: unknown) {
    super(message ?? ERROR_CATALOGUE[code].message);
    this.name = 'RuntimeError';
    this.code = code;
    this.data = data;
  }

  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }

  toWire(): WireError {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOGUE, value);
}

/** The message of anything thrown: an Error's (or an error-like object's from another thread), else its text. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'message' in err && typeof err.message === 'string') return err.message;
  return String(err);
}

/** Turns anything thrown into a wire error; unknown throwables become `fallback`. */
export function toWireError(err: unknown, fallback: ErrorCode = 'internal_error'): WireError {
  if (err instanceof RuntimeError) return err.toWire();
  if (err && typeof err === 'object' && 'code' in err && isErrorCode(err.code)) {
    const message = 'message' in err && typeof err.message === 'string' ? err.message : '';
    return { code: err.code, message: message || ERROR_CATALOGUE[err.code].message };
  }
  const message = errorMessage(err);
  return { code: fallback, message: message || ERROR_CATALOGUE[fallback].message };
}

/** Rebuilds a throwable from a wire error (on the receiving side of a thread or HTTP hop). */
export function fromWire(wire: WireError): RuntimeError {
  return new RuntimeError(wire.code, wire.message, wire.data);
}
