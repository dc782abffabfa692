/**
 * The admin listener (ADMIN_PORT, 8901): /health, /version and /metrics. No bearer token:
 * it binds to HOST like the API and is meant for the local Prometheus and load balancer only
 * (nginx does not proxy it; see deploy/nginx/semibot.conf).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { ComponentStatus, Runtime } from '../../runtime.ts';
import type { RuntimeMetrics } from '../../metrics/runtime-metrics.ts';
import { VERSION, versionDocument } from '../version.ts';
import { healthDocument } from './health.ts';

export interface AdminDeps {
  runtime: Runtime;
  metrics: RuntimeMetrics;
  daemonStatus(): { status: ComponentStatus; detail?: string };
}

export function buildAdminServer(deps: AdminDeps): FastifyInstance {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  app.get('/health', async (_request, reply) => {
    const { code, body } = await healthDocument(deps.runtime, VERSION, deps.daemonStatus);
    return reply.status(code).send(body);
  });
  app.get('/version', async () => versionDocument());
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', deps.metrics.contentType);
    return deps.metrics.text();
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: { code: 'route_not_found', message: `no admin route ${request.method} ${request.url}` },
    }),
  );
  return app;
}
