/**
 * The approvals inbox over HTTP (issue 18): what waits for a person, and the decision.
 *
 *   GET  /v1/approvals?state=&session_id=&agent_id=&limit=   read or approve role → src/review/approvals.ts
 *   POST /v1/approvals/:approval_id {granted, reason?}        approve role → Session.approve (the session protocol)
 *
 * Org-scoped like every route: another org's approval is 404 approval_not_found.
 */
import type { FastifyInstance } from 'fastify';
import { ApprovalFiltersSchema, decideApproval, listApprovals } from '../../review/approvals.ts';
import { parseOrThrow } from '../../validation.ts';
import { assertRole } from './auth.ts';
import { ApprovalDecisionBodySchema, ApprovalListParamsSchema } from './schemas.ts';
import type { RouteDeps } from './sessions.ts';

export function approvalRoutes(app: FastifyInstance, deps: RouteDeps): void {
  app.get('/v1/approvals', async (request) => {
    const principal = deps.principal(request);
    assertRole(principal, 'read', 'approve');
    const params = parseOrThrow(
      ApprovalListParamsSchema,
      request.query,
      'invalid_request',
      'approvals query',
    );
    const filters = ApprovalFiltersSchema.parse(params);
    return { approvals: await listApprovals(deps.runtime, principal.org_id, filters) };
  });

  app.post('/v1/approvals/:approval_id', async (request) => {
    const principal = deps.principal(request);
    assertRole(principal, 'approve');
    const { approval_id } = request.params as { approval_id: string };
    const body = parseOrThrow(
      ApprovalDecisionBodySchema,
      request.body,
      'invalid_request',
      'approval decision',
    );
    const decided = await deps.track(
      decideApproval(deps.runtime, principal.org_id, approval_id, {
        granted: body.granted,
        decided_by: principal.name,
        ...(body.reason !== undefined ? { reason: body.reason } : {}),
      }),
    );
    return { approval: decided };
  });
}
