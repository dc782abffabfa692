/**
 * Every configuration key, its type and default. Sources are merged in load.ts:
 * built-in defaults < config/<ENVIRONMENT>.yaml < ENV_FILE < process environment.
 * ENV_KEYS maps each environment variable of the deployment guide to its key here.
 */
import { z } from 'zod';
import {
  AgentProfileSchema,
  MAX_TIMER_MS,
  MAX_TIMER_SECONDS,
  McpCatalogueEntrySchema,
  WebhookSchema,
  timerSeconds,
} from '../src/contracts.ts';
import { JsonLimitsSchema } from '../src/json-limits.ts';

// Durations become timers, and a Node timer cannot wait longer than about 24.8 days (see
// MAX_TIMER_MS): every duration key is bounded by that.
const seconds = timerSeconds();
const positiveInt = z.number().int().positive();
const timerMs = positiveInt.max(MAX_TIMER_MS, { error: `must be at most ${MAX_TIMER_MS} ms (about 24.8 days)` });

export const ConfigSchema = z.object({
  environment: z.enum(['development', 'testing', 'test', 'production']).default('development'),
  log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  database: z
    .object({
      url: z.string().min(1).optional(),
      pool_size: positiveInt.default(5),
      max_overflow: z.number().int().min(0).default(10),
    })
    .prefault({}),
  redis: z
    .object({
      /** the capability cache, shared by every node; unset keeps it in process */
      url: z
        .string()
        .regex(/^rediss?:\/\/[^\s/]+(\/\d*)?$/, 'a URL like redis://host:6379 or rediss://user:password@host:6380/0')
        .optional(),
      /** prefix of every key the cache writes, so deployments can share one Redis */
      key_prefix: z.string().min(1).default('semibot:capabilities:'),
    })
    .prefault({}),
  audit: z
    .object({
      storage_type: z.enum(['memory', 'file', 'database']).default('file'),
      /**
       * strict: an action's action_started is stored before a tool with side effects runs, and
       * its result is returned only once its closing event is stored (issue 15). relaxed:
       * results return before their events are written (see the README for the loss window).
       */
      durability: z.enum(['strict', 'relaxed']).default('strict'),
      batch_size: positiveInt.default(1000),
      flush_interval: seconds.default(10),
      retention_days: positiveInt.default(90),
      log_dir: z.string().min(1).default('var/audit'),
      max_file_size: positiveInt.default(100 * 1024 * 1024),
      max_files: positiveInt.default(10),
      encryption_enabled: z.boolean().default(false),
      encryption_key: z.string().min(1).optional(),
      /** signs the trail's checkpoints: key_id:hmac:<base64> or key_id:ed25519:<base64 PKCS#8>, comma-separated (the last signs) */
      signing_key: z.string().min(1).optional(),
      /** a checkpoint is written this often while events arrive (and after sessions end) */
      checkpoint_interval_seconds: seconds.default(60),
      /** memory store: events kept before the oldest are dropped */
      memory_max_events: positiveInt.default(100_000),
      /** events a producer may have sent and not yet seen written; beyond it, producers wait */
      producer_window: positiveInt.default(8192),
      /** database store: bytes the local spool may hold while PostgreSQL is down; beyond it, writes wait */
      spool_max_bytes: positiveInt.default(1024 * 1024 * 1024),
      /** database store: a COPY (or connect) still running after this is abandoned and its batch spooled */
      copy_deadline_ms: timerMs.default(30_000),
    })
    .prefault({}),
  mcp: z
    .object({
      connection_timeout: seconds.default(10),
      call_timeout: seconds.default(30),
      max_retries: z.number().int().min(0).default(3),
      reconnect_delay: seconds.default(1),
      /** the operator's catalogue: the only servers an API request may name (by id) */
      servers: z
        .array(McpCatalogueEntrySchema)
        .default([])
        .superRefine((servers, ctx) => {
          const seen = new Set<string>();
          for (const [i, server] of servers.entries()) {
            if (seen.has(server.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate id ${server.id}` });
            seen.add(server.id);
          }
        }),
      /** a YAML or JSON file holding the catalogue (a list); it replaces mcp.servers */
      servers_file: z.string().min(1).optional(),
      /** OAuth tokens of http servers, one encrypted file per org and server (src/capabilities/mcp/auth/) */
      token_dir: z.string().min(1).default('var/mcp-tokens'),
      /** seals the stored tokens (AES-256-GCM): a 32-byte key, base64 or hex, or id:key pairs (the first seals) */
      token_key: z.string().min(1).optional(),
      /** the runtime as an MCP server: /mcp/:agent_id on the API port (src/mcp-server/) */
      endpoint: z
        .object({
          /**
           * Host header values accepted (DNS-rebinding protection): a name matches with any
           * port, name:port only that port. Default: the loopback names.
           */
          allowed_hosts: z.array(z.string().min(1)).default(['localhost', '127.0.0.1', '[::1]']),
          /** Origin header values accepted when one is sent (same matching; scheme optional) */
          allowed_origins: z.array(z.string().min(1)).default(['localhost', '127.0.0.1', '[::1]']),
          /** an MCP session without a request for this long ends (audited) */
          idle_timeout_seconds: seconds.default(1800),
          /** a call waiting for approval sends notifications/progress this often (at most 5 s) */
          progress_interval_seconds: z.number().positive().max(5).default(4),
          /** MCP sessions one org may hold open at once */
          max_sessions_per_org: positiveInt.default(100),
        })
        .prefault({}),
    })
    .prefault({}),
  /** Cedar policies (*.cedar, optional schema.cedarschema) decided for every action (src/policy/) */
  policy_dir: z.string().min(1).optional(),
  /** agent profiles: what an agent reached through the MCP endpoint may use (issue 19) */
  agents: z.array(AgentProfileSchema).default([]),
  /** a YAML or JSON file holding the agent profiles (a list); it replaces agents */
  agents_file: z.string().min(1).optional(),
  /** stored audit events delivered to the operator's endpoints, signed (src/review/webhooks.ts) */
  webhooks: z.array(WebhookSchema).default([]),
  /** a YAML or JSON file holding the webhooks (a list); it replaces webhooks */
  webhooks_file: z.string().min(1).optional(),
  capability: z
    .object({
      cache_ttl: z.number().min(0).default(300),
      max_skills_per_agent: positiveInt.default(50),
      max_mcp_servers_per_org: positiveInt.default(20),
    })
    .prefault({}),
  policy: z
    .object({
      max_iterations: positiveInt.default(10),
      timeout_seconds: seconds.default(300),
      action_timeout_seconds: seconds.default(60),
      max_concurrent_actions: positiveInt.default(5),
      approval_timeout_seconds: seconds.default(300),
    })
    .prefault({}),
  runtime: z
    .object({
      /** piscina pool size; 0 means one worker per core */
      workers: z.number().int().min(0).default(0),
      max_sessions: positiveInt.default(20_000),
      /** active sessions one org may hold (0: no limit beyond max_sessions) */
      org_max_sessions: z.number().int().min(0).default(0),
      /** memory a session may keep (results, pending work); past it the session fails alone */
      session_max_memory_bytes: positiveInt.default(64 * 1024 * 1024),
      /** bytes a session's sandbox may hold (write_file); 0: no limit */
      sandbox_max_bytes: z.number().int().min(0).default(0),
      /** V8 old-generation cap of a session worker, so a runaway session cannot take the host */
      worker_max_memory_mb: positiveInt.default(1024),
      /** worker deaths within restart_window_seconds before the runtime stops respawning */
      max_restarts: positiveInt.default(10),
      restart_window_seconds: seconds.default(60),
      sandbox_dir: z.string().min(1).default('var/sandbox'),
      skills_dir: z.string().min(1).optional(),
      http_allowed_hosts: z.array(z.string().min(1)).default([]),
      execute_code_timeout_ms: timerMs.default(5000),
      execute_code_max_memory_mb: positiveInt.default(128),
      /** execute_code's confinement (issue 15): bubblewrap, and the child's rlimits */
      execute_code_bwrap: z.string().min(1).default('bwrap'),
      /** RLIMIT_DATA of the whole child: Buffers and native memory count, not only the heap */
      execute_code_max_total_memory_mb: positiveInt.default(512),
      execute_code_max_processes: positiveInt.default(256),
      execute_code_max_file_bytes: positiveInt.default(64 * 1024 * 1024),
      /** keep a finished session's status this long for status() queries */
      ended_session_ttl_seconds: z.number().min(0).max(MAX_TIMER_SECONDS).default(3600),
    })
    .prefault({}),
  /** bounds on JSON entering the runtime from any door (issue 15): see src/json-limits.ts */
  limits: JsonLimitsSchema.prefault({}),
  server: z
    .object({
      host: z.string().min(1).default('127.0.0.1'),
      http_port: z.number().int().min(0).max(65535).default(8000),
      admin_port: z.number().int().min(0).max(65535).default(8901),
      api_tokens: z.record(z.string(), z.string()).default({}),
      api_tokens_file: z.string().min(1).optional(),
      log_file: z.string().min(1).optional(),
      error_log_file: z.string().min(1).optional(),
      /** SIGTERM: how long running actions may take to finish before they are cancelled */
      drain_timeout_seconds: seconds.default(30),
      /** requests per rate_limit_window_seconds allowed to one token (or one client address) */
      rate_limit_max: positiveInt.default(6000),
      rate_limit_window_seconds: seconds.default(60),
      /** largest accepted request body */
      body_limit_bytes: positiveInt.default(1024 * 1024),
      /** a request's headers must arrive within this (a client trickling bytes gets 408) */
      headers_timeout_seconds: seconds.default(10),
      /** the whole request, headers and body, must arrive within this (408 request_timeout) */
      request_timeout_seconds: seconds.default(30),
      /** fastify trustProxy: false, true, a hop count, or addresses/CIDRs ("loopback", "10.0.0.0/8") */
      trust_proxy: z.union([z.boolean(), z.number().int().min(0), z.string().min(1)]).default(false),
      /** the principal that started a session may not approve its actions (true in production) */
      approval_separation: z.boolean().default(false),
    })
    .prefault({}),
  cluster: z
    .object({
      enabled: z.boolean().default(false),
      nats_url: z.string().min(1).default('nats://127.0.0.1:4222'),
      /** names the cluster: its KV buckets (<name>_sessions, <name>_nodes) and NATS subjects; nodes with the same name form one cluster */
      name: z.string().regex(/^[-\w]{1,64}$/, 'letters, digits, - or _ (at most 64)').default('semibot'),
      /** names the node in NATS subjects and KV keys (default: <hostname>-<pid>) */
      node_id: z.string().regex(/^[-\w]{1,100}$/, 'letters, digits, - or _ (at most 100)').optional(),
      /** how often a node renews its lease (and publishes its load) in the nodes KV bucket */
      heartbeat_ms: timerMs.default(1000),
      /** a node whose lease is this old is lost: its sessions fail with node_lost */
      lease_ms: timerMs.default(5000),
      /** how often living nodes look for expired leases; loss is noticed within lease_ms + this */
      node_loss_check_ms: timerMs.default(500),
      /** a forwarded control request (status, approve, cancel) still unanswered after this fails */
      request_timeout_ms: timerMs.default(30_000),
    })
    .prefault({}),
}).superRefine((config, ctx) => {
  // Agent profiles name catalogue servers, and each profile id once.
  const catalogue = new Set(config.mcp.servers.map((s) => s.id));
  const seen = new Set<string>();
  // Tokens a person authorized are stored only sealed: the key must be there before a login can be.
  if (config.mcp.token_key === undefined) {
    for (const [i, server] of config.mcp.servers.entries()) {
      if (server.auth?.type === 'oauth' && server.auth.grant === 'authorization_code') {
        ctx.addIssue({
          code: 'custom',
          path: ['mcp', 'servers', i, 'auth'],
          message: `MCP server ${server.id} uses OAuth authorization codes: set MCP_TOKEN_KEY (mcp.token_key) to store its tokens encrypted`,
        });
      }
    }
  }
  for (const [i, agent] of config.agents.entries()) {
    if (seen.has(agent.id)) ctx.addIssue({ code: 'custom', path: ['agents', i, 'id'], message: `duplicate agent id ${agent.id}` });
    seen.add(agent.id);
    for (const [j, server] of agent.mcp_servers.entries()) {
      if (!catalogue.has(server)) {
        ctx.addIssue({
          code: 'custom',
          path: ['agents', i, 'mcp_servers', j],
          message: `${server} is not an MCP server of the catalogue (mcp.servers / MCP_SERVERS_FILE)`,
        });
      }
    }
  }
});

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

type EnvKind = 'string' | 'int' | 'number' | 'boolean' | 'bytes' | 'list' | 'tokens';

/** Environment variable → dotted config key and how its text is read. */
export const ENV_KEYS: Record<string, { key: string; kind: EnvKind }> = {
  ENVIRONMENT: { key: 'environment', kind: 'string' },
  LOG_LEVEL: { key: 'log_level', kind: 'string' },
  DATABASE_URL: { key: 'database.url', kind: 'string' },
  DATABASE_POOL_SIZE: { key: 'database.pool_size', kind: 'int' },
  DATABASE_MAX_OVERFLOW: { key: 'database.max_overflow', kind: 'int' },
  REDIS_URL: { key: 'redis.url', kind: 'string' },
  REDIS_KEY_PREFIX: { key: 'redis.key_prefix', kind: 'string' },
  AUDIT_STORAGE_TYPE: { key: 'audit.storage_type', kind: 'string' },
  AUDIT_BATCH_SIZE: { key: 'audit.batch_size', kind: 'int' },
  AUDIT_FLUSH_INTERVAL: { key: 'audit.flush_interval', kind: 'number' },
  AUDIT_DURABILITY: { key: 'audit.durability', kind: 'string' },
  AUDIT_SIGNING_KEY: { key: 'audit.signing_key', kind: 'string' },
  AUDIT_CHECKPOINT_INTERVAL: { key: 'audit.checkpoint_interval_seconds', kind: 'number' },
  AUDIT_RETENTION_DAYS: { key: 'audit.retention_days', kind: 'int' },
  AUDIT_LOG_DIR: { key: 'audit.log_dir', kind: 'string' },
  AUDIT_MAX_FILE_SIZE: { key: 'audit.max_file_size', kind: 'bytes' },
  AUDIT_MAX_FILES: { key: 'audit.max_files', kind: 'int' },
  AUDIT_ENCRYPTION_ENABLED: { key: 'audit.encryption_enabled', kind: 'boolean' },
  AUDIT_ENCRYPTION_KEY: { key: 'audit.encryption_key', kind: 'string' },
  AUDIT_MEMORY_MAX_EVENTS: { key: 'audit.memory_max_events', kind: 'int' },
  AUDIT_PRODUCER_WINDOW: { key: 'audit.producer_window', kind: 'int' },
  AUDIT_SPOOL_MAX_BYTES: { key: 'audit.spool_max_bytes', kind: 'bytes' },
  AUDIT_COPY_DEADLINE_MS: { key: 'audit.copy_deadline_ms', kind: 'int' },
  MCP_CONNECTION_TIMEOUT: { key: 'mcp.connection_timeout', kind: 'number' },
  MCP_CALL_TIMEOUT: { key: 'mcp.call_timeout', kind: 'number' },
  MCP_MAX_RETRIES: { key: 'mcp.max_retries', kind: 'int' },
  MCP_RECONNECT_DELAY: { key: 'mcp.reconnect_delay', kind: 'number' },
  MCP_SERVERS_FILE: { key: 'mcp.servers_file', kind: 'string' },
  MCP_TOKEN_DIR: { key: 'mcp.token_dir', kind: 'string' },
  MCP_TOKEN_KEY: { key: 'mcp.token_key', kind: 'string' },
  MCP_ALLOWED_HOSTS: { key: 'mcp.endpoint.allowed_hosts', kind: 'list' },
  MCP_ALLOWED_ORIGINS: { key: 'mcp.endpoint.allowed_origins', kind: 'list' },
  MCP_IDLE_TIMEOUT_SECONDS: { key: 'mcp.endpoint.idle_timeout_seconds', kind: 'number' },
  MCP_MAX_SESSIONS_PER_ORG: { key: 'mcp.endpoint.max_sessions_per_org', kind: 'int' },
  WEBHOOKS_FILE: { key: 'webhooks_file', kind: 'string' },
  AGENTS_FILE: { key: 'agents_file', kind: 'string' },
  POLICY_DIR: { key: 'policy_dir', kind: 'string' },
  CAPABILITY_CACHE_TTL: { key: 'capability.cache_ttl', kind: 'number' },
  MAX_SKILLS_PER_AGENT: { key: 'capability.max_skills_per_agent', kind: 'int' },
  MAX_MCP_SERVERS_PER_ORG: { key: 'capability.max_mcp_servers_per_org', kind: 'int' },
  DEFAULT_MAX_ITERATIONS: { key: 'policy.max_iterations', kind: 'int' },
  DEFAULT_TIMEOUT_SECONDS: { key: 'policy.timeout_seconds', kind: 'number' },
  DEFAULT_ACTION_TIMEOUT_SECONDS: { key: 'policy.action_timeout_seconds', kind: 'number' },
  DEFAULT_MAX_CONCURRENT_ACTIONS: { key: 'policy.max_concurrent_actions', kind: 'int' },
  DEFAULT_APPROVAL_TIMEOUT_SECONDS: { key: 'policy.approval_timeout_seconds', kind: 'number' },
  RUNTIME_WORKERS: { key: 'runtime.workers', kind: 'int' },
  RUNTIME_MAX_SESSIONS: { key: 'runtime.max_sessions', kind: 'int' },
  RUNTIME_WORKER_MAX_MEMORY_MB: { key: 'runtime.worker_max_memory_mb', kind: 'int' },
  SANDBOX_DIR: { key: 'runtime.sandbox_dir', kind: 'string' },
  ORG_MAX_SESSIONS: { key: 'runtime.org_max_sessions', kind: 'int' },
  SESSION_MAX_MEMORY_BYTES: { key: 'runtime.session_max_memory_bytes', kind: 'bytes' },
  SANDBOX_MAX_BYTES: { key: 'runtime.sandbox_max_bytes', kind: 'bytes' },
  EXECUTE_CODE_BWRAP: { key: 'runtime.execute_code_bwrap', kind: 'string' },
  EXECUTE_CODE_MAX_TOTAL_MEMORY_MB: { key: 'runtime.execute_code_max_total_memory_mb', kind: 'int' },
  EXECUTE_CODE_MAX_PROCESSES: { key: 'runtime.execute_code_max_processes', kind: 'int' },
  EXECUTE_CODE_MAX_FILE_BYTES: { key: 'runtime.execute_code_max_file_bytes', kind: 'bytes' },
  SKILLS_DIR: { key: 'runtime.skills_dir', kind: 'string' },
  HTTP_ALLOWED_HOSTS: { key: 'runtime.http_allowed_hosts', kind: 'list' },
  HOST: { key: 'server.host', kind: 'string' },
  HTTP_PORT: { key: 'server.http_port', kind: 'int' },
  ADMIN_PORT: { key: 'server.admin_port', kind: 'int' },
  API_TOKENS: { key: 'server.api_tokens', kind: 'tokens' },
  API_TOKENS_FILE: { key: 'server.api_tokens_file', kind: 'string' },
  LOG_FILE: { key: 'server.log_file', kind: 'string' },
  ERROR_LOG_FILE: { key: 'server.error_log_file', kind: 'string' },
  DRAIN_TIMEOUT_SECONDS: { key: 'server.drain_timeout_seconds', kind: 'number' },
  RATE_LIMIT_MAX: { key: 'server.rate_limit_max', kind: 'int' },
  RATE_LIMIT_WINDOW_SECONDS: { key: 'server.rate_limit_window_seconds', kind: 'number' },
  BODY_LIMIT: { key: 'server.body_limit_bytes', kind: 'bytes' },
  HEADERS_TIMEOUT_SECONDS: { key: 'server.headers_timeout_seconds', kind: 'number' },
  REQUEST_TIMEOUT_SECONDS: { key: 'server.request_timeout_seconds', kind: 'number' },
  JSON_MAX_DEPTH: { key: 'limits.json_max_depth', kind: 'int' },
  JSON_MAX_STRING_CHARS: { key: 'limits.json_max_string_chars', kind: 'int' },
  JSON_MAX_ARRAY_ITEMS: { key: 'limits.json_max_array_items', kind: 'int' },
  JSON_MAX_OBJECT_KEYS: { key: 'limits.json_max_object_keys', kind: 'int' },
  JSON_MAX_NODES: { key: 'limits.json_max_nodes', kind: 'int' },
  TRUST_PROXY: { key: 'server.trust_proxy', kind: 'string' },
  APPROVAL_SEPARATION: { key: 'server.approval_separation', kind: 'boolean' },
  CLUSTER_ENABLED: { key: 'cluster.enabled', kind: 'boolean' },
  NATS_URL: { key: 'cluster.nats_url', kind: 'string' },
  NODE_ID: { key: 'cluster.node_id', kind: 'string' },
  CLUSTER_NAME: { key: 'cluster.name', kind: 'string' },
  CLUSTER_HEARTBEAT_MS: { key: 'cluster.heartbeat_ms', kind: 'int' },
  CLUSTER_LEASE_MS: { key: 'cluster.lease_ms', kind: 'int' },
  CLUSTER_NODE_LOSS_CHECK_MS: { key: 'cluster.node_loss_check_ms', kind: 'int' },
  CLUSTER_REQUEST_TIMEOUT_MS: { key: 'cluster.request_timeout_ms', kind: 'int' },
};
