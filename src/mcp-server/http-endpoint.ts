/**
 * The runtime as a Streamable HTTP MCP server: /mcp/:agent_id on the API port (issue 19).
 *
 *   request ─► Host/Origin allowed? (host-origin.ts; 403 origin_not_allowed)
 *           ─► bearer token → org and principal (401), role `run` (403)
 *           ─► agent profile open to that org? (agent-profile.ts; 404 agent_not_found)
 *           ─► no Mcp-Session-Id + initialize: a runtime session from the profile, and the SDK's
 *              transport + governed-server.ts for it; its session id is the Mcp-Session-Id
 *           ─► Mcp-Session-Id: that session, only for the token (and agent) that opened it (404)
 *           ─► the SDK transport (POST: JSON-RPC, answered as SSE; GET: server stream; DELETE: close)
 *
 * DELETE or MCP_IDLE_TIMEOUT_SECONDS without a request end the runtime session (session_ended
 * records why). Tokens a client presents stay here: upstream MCP servers are reached with the
 * catalogue's own credentials, never the client's.
 */
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config/schema.ts';
import { ERROR_CATALOGUE, RuntimeError, toWireError } from '../errors.ts';
import { resolvePolicy } from '../execution/policy.ts';
import type { Logger } from '../log.ts';
import type { Runtime, Session } from '../runtime.ts';
import type { Principal } from '../api/http/auth.ts';
import { assertRole } from '../api/http/auth.ts';
import { profileSessionRequest, resolveAgent } from './agent-profile.ts';
import { ApprovalWatch } from './approval-watch.ts';
import { type ApprovalChannel, createGovernedServer } from './governed-server.ts';
import { HostOriginCheck } from './host-origin.ts';

export interface McpEndpointDeps {
  runtime: Runtime;
  config: Readonly<Config>;
  log: Logger;
  principal(request: FastifyRequest): Principal;
  draining(): boolean;
}

interface OpenSession {
  session: Session;
  transport: StreamableHTTPServerTransport;
  server: Server;
  agentId: string;
  tokenId: string;
  lastActive: number;
  /** tools/call running now: a session waiting for an approval is not idle */
  running: number;
  closed: boolean;
}

const SESSION_HEADER = 'mcp-session-id';

export function mcpEndpoint(app: FastifyInstance, deps: McpEndpointDeps): void {
  const settings = deps.config.mcp.endpoint;
  const check = new HostOriginCheck(settings.allowed_hosts, settings.allowed_origins);
  const watch = new ApprovalWatch(deps.runtime);
  const open = new Map<string, OpenSession>();
  const perOrg = new Map<string, number>();
  const idleMs = settings.idle_timeout_seconds * 1000;
  const progressMs = settings.progress_interval_seconds * 1000;

  const close = async (entry: OpenSession, reason: string): Promise<void> => {
    if (entry.closed) return;
    entry.closed = true;
    open.delete(entry.session.id);
    const org = entry.session.orgId;
    const left = (perOrg.get(org) ?? 1) - 1;
    if (left > 0) perOrg.set(org, left);
    else perOrg.delete(org);
    // Not awaited: the session ends once its in-flight actions finish (a call waiting for a
    // person could take until its approval timeout), and the DELETE is answered now.
    void entry.session.end(reason).catch(() => {});
    await entry.transport.close().catch(() => {});
  };

  // Idle sessions end; checked at a fraction of the timeout, so one ends within 1.25× of it.
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const entry of open.values()) {
        if (entry.running === 0 && now - entry.lastActive >= idleMs) {
          void close(entry, `MCP session idle for ${settings.idle_timeout_seconds} s`);
        }
      }
    },
    Math.max(50, Math.min(idleMs / 4, 30_000)),
  );
  sweep.unref();
  app.addHook('preClose', async () => {
    clearInterval(sweep);
    watch.close();
    // The runtime has drained by now (the daemon stops it first): only the streams are left.
    await Promise.all([...open.values()].map((entry) => close(entry, 'the runtime is stopping')));
  });

  /** While a call waits for a person: notifications/progress, if the client asked for progress. */
  const progressWhileWaiting: ApprovalChannel = (approval, { extra }) => {
    const token = extra._meta?.progressToken;
    if (token === undefined) return undefined;
    let progress = 0;
    const message =
      `waiting for a person to approve ${approval.name} (action ${approval.action_id}; ` +
      `GET /v1/approvals), until ${approval.expires_at}`;
    const send = () =>
      void extra
        .sendNotification({
          method: 'notifications/progress',
          params: { progressToken: token, progress: ++progress, message },
        })
        .catch(() => {});
    send();
    const timer = setInterval(send, progressMs);
    return () => clearInterval(timer);
  };

  const openSession = async (
    request: FastifyRequest,
    principal: Principal,
    agentId: string,
  ): Promise<OpenSession> => {
    if (deps.draining())
      throw new RuntimeError('runtime_stopping', 'the daemon is shutting down; it takes no new sessions');
    const { profile, orgId } = resolveAgent(deps.config, agentId, principal.org_id);
    if ((perOrg.get(orgId) ?? 0) >= settings.max_sessions_per_org) {
      throw new RuntimeError(
        'mcp_session_limit',
        `org ${orgId} holds ${settings.max_sessions_per_org} open MCP sessions (MCP_MAX_SESSIONS_PER_ORG)`,
      );
    }
    perOrg.set(orgId, (perOrg.get(orgId) ?? 0) + 1);
    let session: Session;
    try {
      session = await deps.runtime.createSession(
        profileSessionRequest(profile, {
          org_id: orgId,
          user_id: principal.name,
          // Not guessable (the MCP spec's session-hijacking guidance), and it is also the token's own.
          session_id: randomUUID(),
          ...clientInfo(request.body),
        }),
        undefined,
        {
          from: 'api',
          startedBy: principal.name,
          ...(typeof request.headers.traceparent === 'string'
            ? { traceparent: request.headers.traceparent }
            : {}),
        },
      );
    } catch (err) {
      perOrg.set(orgId, (perOrg.get(orgId) ?? 1) - 1);
      throw err;
    }
    const entry: OpenSession = {
      session,
      agentId,
      tokenId: principal.token_id,
      lastActive: Date.now(),
      running: 0,
      closed: false,
      transport: new StreamableHTTPServerTransport({
        sessionIdGenerator: () => session.id,
        onsessionclosed: () => close(entry, 'the MCP client closed the session'),
      }),
      server: createGovernedServer({
        session: async () => session,
        policy: resolvePolicy(profile.policy, deps.config.policy),
        watch,
        onApproval: progressWhileWaiting,
        principal: principal.name,
        onCall: (running) => {
          entry.running += running ? 1 : -1;
          entry.lastActive = Date.now();
        },
      }),
    };
    open.set(session.id, entry);
    await entry.server.connect(entry.transport);
    return entry;
  };

  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    const problem = check.problem(request.headers.host, request.headers.origin);
    if (problem) return sendError(reply, new RuntimeError('origin_not_allowed', problem));
    let principal: Principal;
    try {
      principal = deps.principal(request);
      assertRole(principal, 'run');
    } catch (err) {
      return sendError(reply, err);
    }
    const { agent_id: agentId } = request.params as { agent_id: string };
    const header = request.headers[SESSION_HEADER];
    const sessionId = typeof header === 'string' ? header : undefined;
    let entry: OpenSession | undefined;
    if (sessionId === undefined) {
      const body = request.body;
      const initializing =
        request.method === 'POST' &&
        (Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body));
      if (!initializing) {
        return sendError(
          reply,
          new RuntimeError('invalid_request', 'Mcp-Session-Id header is required (send initialize first)'),
        );
      }
      try {
        entry = await openSession(request, principal, agentId);
      } catch (err) {
        return sendError(reply, err);
      }
    } else {
      entry = open.get(sessionId);
      // Another token's (or agent's) session is answered like one that does not exist.
      if (entry === undefined || entry.tokenId !== principal.token_id || entry.agentId !== agentId) {
        return sendError(
          reply,
          new RuntimeError(
            'session_not_found',
            `no MCP session ${sessionId} (it ended, or never existed); initialize a new one`,
          ),
        );
      }
    }
    entry.lastActive = Date.now();
    reply.hijack();
    try {
      await entry.transport.handleRequest(request.raw, reply.raw, request.body);
    } catch (err) {
      deps.log.warn({ err, session_id: entry.session.id }, 'MCP request failed');
      if (!reply.raw.headersSent) sendRaw(reply, err);
    }
    // An initialize the transport refused (a bad Accept header, say) leaves no MCP session.
    if (sessionId === undefined && entry.transport.sessionId === undefined) {
      await close(entry, 'the MCP initialize request was refused');
    }
  };

  app.route({ method: ['GET', 'POST', 'DELETE'], url: '/mcp/:agent_id', handler: handle });
}

function clientInfo(body: unknown): { client?: { name: string; version: string } } {
  const first = Array.isArray(body) ? body.find(isInitializeRequest) : body;
  return isInitializeRequest(first) ? { client: first.params.clientInfo } : {};
}

/** A JSON-RPC error body (what MCP clients read) carrying the runtime's error code in data. */
function errorBody(err: unknown): { status: number; body: string } {
  const wire = toWireError(err);
  const status = ERROR_CATALOGUE[wire.code]?.status ?? 500;
  return {
    status,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32000, message: wire.message, data: { code: wire.code } },
    }),
  };
}

function sendError(reply: FastifyReply, err: unknown) {
  const { status, body } = errorBody(err);
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="semibot-runtime"');
  return reply.status(status).type('application/json').send(body);
}

function sendRaw(reply: FastifyReply, err: unknown): void {
  const { status, body } = errorBody(err);
  reply.raw.writeHead(status, { 'content-type': 'application/json' }).end(body);
}
