/**
 * One connection to one MCP server (one org's config of it), on the official SDK client.
 *
 *   idle ─connect()─► connecting ──initialize + tools/list within connection_timeout──► connected
 *                          │ fails                                                       │ transport closes,
 *                          ▼                                                             ▼ HTTP fetch fails
 *                     disconnected ◄─────────────────────────────────────────────── disconnected
 *                          └── after reconnect_delay (doubling, capped) ──► connecting ...
 *   close() from any state ──► closed (no more reconnects)
 *
 * Calls: each attempt has its own deadline (call_timeout), and the whole call is bounded by the
 * action timeout (the session aborts it). A call that fails because the connection broke is
 * retried (max_retries, backoff, waiting for the next reconnect attempt) only when the tool is
 * safe to run twice: readOnlyHint or idempotentHint, or listed in the server's retry_tools. Any other tool
 * may already have run, so it fails with mcp_unavailable and the reconnect serves the next call.
 * Every change of state or tool list bumps `version` and is reported through onChange.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { AsyncLocalStorage } from 'node:async_hooks';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type ElicitRequest,
  ElicitRequestSchema,
  type ElicitResult,
  ErrorCode,
  McpError,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { ElicitationHandler } from '../../src/capabilities/mcp/elicitation.ts';
import type { McpServerConfig } from '../../src/contracts.ts';
import {
  type ErrorCode as RuntimeErrorCode,
  RuntimeError,
  toWireError,
  errorMessage,
} from '../../src/errors.ts';
import { type PinGuard, toolDefinitionHash } from '../../src/capabilities/mcp/tool-pins.ts';
import type { Logger } from '../../src/log.ts';
import { MCP_CLIENT_INFO, redactLine } from '../../src/capabilities/mcp/client-identity.ts';
import type { AuthFlow } from '../../src/capabilities/mcp/auth/auth-flow.ts';
import {
  authorizedFetch,
  type UpstreamContext,
  upstreamAuthFlow,
} from '../../src/capabilities/mcp/auth/upstream-auth.ts';
import type { McpCallOutcome, McpServerSnapshot, McpToolInfo } from '../../src/capabilities/mcp/shapes.ts';

export interface ConnectionOptions {
  connectionTimeoutMs: number;
  callTimeoutMs: number;
  maxRetries: number;
  reconnectDelayMs: number;
  log: Logger;
  onChange(snapshot: McpServerSnapshot): void;
  /** pinned tool definitions (issue 20): what of a listed tool set may be used */
  pins?: PinGuard;
  /** servers with `auth` (issue 22): token store, secrets' environment; where a person is at hand, login and elicitation */
  auth?: UpstreamContext;
}

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';

/**
 * The trace context of the tools/call being sent (traces on), for the HTTP transport's fetch:
 * it follows the call's async chain into the transport, which sends it as a `traceparent` header.
 */
const outgoingTrace = new AsyncLocalStorage<string>();

const tracedFetch: typeof fetch = (input, init) => {
  const traceparent = outgoingTrace.getStore();
  if (traceparent === undefined) return fetch(input, init);
  const headers = new Headers(init?.headers);
  headers.set('traceparent', traceparent);
  return fetch(input, { ...init, headers });
};

/** Failures of the server's authorization: the server is disconnected (its tools withheld) until a login. */
const AUTHORIZATION_CODES: ReadonlySet<string> = new Set([
  'mcp_authorization_required',
  'mcp_authorization_failed',
  'mcp_token_unreadable',
]);

/** Reconnect delays double from reconnect_delay up to this (or reconnect_delay, if larger). */
const MAX_RECONNECT_DELAY_MS = 30_000;
/** First retry backoff of a safe call; doubles per attempt. */
const RETRY_BACKOFF_MS = 50;
const STDERR_TAIL_LINES = 20;
/**
 * closed: the connection broke while the request was out (the tool may have run);
 * not_sent: no connection to send it on (it did not run); gone: still none after waiting for
 * the reconnect (give up); timeout: no answer in time;
 * aborted: the caller gave up; protocol: the server answered with an error.
 */
type Failure = {
  kind: 'closed' | 'not_sent' | 'gone' | 'timeout' | 'aborted' | 'protocol';
  code: RuntimeErrorCode;
  message: string;
};

export class McpConnection {
  readonly key: string;
  readonly orgId: string;
  readonly server: McpServerConfig;
  readonly #opts: ConnectionOptions;
  readonly #log: Logger;
  readonly #retryTools: ReadonlySet<string>;
  readonly #envSecrets: string[];
  #state: ConnectionState = 'idle';
  #client: Client | undefined;
  #connecting: Promise<void> | undefined;
  #tools: McpToolInfo[] = [];
  /** tools the server lists whose definition differs from the pinned one (not offered) */
  #withheld: string[] = [];
  #safeTools = new Set<string>();
  #version = 0;
  #lastError: string | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #reconnectAttempt = 0;
  /** when the scheduled reconnect fires (performance.now() clock) */
  #reconnectAt = 0;
  #stderrTail: string[] = [];
  /** a tool list from the capability cache: the first connect uses it instead of tools/list */
  #seedTools: McpToolInfo[] | undefined;
  #relisting: Promise<void> | undefined;
  readonly #stateWaiters = new Set<() => void>();
  /** the server's authorization (servers with `auth`), made at the first connect */
  #authFlow: AuthFlow | undefined;

  constructor(key: string, orgId: string, server: McpServerConfig, opts: ConnectionOptions) {
    this.key = key;
    this.orgId = orgId;
    this.server = server;
    this.#opts = opts;
    this.#log = opts.log.child({ mcp_server_id: server.id, org_id: orgId });
    this.#retryTools = new Set(server.retry_tools ?? []);
    this.#envSecrets = server.transport.type === 'stdio' ? Object.values(server.transport.env ?? {}) : [];
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get name(): string {
    return this.server.name ?? this.server.id;
  }

  snapshot(): McpServerSnapshot {
    return {
      key: this.key,
      org_id: this.orgId,
      server_id: this.server.id,
      server_name: this.name,
      connected: this.#state === 'connected',
      version: this.#version,
      tools: this.#tools,
      ...(this.#lastError !== undefined ? { error: this.#lastError } : {}),
      retry_tools: [...this.#retryTools],
    };
  }

  /**
   * Starts the first connect and resolves when the attempt under way settles. A disconnected
   * server is not hurried: it reconnects on its own schedule (reconnect_delay, doubling), so new
   * sessions cannot make the runtime hammer a server that keeps dying.
   */
  settle(): Promise<void> {
    if (this.#state === 'idle') this.#connect();
    return this.#connecting ?? Promise.resolve();
  }

  /**
   * Gives a connection that has not connected yet a cached tool list (capability cache hit),
   * so its first connect skips tools/list. Reconnects always list again.
   */
  seed(tools: McpToolInfo[]): void {
    if (this.#state === 'idle') this.#seedTools = tools;
  }

  /**
   * Asks a connected server for its tool list again (a capability cache miss: the list is
   * trusted only for capability.cache_ttl). A change bumps the version and is reported like a
   * list_changed notification. A server that does not answer keeps its current list.
   */
  relist(): Promise<void> {
    // Sessions of a new agent starting together share one tools/list.
    this.#relisting ??= this.#relistOnce().finally(() => {
      this.#relisting = undefined;
    });
    return this.#relisting;
  }

  async #relistOnce(): Promise<void> {
    const client = this.#client;
    if (!client || this.#state !== 'connected') return;
    const before = JSON.stringify(this.#tools);
    try {
      await this.#loadTools(client);
    } catch (err) {
      this.#log.warn(
        { err: this.#redact(errorMessage(err)) },
        'could not list the MCP tools again; keeping the last list',
      );
      return;
    }
    if (this.#client !== client || this.#state !== 'connected') return;
    if (JSON.stringify(this.#tools) === before) return;
    this.#version++;
    this.#log.info({ tools: this.#tools.length }, 'MCP tool list changed');
    this.#opts.onChange(this.snapshot());
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#reconnectTimer);
    const client = this.#client;
    this.#client = undefined;
    this.#wakeWaiters();
    await client?.close().catch(() => {});
  }

  /** Calls a tool once, or several times when it is safe to repeat; never throws. */
  /** the transport's MCP session id (Streamable HTTP servers that keep sessions), for traces */
  get sessionId(): string | undefined {
    return (this.#client?.transport as { sessionId?: string } | undefined)?.sessionId;
  }

  /**
   * `requestMeta` goes to the server as the request's params._meta (the trace context); over
   * Streamable HTTP its traceparent also goes in the request's headers.
   */
  call(
    tool: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
    requestMeta?: Record<string, string>,
  ): Promise<McpCallOutcome> {
    const traceparent = requestMeta?.traceparent;
    return traceparent === undefined
      ? this.#call(tool, args, signal, requestMeta)
      : outgoingTrace.run(traceparent, () => this.#call(tool, args, signal, requestMeta));
  }

  async #call(
    tool: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
    requestMeta: Record<string, string> | undefined,
  ): Promise<McpCallOutcome> {
    const startedAt = performance.now();
    const safe = this.#safeTools.has(tool) || this.#retryTools.has(tool);
    const meta = (attempts: number) => ({
      duration_ms: Math.round((performance.now() - startedAt) * 1000) / 1000,
      attempts,
      server_name: this.name,
    });
    for (let attempt = 1; ; attempt++) {
      let failure: Failure;
      try {
        // A first attempt fails fast while disconnected; a retry waits for the reconnect.
        const client = await this.#readyClient(attempt > 1, signal);
        const result = await client.callTool(
          { name: tool, arguments: args, ...(requestMeta ? { _meta: requestMeta } : {}) },
          undefined,
          {
            timeout: this.#opts.callTimeoutMs + this.#loginWindowMs(),
            signal,
          },
        );
        if (result.isError) {
          return {
            ok: false,
            error: { code: 'mcp_call_failed', message: this.#redact(toolErrorText(tool, result as { content?: unknown })) },
            meta: meta(attempt),
          };
        }
        const { isError: _ignored, ...value } = result;
        return { ok: true, value: this.#redactValue(value), meta: meta(attempt) };
      } catch (err) {
        failure = this.#classify(err, signal);
      }
      if (failure.kind === 'timeout') this.#probe();
      const backoffMs = RETRY_BACKOFF_MS * 2 ** (attempt - 1);
      const retry =
        (failure.kind === 'closed' || failure.kind === 'not_sent') &&
        safe &&
        attempt <= this.#opts.maxRetries &&
        !signal.aborted;
      if (!retry) {
        const message =
          failure.kind === 'closed' && !safe
            ? `${failure.message}; ${tool} is not retried: it may have run (mark it readOnlyHint or idempotentHint, or list it in retry_tools)`
            : attempt > 1
              ? `${failure.message} (after ${attempt} attempts)`
              : failure.message;
        return { ok: false, error: { code: failure.code, message: this.#redact(message) }, meta: meta(attempt) };
      }
      this.#log.debug({ tool, attempt, backoffMs }, 'retrying a safe MCP call');
      await sleep(backoffMs, signal);
    }
  }

  #classify(err: unknown, signal: AbortSignal): Failure {
    if (signal.aborted) {
      const reason = toWireError(signal.reason, 'action_cancelled');
      return { kind: 'aborted', code: reason.code, message: reason.message };
    }
    if (err instanceof RuntimeError && AUTHORIZATION_CODES.has(err.code)) {
      // The server refused this org's authorization (revoked, expired without refresh, more
      // scope wanted): its tools are withheld until a login, and the request did not run.
      const client = this.#client;
      if (client) this.#onClosed(client, err.message);
      return { kind: 'gone', code: err.code, message: err.message };
    }
    if (err instanceof RuntimeError) {
      const gone = (err.data as { gone?: boolean } | undefined)?.gone === true;
      return { kind: gone ? 'gone' : 'not_sent', code: err.code, message: err.message };
    }
    if (err instanceof McpError) {
      if (err.code === ErrorCode.RequestTimeout) {
        return {
          kind: 'timeout',
          code: 'mcp_timeout',
          message: `MCP server ${this.server.id} did not answer within mcp.call_timeout (${this.#opts.callTimeoutMs / 1000} s)`,
        };
      }
      if (err.code === ErrorCode.ConnectionClosed) {
        return {
          kind: 'closed',
          code: 'mcp_unavailable',
          message: `MCP server ${this.server.id} disconnected during the call${this.#stderrHint()}`,
        };
      }
      return {
        kind: 'protocol',
        code: 'mcp_call_failed',
        message: `MCP server ${this.server.id}: ${err.message}`,
      };
    }
    // Transport-level failures (fetch failed, EPIPE, "Not connected"): the connection is broken.
    const message = errorMessage(err);
    const client = this.#client;
    if (client) this.#onClosed(client, message);
    return {
      kind: 'closed',
      code: 'mcp_unavailable',
      message: `MCP server ${this.server.id} is unreachable: ${message}`,
    };
  }

  /**
   * The connected client. Without `wait` (a first attempt) it fails fast while disconnected and
   * only waits for a connect already under way. With `wait` (a retry) it waits for the next
   * connect attempt (the scheduled reconnect) to settle, at most until it is due plus
   * mcp.connection_timeout; if that attempt fails too, the server is gone for this call.
   */
  async #readyClient(wait: boolean, signal: AbortSignal): Promise<Client> {
    const waitUntil = wait
      ? Math.max(this.#reconnectAt, performance.now()) + this.#opts.connectionTimeoutMs
      : performance.now() + this.#opts.connectionTimeoutMs;
    const notConnected = (gone: boolean) =>
      new RuntimeError(
        'mcp_unavailable',
        `MCP server ${this.server.id} is not connected${this.#lastError ? ` (${this.#lastError})` : ''}${gone ? '; it did not come back for a retry' : '; it reconnects after mcp.reconnect_delay'}`,
        gone ? { gone: true } : undefined,
      );
    for (let waited = false; ; waited = true) {
      if (this.#state === 'connected' && this.#client) return this.#client;
      if (this.#state === 'closed')
        throw new RuntimeError('mcp_unavailable', `MCP server ${this.server.id} is closed`);
      if (this.#state === 'disconnected' && (waited || !wait)) throw notConnected(wait);
      const remaining = waitUntil - performance.now();
      if (remaining <= 0) throw notConnected(wait);
      // Wait for the next change of state: the connect attempt under way or the reconnect settling.
      await this.#nextStateChange(remaining, signal);
      if (signal.aborted) throw signal.reason;
    }
  }

  #nextStateChange(timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#stateWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      this.#stateWaiters.add(done);
    });
  }

  #wakeWaiters(): void {
    for (const wake of [...this.#stateWaiters]) wake();
  }

  #connect(): void {
    if (this.#connecting || this.#state === 'closed') return;
    clearTimeout(this.#reconnectTimer);
    this.#state = 'connecting';
    this.#connecting = this.#attempt().finally(() => {
      this.#connecting = undefined;
      this.#wakeWaiters();
    });
    this.#connecting.catch(() => {});
  }

  async #attempt(): Promise<void> {
    const elicit = this.#opts.auth?.elicit;
    const client = new Client(MCP_CLIENT_INFO, {
      capabilities: elicit ? { elicitation: { form: { applyDefaults: true } } } : {},
    });
    if (elicit) client.setRequestHandler(ElicitRequestSchema, (request) => this.#elicit(elicit, request.params));
    this.#client = client;
    this.#stderrTail = [];
    client.onclose = () =>
      this.#onClosed(client, `the connection to MCP server ${this.server.id} closed${this.#stderrHint()}`);
    client.onerror = (err) => this.#log.debug({ err: this.#redact(err.message) }, 'MCP transport error');
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      this.#refreshTools(client).catch((err) =>
        this.#log.warn({ err: this.#redact(errorMessage(err)) }, 'could not refresh the MCP tool list'),
      );
    });
    const timeoutMs = this.#opts.connectionTimeoutMs + this.#loginWindowMs();
    try {
      await client.connect(this.#transport(), { timeout: timeoutMs });
      const seeded = this.#seedTools;
      this.#seedTools = undefined;
      if (seeded) this.#useTools(seeded);
      else await this.#loadTools(client);
    } catch (err) {
      if (this.#client === client) this.#client = undefined;
      client.onclose = undefined;
      await client.close().catch(() => {});
      if (this.#state === 'closed') return;
      const timedOut = err instanceof McpError && err.code === ErrorCode.RequestTimeout;
      const reason = timedOut
        ? `MCP server ${this.server.id} did not answer initialize within mcp.connection_timeout (${timeoutMs / 1000} s)`
        : err instanceof RuntimeError && AUTHORIZATION_CODES.has(err.code)
          ? err.message
          : `could not connect to MCP server ${this.server.id}: ${errorMessage(err)}`;
      this.#becomeDisconnected(reason + this.#stderrHint());
      return;
    }
    if (this.#state === 'closed' || this.#client !== client) {
      await client.close().catch(() => {});
      return;
    }
    this.#state = 'connected';
    this.#lastError = undefined;
    this.#reconnectAttempt = 0;
    this.#version++;
    this.#log.info({ tools: this.#tools.length }, 'MCP server connected');
    this.#opts.onChange(this.snapshot());
  }

  #transport() {
    const t = this.server.transport;
    if (t.type === 'http') {
      if (this.server.auth && this.#opts.auth) {
        this.#authFlow ??= upstreamAuthFlow(this.server, this.orgId, this.#opts.auth);
      }
      const flow = this.#authFlow;
      return new StreamableHTTPClientTransport(new URL(t.url), {
        fetch: flow ? authorizedFetch(flow, tracedFetch) : tracedFetch,
      });
    }
    const transport = new StdioClientTransport({
      command: t.command,
      args: t.args ?? [],
      ...(t.env ? { env: t.env } : {}),
      ...(t.cwd ? { cwd: t.cwd } : {}),
      // By default the SDK lets the server write to our stderr; pipe it, redact it, log it.
      stderr: 'pipe',
    });
    let partial = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const raw of lines) this.#onStderr(raw);
    });
    return transport;
  }

  /** A form elicitation of the server, put to the person at hand; URL mode is declined. */
  async #elicit(elicit: ElicitationHandler, params: ElicitRequest['params']): Promise<ElicitResult> {
    if (!('requestedSchema' in params)) return { action: 'decline' };
    this.#log.info('MCP server asks the person for input (elicitation)');
    const result = await elicit({
      orgId: this.orgId,
      serverId: this.server.id,
      serverName: this.name,
      message: params.message,
      requestedSchema: params.requestedSchema as Record<string, unknown>,
    });
    this.#log.info({ action: result.action }, 'elicitation answered');
    return result;
  }

  /**
   * Where a person is at hand (run FILE), a request may wait for their login (a first login, or
   * a step-up to more scope): its timeout grows by the login's.
   */
  #loginWindowMs(): number {
    const auth = this.server.auth;
    const interactive = this.#opts.auth?.interactive;
    return interactive && auth?.type === 'oauth' && auth.grant === 'authorization_code' ? interactive.timeoutMs : 0;
  }

  /** Keeps the server's secrets (env values, tokens, client secret) out of a message that leaves. */
  #redact(text: string): string {
    const flow = this.#authFlow;
    return redactLine(text, flow ? [...this.#envSecrets, ...flow.secrets()] : this.#envSecrets);
  }

  /** A result of a server with auth, with any token it echoes taken out (it would reach the trail). */
  #redactValue<T>(value: T): T {
    const flow = this.#authFlow;
    if (!flow) return value;
    const text = JSON.stringify(value);
    // Compared as they appear inside JSON strings (escaped).
    const secrets = flow
      .secrets()
      .filter((secret) => secret.length >= 4)
      .map((secret) => JSON.stringify(secret).slice(1, -1))
      .filter((escaped) => text.includes(escaped));
    if (secrets.length === 0) return value;
    let clean = text;
    for (const secret of secrets) clean = clean.split(secret).join('[REDACTED]');
    return JSON.parse(clean) as T;
  }

  #onStderr(raw: string): void {
    if (raw.trim() === '') return;
    const line = this.#redact(raw.slice(0, 2000));
    this.#stderrTail.push(line);
    if (this.#stderrTail.length > STDERR_TAIL_LINES) this.#stderrTail.shift();
    this.#log.info({ stderr: line }, 'MCP server stderr');
  }

  #stderrHint(): string {
    const last = this.#stderrTail.at(-1);
    return last ? ` (server stderr: ${last})` : '';
  }

  async #loadTools(client: Client): Promise<void> {
    const tools: Array<{ info: McpToolInfo; hash: string }> = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : undefined, {
        timeout: this.#opts.connectionTimeoutMs,
      });
      for (const tool of page.tools) {
        const { $schema: _dialect, ...schema } = tool.inputSchema as Record<string, unknown>;
        tools.push({
          info: {
            name: tool.name,
            description: tool.description ?? tool.title ?? '',
            input_schema: schema,
            read_only: tool.annotations?.readOnlyHint === true,
            idempotent: tool.annotations?.idempotentHint === true,
          },
          hash: toolDefinitionHash(tool),
        });
      }
      cursor = page.nextCursor;
    } while (cursor);
    const pins = this.#opts.pins;
    if (pins === undefined) {
      this.#useTools(tools.map((t) => t.info));
      return;
    }
    const { allowed, withheld } = await pins.admit(this.orgId, this.server.id, tools);
    this.#withheld = withheld;
    if (withheld.length > 0)
      this.#log.warn({ withheld }, 'MCP tool definitions changed since they were pinned; withheld');
    this.#useTools(allowed);
  }

  /** tools withheld because their definition changed since it was pinned */
  get withheld(): readonly string[] {
    return this.#withheld;
  }

  #useTools(tools: McpToolInfo[]): void {
    this.#tools = tools;
    this.#safeTools = new Set(tools.filter((t) => t.read_only || t.idempotent).map((t) => t.name));
  }

  async #refreshTools(client: Client): Promise<void> {
    if (this.#client !== client || this.#state !== 'connected') return;
    await this.#loadTools(client);
    if (this.#client !== client || this.#state !== 'connected') return;
    this.#version++;
    this.#log.info({ tools: this.#tools.length }, 'MCP tool list changed');
    this.#opts.onChange(this.snapshot());
  }

  #onClosed(client: Client, reason: string): void {
    // While connecting, the attempt itself reports the failure (once).
    if (this.#client !== client || this.#state === 'connecting') return;
    this.#client = undefined;
    client.onclose = undefined;
    void client.close().catch(() => {});
    if (this.#state === 'closed') return;
    this.#becomeDisconnected(reason);
  }

  #becomeDisconnected(why: string): void {
    const reason = this.#redact(why);
    const wasConnected = this.#state === 'connected';
    this.#state = 'disconnected';
    this.#lastError = reason;
    this.#version++;
    (wasConnected ? this.#log.warn : this.#log.info).call(this.#log, { reason }, 'MCP server disconnected');
    this.#opts.onChange(this.snapshot());
    this.#wakeWaiters();
    const base = this.#opts.reconnectDelayMs;
    const delayMs = Math.min(base * 2 ** this.#reconnectAttempt, Math.max(base, MAX_RECONNECT_DELAY_MS));
    this.#reconnectAttempt++;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectAt = performance.now() + delayMs;
    this.#reconnectTimer = setTimeout(() => this.#connect(), delayMs);
    this.#reconnectTimer.unref();
  }

  /** After a timeout: is the server still answering? If not, reconnect for the next call. */
  #probe(): void {
    const client = this.#client;
    if (!client || this.#state !== 'connected') return;
    client.ping({ timeout: this.#opts.connectionTimeoutMs }).catch(() => {
      this.#onClosed(
        client,
        `MCP server ${this.server.id} stopped answering (ping failed after a call timed out)`,
      );
    });
  }
}

function toolErrorText(tool: string, result: { content?: unknown }): string {
  const parts = Array.isArray(result.content) ? result.content : [];
  const text = parts
    .map((p) => (p && typeof p === 'object' && 'text' in p && typeof p.text === 'string' ? p.text : ''))
    .filter(Boolean)
    .join(' ')
    .slice(0, 2000);
  return `MCP tool ${tool} returned an error${text ? `: ${text}` : ''}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
