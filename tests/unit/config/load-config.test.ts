import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../config/load.ts';
import { ENV_KEYS } from '../../../config/schema.ts';

describe('configuration', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-config-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('has the deployment guide defaults', () => {
    const c = loadConfig({ env: {}, configDir: dir });
    expect(c.audit).toMatchObject({ batch_size: 1000, flush_interval: 10, retention_days: 90, max_file_size: 104857600, max_files: 10 });
    expect(c.mcp).toMatchObject({ connection_timeout: 10, call_timeout: 30, max_retries: 3 });
    expect(c.capability).toMatchObject({ cache_ttl: 300, max_skills_per_agent: 50, max_mcp_servers_per_org: 20 });
    expect(c.policy).toMatchObject({ max_iterations: 10, timeout_seconds: 300, max_concurrent_actions: 5 });
    expect(c.server).toMatchObject({ host: '127.0.0.1', http_port: 8000, admin_port: 8901 });
  });

  it('layers defaults < <ENVIRONMENT>.yaml < ENV_FILE < environment', async () => {
    await writeFile(path.join(dir, 'staging.yaml'), 'audit:\n  batch_size: 10\n  max_files: 3\n  retention_days: 7\n');
    const envFile = path.join(dir, 'staging.env');
    await writeFile(envFile, 'AUDIT_BATCH_SIZE=20\nAUDIT_MAX_FILES=4\n# a comment\n');
    const c = loadConfig({
      env: { ENVIRONMENT: 'production', ENV_FILE: envFile, AUDIT_BATCH_SIZE: '30' },
      configDir: dir,
    });
    expect(c.audit.batch_size).toBe(30); // environment wins
    expect(c.audit.max_files).toBe(4); // then the env file
    expect(c.audit.retention_days).toBe(90); // staging.yaml is not production.yaml
    const staging = loadConfig({ env: { ENVIRONMENT: 'testing' }, configDir: dir });
    expect(staging.audit.batch_size).toBe(1000);
  });

  it('reads <ENVIRONMENT>.yaml for the selected environment', async () => {
    await writeFile(path.join(dir, 'testing.yaml'), 'audit:\n  storage_type: memory\nruntime:\n  workers: 3\n');
    const c = loadConfig({ env: { ENVIRONMENT: 'testing' }, configDir: dir });
    expect(c.audit.storage_type).toBe('memory');
    expect(c.runtime.workers).toBe(3);
  });

  it('reads sizes, booleans, lists and token pairs from the environment', () => {
    const c = loadConfig({
      env: {
        AUDIT_MAX_FILE_SIZE: '100MB',
        AUDIT_ENCRYPTION_ENABLED: 'yes',
        AUDIT_ENCRYPTION_KEY: 'k',
        HTTP_ALLOWED_HOSTS: 'api.example.com, 127.0.0.1:8080',
        API_TOKENS: 'tok-a=acme,tok-b=globex',
      },
      configDir: dir,
    });
    expect(c.audit.max_file_size).toBe(100 * 1024 * 1024);
    expect(c.audit.encryption_enabled).toBe(true);
    expect(c.runtime.http_allowed_hosts).toEqual(['api.example.com', '127.0.0.1:8080']);
    expect(c.server.api_tokens).toEqual({ 'tok-a': 'acme', 'tok-b': 'globex' });
  });

  it('stops with one line naming the key, the value and what was expected', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ AUDIT_BATCH_SIZE: 'lots' }, /^AUDIT_BATCH_SIZE \(audit\.batch_size\) = "lots": expected an integer$/],
      [{ AUDIT_BATCH_SIZE: '0' }, /^AUDIT_BATCH_SIZE \(audit\.batch_size\) = 0: .*>0/],
      [{ AUDIT_STORAGE_TYPE: 'tape' }, /^AUDIT_STORAGE_TYPE \(audit\.storage_type\) = "tape": one of "memory", "file", "database"$/],
      [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL \(log_level\) = "loud": one of /],
      [{ AUDIT_ENCRYPTION_ENABLED: 'maybe' }, /AUDIT_ENCRYPTION_ENABLED .*"maybe": expected true or false/],
      [{ AUDIT_MAX_FILE_SIZE: 'big' }, /AUDIT_MAX_FILE_SIZE .*"big": expected a size in bytes/],
      [{ API_TOKENS: 'no-equals-sign' }, /API_TOKENS .*token=org_id pairs/],
      [{ HTTP_PORT: '99999' }, /^HTTP_PORT \(server\.http_port\) = 99999: /],
      [{ ENVIRONMENT: 'staging' }, /^ENVIRONMENT \(environment\) = "staging": one of /],
      [{ ENV_FILE: '/nonexistent/semibot.env' }, /^ENV_FILE="\/nonexistent\/semibot.env": cannot read it/],
      // Durations become timers; Node fires a longer timer at once.
      [{ DEFAULT_TIMEOUT_SECONDS: '3000000' }, /^DEFAULT_TIMEOUT_SECONDS \(policy\.timeout_seconds\) = 3000000: must be at most 2147483 s/],
      [{ CLUSTER_LEASE_MS: '3000000000' }, /^CLUSTER_LEASE_MS \(cluster\.lease_ms\) = 3000000000: must be at most 2147483647 ms/],
    ];
    for (const [env, message] of cases) {
      let caught: unknown;
      try {
        loadConfig({ env, configDir: dir });
      } catch (err) {
        caught = err;
      }
      expect(caught, JSON.stringify(env)).toBeInstanceOf(ConfigError);
      expect((caught as Error).message).toMatch(message);
      expect((caught as Error).message).not.toContain('\n');
    }
  });

  it('names the YAML file when a value there is wrong', async () => {
    await writeFile(path.join(dir, 'testing.yaml'), 'audit:\n  max_files: -1\n');
    expect(() => loadConfig({ env: { ENVIRONMENT: 'testing' }, configDir: dir })).toThrow(
      /^audit\.max_files in .*testing\.yaml = -1: /,
    );
    await writeFile(path.join(dir, 'testing.yaml'), 'audit: [unclosed\n');
    expect(() => loadConfig({ env: { ENVIRONMENT: 'testing' }, configDir: dir })).toThrow(/testing\.yaml: not valid YAML/);
  });

  it('is frozen after start-up', () => {
    const c = loadConfig({ env: {}, configDir: dir });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.audit)).toBe(true);
    expect(() => {
      (c.audit as { batch_size: number }).batch_size = 1;
    }).toThrow(TypeError);
  });

  it('knows every environment variable of the deployment guide', () => {
    const guide = [
      'ENVIRONMENT', 'LOG_LEVEL', 'DATABASE_URL', 'DATABASE_POOL_SIZE', 'DATABASE_MAX_OVERFLOW', 'REDIS_URL',
      'AUDIT_STORAGE_TYPE', 'AUDIT_BATCH_SIZE', 'AUDIT_FLUSH_INTERVAL', 'AUDIT_RETENTION_DAYS', 'AUDIT_LOG_DIR',
      'AUDIT_MAX_FILE_SIZE', 'AUDIT_MAX_FILES', 'AUDIT_ENCRYPTION_ENABLED', 'AUDIT_ENCRYPTION_KEY',
      'MCP_CONNECTION_TIMEOUT', 'MCP_CALL_TIMEOUT', 'MCP_MAX_RETRIES', 'CAPABILITY_CACHE_TTL', 'MAX_SKILLS_PER_AGENT',
      'MAX_MCP_SERVERS_PER_ORG', 'DEFAULT_MAX_ITERATIONS', 'DEFAULT_TIMEOUT_SECONDS', 'DEFAULT_MAX_CONCURRENT_ACTIONS',
      'HOST', 'HTTP_PORT', 'ADMIN_PORT', 'API_TOKENS', 'API_TOKENS_FILE', 'LOG_FILE', 'ERROR_LOG_FILE',
      'CLUSTER_ENABLED', 'NATS_URL', 'NODE_ID',
    ];
    for (const name of guide) expect(ENV_KEYS, name).toHaveProperty(name);
  });

  it('checks in development, test and production files that pass validation', () => {
    for (const environment of ['development', 'test', 'production']) {
      expect(() => loadConfig({ env: { ENVIRONMENT: environment, DATABASE_URL: 'postgres://x@127.0.0.1/db' } })).not.toThrow();
    }
  });
});
