/**
 * Session routes (SPEC contract table). Each parses its body with a schema, checks the token's
 * org, then asks the runtime; errors are mapped by errors.ts.
 *
 *   POST   /v1/sessions                          → runtime.createSession (+ run() for autonomous planners)
 *   GET    /v1/sessions/:id                      → session.status()
 *   POST   /v1/sessions/:id/actions              → session.execute(batch)   (external planner)
 *   POST   /v1/sessions/:id/approvals/:action_id → session.approve()
 *   DELETE /v1/sessions/:id                      → session.cancel()
 *   GET    /v1/sessions                          → the org's sessions from the trail (src/review/sessions.ts)
 *   GET    /v1/sessions/:id/verify               → runtime.audit.verify (chain + signed checkpoints)
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type ActionInput, SessionRequestSchema } from '../../contracts.ts';
import { RuntimeError } from '../../errors.ts';
import type { Runtime, Session } from '../../runtime.ts';
import { parseOrThrow } from '../../validation.ts';
import { type Principal, type Role, assertOrg, assertRole } from './auth.ts';
import { SessionListFiltersSchema, listSessions } from '../../review/sessions.ts';
import { ActionBatchSchema, ApprovalBodySchema, MAX_BATCH, SessionListParamsSchema } from './schemas.ts';

export interface RouteDeps {
  runtime: Runtime;
  principal(request: FastifyRequest): Principal;
  /** true once SIGTERM arrived: no new sessions or action batches */
  draining(): boolean;
  /** registers work the daemon must let finish (up to its drain timeout) before stopping */
  track<T>(work: Promise<T>): Promise<T>;
}

/**
 * Resolves once the event loop has finished this turn's I/O callbacks (setImmediate), the same
 * promise for every caller of the turn.
 *
 * Why: the transport packs everything sent in one tick into one frame (one postMessage, one
 * wake-up of the worker), but each HTTP request is handled in its own socket callback, so
 * without this every action batch travelled alone. Requests that arrive together (one poll of
 * the sockets) now reach the supervisor together, in the same tick; the wait is the rest of
 * that poll, which is the other requests' own handling.
 */
let turn: Promise<void> | undefined;
function nextTurn(): Promise<void> {
  turn ??= new Promise((resolve) =>
    setImmediate(() => {
      turn = undefined;
      resolve();
    }),
  );
  return turn;
}

/**
 * The actions of a batch body. Session.execute checks each action against ActionSchema (as it
 * does for library callers), so a well-formed bare array is passed on as it is rather than
 * parsed twice; any other body goes through ActionBatchSchema, whose errors name the problem.
 */
function actionsOf(body: unknown): ActionInput[] {
  if (Array.isArray(body) && body.length >= 1 && body.length <= MAX_BATCH) return body as ActionInput[];
  return parseOrThrow(ActionBatchSchema, body, 'invalid_request', 'actions');
}

export function sessionRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { runtime } = deps;

  /**
   * The token's org's session of that id (else 404). Ids are unique within an org (issue 15):
   * another org's session of the same id is never found, and never said to exist.
   */
  const sessionFor = (request: FastifyRequest, ...roles: Role[]): Session => {
    const principal = deps.principal(request);
    assertRole(principal, ...roles);
    const { id } = request.params as { id: string };
    return runtime.session(id, principal.org_id);
  };

  const refuseWhileDraining = () => {
    if (deps.draining())
      throw new RuntimeError('runtime_stopping', 'the daemon is shutting down; it takes no new work');
  };

  app.post('/v1/sessions', async (request, reply) => {
    refuseWhileDraining();
    const principal = deps.principal(request);
    assertRole(principal, 'run');
    const body = parseOrThrow(SessionRequestSchema, request.body, 'invalid_request', 'session request');
    assertOrg(principal, body.org_id);
    // An API request names MCP servers of the operator's catalogue only (issue 15).
    const traceparent = request.headers.traceparent;
    const session = await runtime.createSession(body, undefined, {
      from: 'api',
      startedBy: principal.name,
      // An incoming W3C trace context parents the session's trace (ignored when malformed).
      ...(typeof traceparent === 'string' ? { traceparent } : {}),
    });
    if (body.planner.type !== 'external') {
      // Autonomous planners run in the background; the caller polls GET /v1/sessions/:id.
      deps
        .track(session.run())
        .catch((err: unknown) =>
          request.log.warn({ err, session_id: session.id }, 'session run ended with an error'),
        );
    }
    return reply.status(201).send({
      session_id: session.id,
      state: session.initialState,
      capabilities: session.capabilities,
    });
  });

  app.get('/v1/sessions', async (request) => {
    const principal = deps.principal(request);
    assertRole(principal, 'read');
    const params = parseOrThrow(SessionListParamsSchema, request.query, 'invalid_request', 'sessions query');
    return listSessions(runtime, principal.org_id, SessionListFiltersSchema.parse(params));
  });

  app.get('/v1/sessions/:id', async (request) => sessionFor(request, 'read').status());

  // From the trail, so an ended (or another node's) session verifies too.
  app.get('/v1/sessions/:id/verify', async (request) => {
    const principal = deps.principal(request);
    assertRole(principal, 'read');
    const { id } = request.params as { id: string };
    const verdict = await runtime.audit.verify(id, principal.org_id);
    if (verdict.events === 0) throw new RuntimeError('session_not_found', `no session ${id}`);
    return {
      session_id: id,
      valid: verdict.ok,
      events: verdict.events,
      complete: verdict.complete,
      head: verdict.head ?? null,
      first_bad: verdict.first_bad ?? null,
      problems: verdict.problems,
    };
  });

  app.post('/v1/sessions/:id/actions', async (request, reply) => {
    refuseWhileDraining();
    const session = sessionFor(request, 'run');
    const actions = actionsOf(request.body);
    const results = await deps.track(nextTurn().then(() => session.execute(actions)));
    // Draining began while this batch ran: this answer is the socket's last.
    if (deps.draining()) reply.header('connection', 'close');
    return { results };
  });

  app.post('/v1/sessions/:id/approvals/:action_id', async (request) => {
    const session = sessionFor(request, 'approve');
    const { action_id } = request.params as { action_id: string };
    const body = parseOrThrow(ApprovalBodySchema, request.body, 'invalid_request', 'approval');
    const principal = deps.principal(request);
    await session.approve(action_id, body.granted, {
      decided_by: principal.name,
      ...(body.reason !== undefined ? { reason: body.reason } : {}),
      ...(body.params_hash !== undefined ? { params_hash: body.params_hash } : {}),
    });
    return { session_id: session.id, action_id, granted: body.granted };
  });

  app.delete('/v1/sessions/:id', async (request) =>
    sessionFor(request, 'run').cancel('cancelled through the HTTP API'),
  );
}
