/**
 * The MCP conformance suite's client scenarios, played by the runtime's own MCP client.
 *
 * The suite starts a scenario's server (and authorization server), then launches this file with
 * the server's URL as its last argument, the scenario in MCP_CONFORMANCE_SCENARIO and its data
 * (client ids, secrets, keys) in MCP_CONFORMANCE_CONTEXT. The adapter only translates the
 * scenario into what an operator would write: a catalogue entry for the server with its `auth`;
 * everything else is the runtime: a session that names the server connects to it through the
 * gateway (authorizing as the entry says), lists its tools and calls each one as an action.
 * Logins happen the way `run FILE` does them: the URL goes to $BROWSER (tests/helpers/
 * browser-follow.mjs, which approves like a person would) and the code comes back on the
 * loopback redirect; an elicitation is answered by accepting the server's defaults.
 *
 * Exit 0 when every tool call succeeded; 1 otherwise (some scenarios expect the client to fail).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { terminalLogin } from '../../src/capabilities/mcp/auth/terminal-login.ts';
import type { McpAuthConfig } from '../../src/contracts.ts';
import { createRuntime } from '../../src/index.ts';

const BROWSER = path.join(path.dirname(fileURLToPath(import.meta.url)), '../helpers/browser-follow.mjs');
/** The client ID metadata document the CIMD scenario expects a client to present. */
const CLIENT_METADATA_URL = 'https://conformance-test.local/client-metadata.json';

type Context = Record<string, string | undefined>;

async function authFor(scenario: string, ctx: Context, dir: string): Promise<McpAuthConfig | undefined> {
  if (!scenario.startsWith('auth/')) return undefined;
  // A pre-registered client's secret, named by environment variable as an operator would.
  process.env.CONFORMANCE_CLIENT_SECRET = ctx.client_secret;
  const preRegistered = { client_id: ctx.client_id!, client_secret_env: 'CONFORMANCE_CLIENT_SECRET' };
  if (scenario === 'auth/client-credentials-basic') {
    return { type: 'oauth', grant: 'client_credentials', ...preRegistered };
  }
  if (scenario === 'auth/client-credentials-jwt') {
    const keyFile = path.join(dir, 'client-key.pem');
    await writeFile(keyFile, ctx.private_key_pem!, { mode: 0o600 });
    return {
      type: 'oauth',
      grant: 'client_credentials',
      client_id: ctx.client_id!,
      private_key_file: keyFile,
      signing_algorithm: (ctx.signing_algorithm ?? 'ES256') as 'ES256',
    };
  }
  if (scenario === 'auth/pre-registration') {
    return { type: 'oauth', grant: 'authorization_code', ...preRegistered };
  }
  return { type: 'oauth', grant: 'authorization_code', client_metadata_url: CLIENT_METADATA_URL };
}

/** Arguments for a tool from its input schema: enough to call it. */
function argumentsFor(schema: Record<string, unknown>): Record<string, unknown> {
  const properties = (schema.properties ?? {}) as Record<string, { type?: string }>;
  const args: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    if (property.type === 'number' || property.type === 'integer') args[name] = 2;
    else if (property.type === 'boolean') args[name] = true;
    else if (property.type === 'string') args[name] = 'conformance';
  }
  return args;
}

async function main(): Promise<number> {
  const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
  const url = process.argv.at(-1)!;
  const ctx = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}') as Context;
  const dir = await mkdtemp(path.join(tmpdir(), 'semibot-conformance-client-'));
  const auth = await authFor(scenario, ctx, dir);
  const runtime = createRuntime(
    {
      audit: { storage_type: 'memory' },
      runtime: { workers: 1, sandbox_dir: path.join(dir, 'sandbox') },
      mcp: {
        connection_timeout: 20,
        reconnect_delay: 60,
        token_dir: path.join(dir, 'tokens'),
        token_key: randomBytes(32).toString('base64'),
        servers: [{ id: 'conf', transport: { type: 'http', url }, ...(auth ? { auth } : {}) }],
      },
    },
    {
      env: { ...process.env, ENVIRONMENT: 'test' },
      mcpLogin: terminalLogin(process.stderr, { BROWSER: `${process.execPath} ${BROWSER}` }, 20_000),
      // The person at hand accepts what the server proposes (its defaults), as a person clicking OK would.
      mcpElicitation: async () => ({ action: 'accept', content: {} }),
    },
  );
  await runtime.start();
  let failures = 0;
  try {
    const session = await runtime.createSession({
      org_id: 'conformance',
      user_id: 'adapter',
      agent_id: 'conformance-client',
      mcp_servers: ['conf'],
      policy: { max_iterations: 1000 },
    });
    // The server counts as reached when the session's trail says it connected.
    const trail = await runtime.audit.query({ session_id: session.id });
    for (const e of trail.filter((e) => e.event_type.startsWith('mcp_'))) {
      console.error(`${e.event_type}: ${e.error_message ?? e.message}`);
    }
    if (!trail.some((e) => e.event_type === 'mcp_connected')) failures++;
    const tools = (await session.currentCapabilities()).filter((c) => c.kind === 'mcp');
    for (const tool of tools) {
      const result = await session.execute({ name: tool.name, params: argumentsFor(tool.input_schema) });
      console.error(`${tool.name}: ${JSON.stringify(result.success ? result.result : result.error)}`);
      if (!result.success) failures++;
    }
    await session.end();
  } finally {
    await runtime.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
