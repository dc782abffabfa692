/**
 * The shapes outside tools rely on (SPEC "Contracts"): the session body that
 * POST /v1/sessions, `semibot-runtime run <file>` and createSession() all take, actions,
 * results, policy and planners. Types are inferred from the schemas, never written twice.
 */
import { z } from 'zod';
import { AuditEventTypeSchema } from './audit/events.ts';
import type { WireError } from './errors.ts';

/** The longest id or action name, in UTF-16 units. */
export const MAX_ID_CHARS = 200;
// An id with a lone UTF-16 surrogate cannot be stored or sent intact (msgpack and the stores
// carry it as U+FFFD), so a session made with one could never be reached again: refuse it.
const id = z
  .string()
  .min(1)
  .max(MAX_ID_CHARS)
  .refine((text) => text.isWellFormed(), 'must be valid Unicode (it holds a lone surrogate)');

/**
 * The longest delay a Node timer can wait: 2^31 - 1 ms, about 24.8 days. A longer one does not
 * wait longer, it fires at once (with a warning), so a 30-day session timeout would end the
 * session a millisecond after it started. Durations that become timers are bounded by this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
export const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);
const TIMER_BOUND = `at most ${MAX_TIMER_SECONDS} s (about 24.8 days, the longest timer Node can set)`;

/** A duration in seconds that becomes a timer. */
export const timerSeconds = () =>
  z
    .number()
    .positive()
    .max(MAX_TIMER_SECONDS, { error: `must be ${TIMER_BOUND}` });

export const RuntimePolicySchema = z.strictObject({
  max_iterations: z.number().int().positive().max(100_000).optional(),
  timeout_seconds: timerSeconds().optional(),
  action_timeout_seconds: timerSeconds().optional(),
  max_concurrent_actions: z.number().int().positive().max(1000).optional(),
  require_approval_for_high_risk: z.boolean().optional(),
  high_risk_tools: z.array(z.string().min(1)).optional(),
  approval_timeout_seconds: timerSeconds().optional(),
  /** execute_code may use the network (it has none by default: its own network namespace) */
  execute_code_network: z.boolean().optional(),
});
export type RuntimePolicyInput = z.infer<typeof RuntimePolicySchema>;

/** A policy with every field set (defaults from config filled in). */
export type RuntimePolicy = Required<RuntimePolicyInput>;

export const DEFAULT_HIGH_RISK_TOOLS = ['delete_file', 'execute_code', 'modify_database'] as const;

export const AgentConfigSchema = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  model: z.string().min(1).max(200).optional(),
  system_prompt: z.string().max(100_000).optional(),
  temperature: z.number().min(0).max(2).optional(),
  max_tokens: z.number().int().positive().optional(),
});

export const McpTransportSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('stdio'),
    command: z.string().min(1),
    args: z.array(z.string()).optional(),
    env: z.record(z.string(), z.string()).optional(),
    cwd: z.string().optional(),
  }),
  z.strictObject({ type: z.literal('http'), url: z.url() }),
]);

const mcpServerId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,32}$/, 'an id of 1-32 letters, digits, _ or - (it becomes part of tool names)');

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'the name of an environment variable');

/**
 * How the runtime authorizes itself to an http MCP server (SPEC "Upstream MCP servers that need
 * authorization"; src/capabilities/mcp/auth/). Secrets are named by environment variable or
 * file, never written into the catalogue itself.
 */
export const McpAuthSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('bearer'), token_env: envName }),
  z
    .strictObject({
      type: z.literal('oauth'),
      /** authorization_code (a person logs in once per org: `mcp login`) or client_credentials */
      grant: z.enum(['authorization_code', 'client_credentials']).default('authorization_code'),
      /** a pre-registered client; without it, a client ID metadata document or dynamic registration */
      client_id: z.string().min(1).max(500).optional(),
      client_secret_env: envName.optional(),
      /** client_credentials: authenticate with a JWT signed by this private key (PEM) instead of a secret */
      private_key_file: z.string().min(1).optional(),
      signing_algorithm: z
        .enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])
        .optional(),
      /** an https URL serving this client's metadata, used as its client_id where the server supports it */
      client_metadata_url: z.url({ protocol: /^https$/ }).optional(),
      /** the authorization server the credentials belong to: they are presented to no other */
      issuer: z.url().optional(),
      /** scopes asked for when the server's challenge names none */
      scope: z.string().min(1).max(2000).optional(),
      /** the loopback redirect's port (default 0: any free port at each login) */
      redirect_port: z.number().int().min(0).max(65535).optional(),
    })
    .superRefine((auth, ctx) => {
      const issue = (path: string, message: string) =>
        ctx.addIssue({ code: 'custom', path: [path], message });
      if (auth.private_key_file !== undefined && auth.signing_algorithm === undefined)
        issue('signing_algorithm', 'private_key_file needs signing_algorithm');
      if (auth.client_secret_env !== undefined && auth.client_id === undefined)
        issue('client_id', 'client_secret_env belongs to a pre-registered client_id');
      if (auth.grant === 'client_credentials') {
        if (auth.client_id === undefined) issue('client_id', 'client_credentials needs client_id');
        if ((auth.client_secret_env === undefined) === (auth.private_key_file === undefined))
          issue('client_secret_env', 'client_credentials needs one of client_secret_env or private_key_file');
        if (auth.client_metadata_url !== undefined || auth.redirect_port !== undefined)
          issue('grant', 'client_metadata_url and redirect_port are for the authorization_code grant');
      } else if (auth.private_key_file !== undefined) {
        issue('private_key_file', 'private_key_file is for the client_credentials grant');
      }
    }),
]);
export type McpAuthConfig = z.infer<typeof McpAuthSchema>;

const McpServerFields = z.strictObject({
  id: mcpServerId,
  name: z.string().min(1).max(200).optional(),
  transport: McpTransportSchema,
  /** how the runtime authorizes itself to an http server */
  auth: McpAuthSchema.optional(),
  /** tool names that may be retried after a failure even without readOnly/idempotent hints */
  retry_tools: z.array(z.string()).optional(),
});
function authOnHttp(server: { auth?: unknown; transport: { type: string } }): boolean {
  return server.auth === undefined || server.transport.type === 'http';
}
const AUTH_ON_HTTP = {
  path: ['auth'],
  message: 'auth is for http servers (a stdio server gets its credentials through env)',
};
export const McpServerSchema = McpServerFields.refine(authOnHttp, AUTH_ON_HTTP);
export type McpServerConfig = z.infer<typeof McpServerSchema>;

/**
 * An entry of the operator's catalogue (`mcp.servers`, MCP_SERVERS_FILE): a server with an
 * optional list of the orgs that may use it (absent: every org).
 */
export const McpCatalogueEntrySchema = McpServerFields.extend({ orgs: z.array(id).min(1).optional() }).refine(
  authOnHttp,
  AUTH_ON_HTTP,
);
export type McpCatalogueEntry = z.infer<typeof McpCatalogueEntrySchema>;

/**
 * How a session request names an MCP server: a catalogue id (`"github"` or `{"id": "github"}`),
 * or, from the operator's own doors only (library, CLI `run`), a full entry with its transport.
 */
export const McpServerRequestSchema = z.union([
  mcpServerId,
  z.strictObject({ id: mcpServerId }),
  McpServerSchema,
]);
export type McpServerRequest = z.infer<typeof McpServerRequestSchema>;

export const ActionSchema = z.strictObject({
  id: id.optional(),
  name: id,
  params: z.record(z.string(), z.unknown()).default({}),
});
export type ActionInput = z.input<typeof ActionSchema>;
/** An action with its id assigned (by the supervisor, when the caller gave none). */
export const AssignedActionSchema = z.strictObject({
  id,
  name: id,
  params: z.record(z.string(), z.unknown()),
});
export type Action = z.infer<typeof AssignedActionSchema>;

export const PlannerSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('scripted'), steps: z.array(z.array(ActionSchema)) }),
  z.strictObject({ type: z.literal('external') }),
  z.strictObject({
    type: z.literal('openai'),
    base_url: z.url(),
    model: z.string().min(1),
    api_key_env: z.string().min(1).optional(),
  }),
]);
export type PlannerSpec = z.infer<typeof PlannerSchema>;

export const SessionRequestSchema = z.strictObject({
  org_id: id,
  user_id: id,
  agent_id: id,
  session_id: id.optional(),
  agent: AgentConfigSchema.optional(),
  tools: z.array(z.string().min(1)).optional(),
  skills: z.array(z.string().min(1)).optional(),
  mcp_servers: z.array(McpServerRequestSchema).optional(),
  policy: RuntimePolicySchema.optional(),
  planner: PlannerSchema.default({ type: 'external' }),
  task: z.string().max(100_000).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
export type SessionRequest = z.input<typeof SessionRequestSchema>;
export type ParsedSessionRequest = z.infer<typeof SessionRequestSchema>;

/**
 * The immutable context a session runs with (the request with ids, MCP servers and policy
 * resolved). It crosses threads and, in a cluster, the network: a peer node parses it with
 * this schema before it starts a session (src/session-protocol.ts).
 */
export const SessionContextSchema = z.strictObject({
  org_id: id,
  user_id: id,
  agent_id: id,
  session_id: id,
  agent: AgentConfigSchema,
  tools: z.array(z.string().min(1)),
  skills: z.array(z.string().min(1)),
  mcp_servers: z.array(McpServerSchema),
  policy: RuntimePolicySchema.required(),
  planner: PlannerSchema,
  task: z.string().max(100_000).optional(),
  metadata: z.record(z.string(), z.unknown()),
  /** resolved in the main thread at creation (e.g. the openai planner's API key); never audited */
  secrets: z.strictObject({ planner_api_key: z.string().optional() }).optional(),
  /** the principal that started the session (an API token's name); audited in session_started */
  started_by: z.string().min(1).max(MAX_ID_CHARS).optional(),
  /** APPROVAL_SEPARATION: started_by may not approve this session's actions */
  approval_separation: z.boolean().optional(),
  /**
   * nobody can answer an approval request in this session (an MCP client over stdio without
   * elicitation): a high-risk action is refused at once with approval_unavailable
   */
  approvals_unavailable: z.boolean().optional(),
  /** W3C traceparent of the caller (HTTP API, MCP endpoint): the session's trace span is its child */
  traceparent: z
    .string()
    .regex(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/)
    .optional(),
});
export type SessionContext = z.infer<typeof SessionContextSchema>;

export const SessionStateSchema = z.enum(['running', 'waiting_approval', 'completed', 'failed', 'cancelled']);
export type SessionState = z.infer<typeof SessionStateSchema>;

const TERMINAL_STATES: ReadonlySet<SessionState> = new Set(['completed', 'failed', 'cancelled']);

/** A session in one of these states has ended for good. */
export function isTerminal(state: SessionState): boolean {
  return TERMINAL_STATES.has(state);
}

export interface ActionResult {
  action_id: string;
  name: string;
  success: boolean;
  result?: unknown;
  error?: WireError;
  duration_ms: number;
  metadata?: Record<string, unknown>;
}

export interface CapabilitySummary {
  name: string;
  kind: 'skill' | 'tool' | 'mcp';
  version: string;
  source: string;
  description: string;
  input_schema: Record<string, unknown>;
  /** changes nothing outside the runtime (MCP clients see readOnlyHint) */
  read_only?: boolean;
}

export const PendingApprovalSchema = z.object({
  action_id: z.string(),
  name: z.string(),
  params: z.record(z.string(), z.unknown()),
  params_hash: z.string(),
  requested_at: z.string(),
  expires_at: z.string(),
});
export type PendingApproval = z.infer<typeof PendingApprovalSchema>;

export interface SessionStatus {
  session_id: string;
  org_id: string;
  state: SessionState;
  iteration: number;
  results: ActionResult[];
  pending_approvals: PendingApproval[];
  error?: WireError;
  started_at: string;
  ended_at?: string;
}

export const ApprovalDecisionSchema = z.strictObject({
  granted: z.boolean(),
  reason: z.string().max(10_000).optional(),
  decided_by: z.string().min(1).max(200).optional(),
  /** when given, must equal the hash of the params awaiting approval */
  params_hash: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});
export type ApprovalDecision = z.infer<typeof ApprovalDecisionSchema>;

/** A webhook of the operator's config (`webhooks:` / WEBHOOKS_FILE): src/review/webhooks.ts delivers to it. */
export const WebhookSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
  event_types: z.array(AuditEventTypeSchema).min(1),
  secret: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'expected whsec_ followed by base64')
    .refine((s) => Buffer.from(s.slice(6), 'base64').length >= 24, 'the secret must hold at least 24 bytes'),
  /** only these orgs' events (default: every org) */
  orgs: z.array(z.string().min(1)).min(1).optional(),
});
export type Webhook = z.infer<typeof WebhookSchema>;

/**
 * An agent profile of the operator's config (`agents:` / AGENTS_FILE): what an agent reached
 * through the runtime's MCP endpoint may use. Its MCP servers are catalogue ids (mcp.servers).
 */
export const AgentProfileSchema = z.strictObject({
  id: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/,
      'letters, digits, ".", "_" or "-" (at most 100), starting with a letter or digit',
    ),
  name: z.string().min(1).max(200).optional(),
  tools: z.array(z.string().min(1)).default([]),
  skills: z.array(z.string().min(1)).default([]),
  mcp_servers: z.array(mcpServerId).default([]),
  policy: RuntimePolicySchema.optional(),
  /** only these orgs' tokens may use the profile (default: every org) */
  orgs: z.array(id).min(1).optional(),
});
export type AgentProfile = z.infer<typeof AgentProfileSchema>;
