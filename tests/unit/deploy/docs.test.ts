/**
 * Keeps docs/ true: the environment variables of the deployment guide are exactly ENV_KEYS
 * (and map to the same keys), the error codes the docs name exist in the catalogue and the API
 * reference lists every one with its status, every CLI command and its flags are documented,
 * and every document the guide promises exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/load.ts';
import { ENV_KEYS } from '../../../config/schema.ts';
import { AuditEventTypeSchema } from '../../../src/audit/events.ts';
import { ERROR_CATALOGUE } from '../../../src/errors.ts';

const root = path.resolve(import.meta.dirname, '../../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
const DOCS = ['deployment-guide.md', 'architecture.md', 'api-reference.md', 'troubleshooting.md'];

function between(text: string, marker: string): string {
  const start = text.indexOf(`<!-- ${marker}:start -->`);
  const end = text.indexOf(`<!-- ${marker}:end -->`);
  expect(start, `${marker} markers`).toBeGreaterThan(-1);
  expect(end).toBeGreaterThan(start);
  return text.slice(start, end);
}

/** Rows of a markdown table as arrays of cell texts without backticks. */
function rows(table: string): string[][] {
  return table
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((l) =>
      l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim().replace(/`/g, '')),
    );
}

describe('docs/', () => {
  it('has every document of the guide, and a changelog', () => {
    for (const doc of DOCS) expect(existsSync(path.join(root, 'docs', doc)), doc).toBe(true);
    expect(read('CHANGELOG.md')).toMatch(/## \[Unreleased\]/);
  });

  it('the deployment guide has the sections of the guide', () => {
    const headings = [...read('docs/deployment-guide.md').matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(headings).toEqual([
      'Requirements',
      'Install',
      'Configuration',
      'Deployment modes',
      'Monitoring and logs',
      'Fault recovery',
      'Upgrade',
      'Tuning',
      'Hardening',
    ]);
  });

  it('the environment table of the deployment guide is exactly ENV_KEYS, with the same keys', () => {
    const table = rows(between(read('docs/deployment-guide.md'), 'env-table'));
    expect(Object.fromEntries(table.map(([name, key]) => [name, key]))).toEqual(
      Object.fromEntries(Object.entries(ENV_KEYS).map(([name, { key }]) => [name, key])),
    );
  });

  it('every environment variable the deployment guide names is in ENV_KEYS (or is not config, said so)', () => {
    // Named in the guide as not being configuration keys: the env file itself, planner API
    // keys, and the operator scripts' own variables.
    const notConfig = new Set(['ENV_FILE', 'OPENAI_API_KEY', 'HEALTH_URL', 'HEALTH_TIMEOUT', 'BACKUP_DIR', 'KEEP', 'ENV_KEYS', 'SIGHUP']);
    const text = read('docs/deployment-guide.md');
    const named = new Set([...text.matchAll(/`\$?([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{4,})`/g)].map((m) => m[1]!));
    for (const name of ['LOG_LEVEL', 'DATABASE_URL', 'AUDIT_SPOOL_MAX_BYTES']) expect(named).toContain(name);
    // OTEL_*: the OpenTelemetry SDK's standard variables (traces), read as they are.
    const unknown = [...named].filter((n) => !(n in ENV_KEYS) && !notConfig.has(n) && !n.startsWith('OTEL_'));
    expect(unknown).toEqual([]);
    for (const name of Object.keys(ENV_KEYS)) expect(text, name).toContain(`\`${name}\``);
  });

  it('the API reference lists every catalogue code with its status and meaning', () => {
    const table = rows(between(read('docs/api-reference.md'), 'error-table'));
    expect(Object.fromEntries(table.map(([code, status, meaning]) => [code, { status: Number(status), message: meaning }]))).toEqual(
      ERROR_CATALOGUE,
    );
  });

  it('every error code the docs name exists in the catalogue', () => {
    // Backticked snake_case words are error codes unless they are audit event types, metric
    // names, config keys, health components or SQL objects.
    const config = loadConfig({ env: {}, configDir: path.join(root, 'no-such-dir') }) as unknown as Record<string, unknown>;
    const leaves = (o: Record<string, unknown>): string[] =>
      Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' && !Array.isArray(v) ? [k, ...leaves(v as Record<string, unknown>)] : [k]));
    const keys = new Set([...leaves(config), ...Object.values(ENV_KEYS).flatMap(({ key }) => key.split('.'))]);
    const other = new Set<string>([
      ...AuditEventTypeSchema.options,
      'audit_logger', 'redirect_port', 'token_env', 'client_secret_env', 'client_id', 'client_metadata_url', 'private_key_file', 'signing_algorithm', 'client_credentials', 'authorization_code', 'insufficient_scope', 'offline_access', 'mcp_client', 'mcp_tool_pins', 'always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_traceidratio', 'parentbased_always_off', 'capability_cache', 'mcp_servers', 'audit_events', 'semibot_schema_migrations', 'semibot_audit_writer',
      'semibot_audit_reader', 'semibot_audit_retention', 'org_id', 'user_id', 'agent_id', 'session_id', 'action_id',
      'params_hash', 'event_type', 'api_key_env', 'prev_hash', 'decided_by', 'pg_dump', 'max_connections', 'event_id', 'next_cursor', 'started_by', 'first_bad',
      'http_request', 'execute_code', 'read_file', 'write_file', 'delete_file',
    ]);
    for (const doc of DOCS) {
      const text = read(`docs/${doc}`);
      const words = [...text.matchAll(/`([a-z]+(?:_[a-z]+)+)`/g)].map((m) => m[1]!);
      const notCodes = words.filter(
        (w) => !(w in ERROR_CATALOGUE) && !other.has(w) && !keys.has(w) && !w.startsWith('runtime_'),
      );
      expect(notCodes, `${doc}: backticked words that are no error code, event type, key or metric`).toEqual([]);
    }
    // the troubleshooting guide really names codes
    expect(read('docs/troubleshooting.md')).toContain('`approval_timeout`');
  });

  it('every CLI command of the registry, and every flag in its source, is in the API reference', () => {
    const main = read('src/cli/main.ts');
    const registry = main.slice(main.indexOf('const COMMANDS'), main.indexOf('];', main.indexOf('const COMMANDS')));
    const commands = [...registry.matchAll(/name: '([a-z-]+)'/g)].map((m) => m[1]!);
    expect(commands).toEqual(expect.arrayContaining(['serve', 'run', 'audit', 'migrate']));
    const reference = read('docs/api-reference.md');
    for (const name of commands) {
      expect(reference, name).toMatch(new RegExp(`^### \`semibot-runtime ${name}\\b`, 'm'));
      for (const file of [`src/cli/commands/${name}.ts`, `src/cli/commands/${name}-query.ts`]) {
        if (!existsSync(path.join(root, file))) continue;
        const source = read(file);
        const options = source.match(/options: \{[\s\S]*?\n\s*\}/g) ?? [];
        const flags = options.flatMap((o) => [...o.matchAll(/^\s*([a-z][a-z-]*): \{ type:/gm)].map((m) => m[1]!));
        for (const flag of flags) expect(reference, `${name} --${flag}`).toContain(`--${flag}`);
      }
    }
  });
});
