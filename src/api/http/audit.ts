/**
 * Audit routes: GET /v1/audit/events and GET /v1/audit/count. A token only ever sees its own
 * org: its org is forced into the query, and naming another org is refused.
 */
import type { FastifyInstance } from 'fastify';
import type { AuditQuery } from '../../audit/events.ts';
import { parseOrThrow } from '../../validation.ts';
import { assertOrg, assertRole } from './auth.ts';
import { AuditQueryParamsSchema } from './schemas.ts';
import type { RouteDeps } from './sessions.ts';

export function auditRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const toQuery = (request: Parameters<RouteDeps['principal']>[0]): AuditQuery => {
    const principal = deps.principal(request);
    assertRole(principal, 'read');
    const params = parseOrThrow(AuditQueryParamsSchema, request.query, 'invalid_request', 'audit query');
    if (params.org_id !== undefined) assertOrg(principal, params.org_id);
    const { event_type, ...rest } = params;
    return {
      ...rest,
      ...(principal.org_id !== undefined ? { org_id: principal.org_id } : {}),
      ...(event_type !== undefined ? { event_types: event_type } : {}),
    };
  };

  app.get('/v1/audit/events', async (request) => {
    const query = toQuery(request);
    const events = await deps.runtime.audit.query(query);
    return { events, limit: query.limit ?? 100, offset: query.offset ?? 0 };
  });

  app.get('/v1/audit/count', async (request) => {
    const { limit: _limit, offset: _offset, ...query } = toQuery(request);
    return { count: await deps.runtime.audit.count(query) };
  });
}
