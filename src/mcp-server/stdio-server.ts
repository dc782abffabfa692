/**
 * The runtime as an MCP server over stdio, for desktop clients that start it as a program
 * (`semibot-runtime mcp --agent ID`). One process, one MCP session, one runtime session.
 *
 *   stdin/stdout (the SDK's stdio transport) ──► governed-server.ts ──► the runtime session
 *   initialized ──► the runtime session starts (the client's capabilities are known by then)
 *   a high-risk call ──► elicitation/create {approve, reason} to the client, when it declares
 *                        form elicitation; without it the call is refused (approval_unavailable)
 *   stdin closes / SIGTERM ──► session_ended, every audit event stored, exit
 *
 * Logs go to stderr: stdout carries the protocol and nothing else.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Config } from '../../config/schema.ts';
import { errorMessage } from '../errors.ts';
import { resolvePolicy } from '../execution/policy.ts';
import type { Runtime, Session } from '../runtime.ts';
import { profileSessionRequest, resolveAgent } from './agent-profile.ts';
import { ApprovalWatch } from './approval-watch.ts';
import { type ApprovalChannel, createGovernedServer } from './governed-server.ts';

/** Params longer than this are cut in the question shown to the person (the trail keeps them whole). */
const MAX_PARAMS_CHARS = 2000;

export interface StdioServeOptions {
  agentId: string;
  orgId: string;
  userId: string;
  /** defaults to this process's stdin/stdout */
  transport?: StdioServerTransport;
}

/** Serves until the client goes away; resolves with the session's final state. */
export async function serveStdio(runtime: Runtime, options: StdioServeOptions): Promise<string> {
  const config: Readonly<Config> = runtime.config;
  const { profile } = resolveAgent(config, options.agentId, options.orgId);
  const watch = new ApprovalWatch(runtime);
  let resolveSession!: (session: Session) => void;
  let rejectSession!: (err: unknown) => void;
  const started = new Promise<Session>((resolve, reject) => {
    resolveSession = resolve;
    rejectSession = reject;
  });
  started.catch(() => {});

  const askTheUser: ApprovalChannel = (approval, { session, server }) => {
    const asking = new AbortController();
    const params = JSON.stringify(approval.params);
    const shown = params.length > MAX_PARAMS_CHARS ? `${params.slice(0, MAX_PARAMS_CHARS)}…` : params;
    const decidedBy = `${options.userId} (MCP elicitation)`;
    void server
      .elicitInput(
        {
          mode: 'form',
          message: `Approve the high-risk action ${approval.name} with params ${shown}? It is denied at ${approval.expires_at} if nobody decides.`,
          requestedSchema: {
            type: 'object',
            properties: {
              approve: {
                type: 'boolean',
                title: 'Approve',
                description: `run ${approval.name} with exactly these params`,
              },
              reason: { type: 'string', title: 'Reason', description: 'recorded in the audit trail' },
            },
            required: ['approve'],
          },
        },
        { signal: asking.signal, timeout: Math.max(1000, Date.parse(approval.expires_at) - Date.now()) },
      )
      .then(
        (answer) => {
          const granted = answer.action === 'accept' && answer.content?.approve === true;
          const given = answer.content?.reason;
          const reason =
            typeof given === 'string' && given !== ''
              ? given
              : answer.action === 'accept'
                ? undefined
                : `the user chose ${answer.action}`;
          return session.approve(approval.action_id, granted, {
            decided_by: decidedBy,
            params_hash: approval.params_hash,
            ...(reason !== undefined ? { reason } : {}),
          });
        },
        (err: unknown) => {
          if (asking.signal.aborted) return;
          return session.approve(approval.action_id, false, {
            decided_by: decidedBy,
            reason: `the approval question failed: ${errorMessage(err)}`,
          });
        },
      )
      // The action may have ended meanwhile (timed out, session over): nothing left to decide.
      .catch(() => {});
    return () => asking.abort();
  };

  const server = createGovernedServer({
    session: () => started,
    policy: resolvePolicy(profile.policy, config.policy),
    watch,
    onApproval: askTheUser,
    principal: options.userId,
  });
  server.oninitialized = () => {
    const client = server.getClientVersion();
    const canAsk = server.getClientCapabilities()?.elicitation?.form !== undefined;
    runtime
      .createSession(
        profileSessionRequest(profile, {
          org_id: options.orgId,
          user_id: options.userId,
          session_id: crypto.randomUUID(),
          ...(client ? { client } : {}),
        }),
        undefined,
        { approvalsUnavailable: !canAsk },
      )
      .then(resolveSession, (err: unknown) => {
        runtime.log.error({ err }, 'the MCP session could not start');
        rejectSession(err);
      });
  };

  const transport = options.transport ?? new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve();
  });
  await server.connect(transport);
  // stdin ending is the client going away; SIGINT/SIGTERM the operator stopping us.
  process.stdin.once('end', () => void server.close());
  const stop = () => void server.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await closed;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  watch.close();
  const session = await started.catch(() => undefined);
  if (session === undefined) return 'not started';
  const status = await session.end('the MCP client disconnected');
  return status.state;
}
