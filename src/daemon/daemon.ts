/**
 * The daemon: one runtime, the HTTP API and the admin listener, and their shutdown.
 *
 *   main thread ── HTTP API :8000 (src/api/http) ──┐
 *               ── admin   :8901 (src/api/admin) ──┼─► Runtime ─► Supervisor ─► session workers (piscina)
 *                                                   └─► audit thread ─► store
 *
 * stop() (first SIGTERM):
 *   1. draining: /health answers 503, new sessions and action batches get runtime_stopping,
 *      answers carry Connection: close;
 *   2. work already accepted (action batches, autonomous runs) may finish, up to
 *      server.drain_timeout_seconds; approvals and status calls still work meanwhile;
 *   3. runtime.stop(): cancels what is left, waits until every audit event is stored;
 *   4. the listeners close; idle keep-alive sockets are closed so they cannot hold it open.
 */
import type { FastifyInstance } from 'fastify';
import { ConfigError, loadConfig } from '../../config/load.ts';
import type { Config } from '../../config/schema.ts';
import { buildAdminServer } from '../api/admin/server.ts';
import { TokenTable } from '../api/http/auth.ts';
import { buildApiServer } from '../api/http/server.ts';
import { VERSION } from '../api/version.ts';
import { checkSchemaLevel } from '../db/schema-check.ts';
import { checkHardening } from '../hardening.ts';
import { type DaemonLogger, type Logger, createDaemonLogger } from '../log.ts';
import { RuntimeMetrics } from '../metrics/runtime-metrics.ts';
import { type ComponentStatus, Runtime } from '../runtime.ts';

/** How often idle keep-alive sockets are closed while the listeners shut down. */
const IDLE_SWEEP_MS = 100;

export interface DaemonOptions {
  /** the environment (defaults to process.env); read once, here */
  env?: Record<string, string | undefined>;
  configDir?: string;
}

type DaemonState = 'starting' | 'running' | 'draining' | 'stopped';

export class Daemon {
  readonly config: Readonly<Config>;
  readonly log: Logger;
  readonly #logs: DaemonLogger;
  readonly #runtime: Runtime;
  readonly #tokens: TokenTable;
  readonly #inflight = new Set<Promise<unknown>>();
  #api: FastifyInstance | undefined;
  #admin: FastifyInstance | undefined;
  #state: DaemonState = 'starting';
  #stopping: Promise<void> | undefined;

  constructor(options: DaemonOptions = {}) {
    const env = { ...(options.env ?? process.env) };
    this.config = loadConfig({ env, ...(options.configDir ? { configDir: options.configDir } : {}) });
    this.#tokens = TokenTable.fromConfig(this.config.server);
    if (this.config.environment === 'production' && !this.#tokens.enabled) {
      throw new ConfigError(
        'API_TOKENS / API_TOKENS_FILE: production needs at least one token=org_id pair (the HTTP API would be open)',
      );
    }
    this.#logs = createDaemonLogger(this.config);
    this.log = this.#logs.logger;
    // Start-up hardening checks (issue 7): each finding is a warning, never a refusal.
    for (const f of checkHardening({ config: this.config, envFile: env.ENV_FILE, configDir: options.configDir }))
      this.log.warn({ check: f.check, subject: f.subject }, f.message);
    this.#runtime = new Runtime(this.config, this.log, env);
  }

  get runtime(): Runtime {
    return this.#runtime;
  }

  get state(): DaemonState {
    return this.#state;
  }

  async start(): Promise<{ api: string; admin: string }> {
    // Refuse a database schema newer than this release (issue 7); src/db/schema-check.ts.
    if (this.config.audit.storage_type === 'database' && this.config.database.url) {
      const schema = await checkSchemaLevel(this.config.database.url);
      if (schema.warning) this.log.warn({ schema: schema.level }, schema.warning);
    }
    await this.#runtime.start();
    const metrics = new RuntimeMetrics(this.#runtime);
    const daemonStatus = (): { status: ComponentStatus; detail?: string } =>
      this.#state === 'running' ? { status: 'healthy' } : { status: 'unhealthy', detail: this.#state };
    const draining = () => this.#state !== 'running';
    this.#api = await buildApiServer({
      runtime: this.#runtime,
      config: this.config,
      log: this.log,
      tokens: this.#tokens,
      metrics,
      draining,
      daemonStatus,
      track: (work) => this.#track(work),
    });
    this.#admin = buildAdminServer({ runtime: this.#runtime, metrics, daemonStatus });
    const { host, http_port, admin_port } = this.config.server;
    try {
      const api = await this.#api.listen({ host, port: http_port });
      const admin = await this.#admin.listen({ host, port: admin_port });
      this.#state = 'running';
      if (!this.#tokens.enabled)
        this.log.warn('no API tokens configured: the HTTP API accepts every request');
      this.log.info({ api, admin, version: VERSION, tokens: this.#tokens.size }, 'semibot-runtime listening');
      return { api, admin };
    } catch (err) {
      await this.#api.close().catch(() => {});
      await this.#admin.close().catch(() => {});
      await this.#runtime.stop({ drainTimeoutMs: 0 });
      throw err;
    }
  }

  /** SIGHUP: logrotate renamed the files; open them again by name. */
  reopenLogs(): void {
    this.#logs.reopen();
    this.log.info('log files reopened');
  }

  /** SIGHUP with POLICY_DIR: read the policies again (a bad set is refused, the old one kept). */
  async reloadPolicies(): Promise<void> {
    if (this.#state !== 'running' || this.#runtime.config.policy_dir === undefined) return;
    await this.#runtime.reloadPolicies().catch((err: unknown) => this.log.error({ err }, 'policy reload failed'));
  }

  /** Drains and stops (see the module comment); safe to call twice. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const drainMs = this.config.server.drain_timeout_seconds * 1000;
    this.#state = 'draining';
    this.log.info(
      { inflight: this.#inflight.size, drain_timeout_ms: drainMs },
      'draining: no new work; letting running actions finish',
    );
    const started = Date.now();
    // 2. Let accepted work finish (approvals can still arrive through the API meanwhile).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#inflight]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, drainMs);
      }),
    ]);
    clearTimeout(timer);
    // 3. Cancel what is left, flush the audit trail, end the threads.
    await this.#runtime.stop({ drainTimeoutMs: Math.max(0, drainMs - (Date.now() - started)) });
    // 4. Close the listeners; sweep idle keep-alive sockets until they are gone.
    const sweep = setInterval(() => {
      this.#api?.server.closeIdleConnections();
      this.#admin?.server.closeIdleConnections();
    }, IDLE_SWEEP_MS);
    try {
      await Promise.all([this.#api?.close(), this.#admin?.close()]);
    } finally {
      clearInterval(sweep);
    }
    this.#state = 'stopped';
    this.log.info({ ms: Date.now() - started }, 'stopped: every audit event is stored');
    this.#logs.flush();
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#inflight.add(work);
    // (Two inline arrows used to stand here because the tsx loader wrapped a named one in a
    // __name() call per request; compiled, the two forms measure the same on Node 24.)
    const forget = () => this.#inflight.delete(work);
    work.then(forget, forget);
    return work;
  }
}
