/**
 * The HTTP API (HTTP_PORT, 8000), behind nginx in production.
 *
 *   request ─► onRequest: rate limit (bucket = token, else client address; trustProxy makes
 *              that X-Forwarded-For, or every client would share nginx's address)
 *           ─► preHandler: bearer token → org (auth.ts)   ─► route (sessions.ts, audit.ts)
 *           ─► runtime (src/runtime.ts) ─► supervisor ─► session worker
 *   errors  ─► errors.ts: {"error": {"code", "message"}} with the catalogue's status
 */
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Config } from '../../../config/schema.ts';
import { RuntimeError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { RuntimeMetrics } from '../../metrics/runtime-metrics.ts';
import type { ComponentStatus, Runtime } from '../../runtime.ts';
import { healthDocument } from '../admin/health.ts';
import { VERSION } from '../version.ts';
import { auditRoutes } from './audit.ts';
import type { Principal, TokenTable } from './auth.ts';
import { errorHandler } from './errors.ts';
import { sessionRoutes } from './sessions.ts';

export interface ApiDeps {
  runtime: Runtime;
  config: Readonly<Config>;
  log: Logger;
  tokens: TokenTable;
  metrics?: RuntimeMetrics;
  draining(): boolean;
  track<T>(work: Promise<T>): Promise<T>;
  daemonStatus(): { status: ComponentStatus; detail?: string };
}

const PRINCIPAL = Symbol('principal');
type WithPrincipal = FastifyRequest & { [PRINCIPAL]?: Principal };

/** TRUST_PROXY arrives as text from the environment: "true", "2" (hops) or addresses. */
export function trustProxyOption(
  value: Config['server']['trust_proxy'],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof value === 'boolean') return value;
  const text = String(value).trim().toLowerCase();
  if (text === 'true') return true;
  if (text === 'false' || text === '') return false;
  // A hop count: trust that many proxies in front of us.
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    return (_address, hop) => hop < hops;
  }
  return String(value)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export async function buildApiServer(deps: ApiDeps): Promise<FastifyInstance> {
  const { server } = deps.config;
  const app = Fastify({
    logger: false,
    bodyLimit: server.body_limit_bytes,
    trustProxy: trustProxyOption(server.trust_proxy),
    // Keep-alive sockets that sit idle must not hold close() open (FACTS.md); the daemon also
    // calls closeIdleConnections() while draining, for sockets that go idle after close().
    forceCloseConnections: 'idle',
  });
  app.setErrorHandler(errorHandler(deps.log));
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: {
        code: 'route_not_found',
        message: `no route ${request.method} ${request.url.split('?')[0]}`,
      },
    }),
  );
  // JSON only: a text/plain body gets 415 instead of reaching a schema as a string.
  app.removeContentTypeParser('text/plain');

  await app.register(rateLimit, {
    global: true,
    max: server.rate_limit_max,
    timeWindow: server.rate_limit_window_seconds * 1000,
    keyGenerator: (request) => deps.tokens.bucketOf(request.headers.authorization) ?? `ip:${request.ip}`,
    errorResponseBuilder: (_request, context) =>
      Object.assign(
        new RuntimeError(
          'rate_limited',
          `more than ${context.max} requests in ${context.after}; retry later`,
        ),
        { statusCode: 429 },
      ),
    // The x-ratelimit-* headers only on 429 answers (with retry-after): every header on every
    // answer is measurable work at thousands of requests a second.
    addHeadersOnExceeding: {
      'x-ratelimit-limit': false,
      'x-ratelimit-remaining': false,
      'x-ratelimit-reset': false,
    },
  });

  const principal = (request: FastifyRequest): Principal => {
    const r = request as WithPrincipal;
    r[PRINCIPAL] ??= deps.tokens.authenticate(request.headers.authorization);
    return r[PRINCIPAL];
  };
  // Callback-style hooks: no promise per hook per request on the hot path.
  app.addHook('preHandler', (request, _reply, done) => {
    try {
      if (request.routeOptions.url?.startsWith('/v1/')) principal(request);
      done();
    } catch (err) {
      done(err as Error);
    }
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    // While draining, tell keep-alive clients to go, so their sockets close after this answer.
    if (deps.draining()) reply.header('connection', 'close');
    done(null, payload);
  });
  if (deps.metrics) {
    const { httpRequests, httpDuration } = deps.metrics;
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      httpRequests.inc({ method: request.method, route, status_code: reply.statusCode });
      httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
      done();
    });
  }

  app.get('/health', { config: { rateLimit: false } }, async (_request, reply) => {
    const { code, body } = await healthDocument(deps.runtime, VERSION, deps.daemonStatus);
    return reply.status(code).send(body);
  });
  const routeDeps = { runtime: deps.runtime, principal, draining: deps.draining, track: deps.track };
  sessionRoutes(app, routeDeps);
  auditRoutes(app, routeDeps);
  return app;
}
