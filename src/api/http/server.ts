/**
 * The HTTP API (HTTP_PORT, 8000), behind nginx in production.
 *
 *   request ─► onRequest (added to each route by the onRoute hook below, so nothing is looked up
 *              per request): rate limit (bucket = token, else client address; trustProxy makes
 *              that X-Forwarded-For, or every client would share nginx's address), then for
 *              /v1/ routes the bearer token → org (auth.ts)
 *           ─► route (sessions.ts, audit.ts) ─► runtime (src/runtime.ts) ─► supervisor ─► session worker
 *           ─► onResponse: request counter and latency histogram, labels built once per route
 *   errors  ─► errors.ts: {"error": {"code", "message"}} with the catalogue's status
 *
 * Per-request work is kept to what a request needs: every microsecond here is paid thousands
 * of times a second on the same cores as the session workers (scripts/load/http-load.ts).
 */
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type HookHandlerDoneFunction,
  type RouteOptions,
} from 'fastify';
import type { Config } from '../../../config/schema.ts';
import { RuntimeError } from '../../errors.ts';
import { jsonShapeProblem } from '../../json-limits.ts';
import type { Logger } from '../../log.ts';
import type { RuntimeMetrics } from '../../metrics/runtime-metrics.ts';
import type { ComponentStatus, Runtime } from '../../runtime.ts';
import { healthDocument } from '../admin/health.ts';
import { VERSION } from '../version.ts';
import { approvalRoutes } from './approvals.ts';
import { auditRoutes } from './audit.ts';
import { consoleRoutes } from './console.ts';
import { eventRoutes } from './events.ts';
import type { Principal, TokenTable } from './auth.ts';
import { clientErrorHandler, errorHandler } from './errors.ts';
import { RateLimiter } from './rate-limit.ts';
import { sessionRoutes } from './sessions.ts';
import { mcpEndpoint } from '../../mcp-server/http-endpoint.ts';

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

type Hook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void;
const hooks = (h: RouteOptions['onRequest']): Hook[] =>
  h === undefined ? [] : ((Array.isArray(h) ? h : [h]) as Hook[]);

export async function buildApiServer(deps: ApiDeps): Promise<FastifyInstance> {
  const { server } = deps.config;
  const app = Fastify({
    logger: false,
    bodyLimit: server.body_limit_bytes,
    trustProxy: trustProxyOption(server.trust_proxy),
    // Keep-alive sockets that sit idle must not hold close() open (FACTS.md); the daemon also
    // calls closeIdleConnections() while draining, for sockets that go idle after close().
    forceCloseConnections: 'idle',
    // Deadlines for receiving a request (issue 15): a client sending one byte every few seconds
    // no longer holds a connection forever. Node checks them every connectionsCheckingInterval.
    requestTimeout: server.request_timeout_seconds * 1000,
    http: { connectionsCheckingInterval: Math.min(1000, server.headers_timeout_seconds * 1000) },
    clientErrorHandler,
    // Errors of the router itself (a path whose %-escapes are not UTF-8, say) in the API's own
    // error format, like every other answer (issue 15: found by tests/e2e/http-fuzz.test.ts).
    frameworkErrors: (err, _request, reply) => {
      void (reply as FastifyReply)
        .status(400)
        .send({ error: { code: 'invalid_request', message: `bad request: ${err.message}` } });
    },
  });
  // Node wants headersTimeout ≤ requestTimeout.
  app.server.headersTimeout = Math.min(server.headers_timeout_seconds, server.request_timeout_seconds) * 1000;
  app.setErrorHandler(errorHandler(deps.log));
  // JSON only: a text/plain body gets 415 instead of reaching a schema as a string.
  app.removeContentTypeParser('text/plain');
  // Every parsed body is bounded in shape before any route sees it (issue 15): data nested too
  // deep would otherwise overflow the stack of msgpack's packer on this, the main, thread.
  const limits = deps.config.limits;
  app.addHook('preValidation', (request, _reply, done) => {
    const problem = request.body === undefined ? undefined : jsonShapeProblem(request.body, limits);
    if (problem === undefined) done();
    else done(new RuntimeError('invalid_request', `invalid request body: ${problem}`));
  });

  const limiter = new RateLimiter({
    max: server.rate_limit_max,
    windowMs: server.rate_limit_window_seconds * 1000,
  });
  const windowText = `${server.rate_limit_window_seconds} s`;
  const principal = (request: FastifyRequest): Principal => {
    const r = request as WithPrincipal;
    r[PRINCIPAL] ??= deps.tokens.authenticate(request.headers.authorization);
    return r[PRINCIPAL];
  };

  /**
   * The first hook of every route: draining notice, rate limit, then the token of /v1/ routes
   * (before the body is read: an unauthenticated client does not get its body parsed).
   * Callback style: no promise per hook per request.
   */
  const gate =
    (limited: boolean, authenticated: boolean): Hook =>
    (request, reply, done) => {
      // While draining, tell keep-alive clients to go, so their sockets close after this answer.
      if (deps.draining()) reply.header('connection', 'close');
      if (!limited && !authenticated) {
        done();
        return;
      }
      const header = request.headers.authorization;
      const known = deps.tokens.lookup(header);
      if (limited) {
        // Token ids are hex, so an "ip:" bucket can never collide with a token's.
        const over = limiter.hit(known ? known.token_id : `ip:${request.ip}`);
        if (over) {
          const seconds = String(over.retryAfterSeconds);
          reply.headers({
            'x-ratelimit-limit': String(over.max),
            'x-ratelimit-remaining': '0',
            'x-ratelimit-reset': seconds,
            'retry-after': seconds,
          });
          done(
            Object.assign(
              new RuntimeError(
                'rate_limited',
                `more than ${over.max} requests in ${windowText}; retry in ${seconds} s`,
              ),
              { statusCode: 429 },
            ),
          );
          return;
        }
      }
      if (authenticated) {
        try {
          (request as WithPrincipal)[PRINCIPAL] = known ?? deps.tokens.authenticate(header);
        } catch (err) {
          done(err as Error);
          return;
        }
      }
      done();
    };

  // Route-level hooks, decided once per route here rather than on every request.
  app.addHook('onRoute', (route) => {
    const limited = (route.config as { rateLimit?: unknown } | undefined)?.rateLimit !== false;
    route.onRequest = [gate(limited, route.url.startsWith('/v1/')), ...hooks(route.onRequest)];
    if (deps.metrics) route.onResponse = [...hooks(route.onResponse), recorder(deps.metrics, route.url)];
  });

  // No route, so no route hooks: the 404 handler does their part itself.
  const recordUnmatched = deps.metrics ? recorder(deps.metrics, 'unmatched') : undefined;
  const noop = () => {};
  app.setNotFoundHandler((request, reply) => {
    if (deps.draining()) reply.header('connection', 'close');
    if (recordUnmatched) reply.raw.once('finish', () => recordUnmatched(request, reply, noop));
    return reply.status(404).send({
      error: {
        code: 'route_not_found',
        message: `no route ${request.method} ${request.url.split('?')[0]}`,
      },
    });
  });

  app.get('/health', { config: { rateLimit: false } }, async (_request, reply) => {
    const { code, body } = await healthDocument(deps.runtime, VERSION, deps.daemonStatus);
    return reply.status(code).send(body);
  });
  const routeDeps = { runtime: deps.runtime, principal, draining: deps.draining, track: deps.track };
  sessionRoutes(app, routeDeps);
  auditRoutes(app, routeDeps);
  approvalRoutes(app, routeDeps);
  eventRoutes(app, routeDeps);
  consoleRoutes(app);
  mcpEndpoint(app, { runtime: deps.runtime, config: deps.config, log: deps.log, principal, draining: deps.draining });
  return app;
}

/**
 * The onResponse hook of one route: counts the request and observes its latency. The label
 * objects are made once per method and status, not on every request.
 */
function recorder(metrics: RuntimeMetrics, route: string): Hook {
  const { httpRequests, httpDuration } = metrics;
  const byMethod = new Map<
    string,
    { duration: { method: string; route: string }; byStatus: Map<number, object> }
  >();
  return (request, reply, done) => {
    const method = request.method;
    let labels = byMethod.get(method);
    if (labels === undefined) {
      labels = { duration: { method, route }, byStatus: new Map() };
      byMethod.set(method, labels);
    }
    const status = reply.statusCode;
    let counted = labels.byStatus.get(status);
    if (counted === undefined) {
      counted = { method, route, status_code: status };
      labels.byStatus.set(status, counted);
    }
    httpRequests.inc(counted);
    httpDuration.observe(labels.duration, reply.elapsedTime / 1000);
    done();
  };
}
