/**
 * semibot-runtime mcp --agent ID [--org ORG] [--user USER]
 *   Serves one agent profile as an MCP server over stdio (src/mcp-server/stdio-server.ts).
 * semibot-runtime mcp pins list [SERVER] | accept SERVER
 *   Pinned tool definitions of catalogue servers (src/capabilities/mcp/tool-pins.ts).
 * semibot-runtime mcp login SERVER [--org ORG] | logout SERVER [--org ORG]
 *   OAuth authorization of the runtime for a catalogue server (src/capabilities/mcp/auth/).
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { type Command, EXIT_OK, UsageError } from '../command.ts';

export const mcpCommand: Command = {
  name: 'mcp',
  summary: 'serve an agent profile as an MCP server over stdio (for desktop MCP clients)',
  help: `Usage: semibot-runtime mcp --agent ID [--org ORG] [--user USER]
       semibot-runtime mcp pins list [SERVER]
       semibot-runtime mcp pins accept SERVER
       semibot-runtime mcp login SERVER [--org ORG] [--force] [--timeout SECONDS]
       semibot-runtime mcp logout SERVER [--org ORG]

Serves the agent profile ID (agents: in the config, or AGENTS_FILE) as an MCP server on
stdin/stdout: one runtime session for the life of the connection. Every tools/call goes
through validation, policy, approval and the audit trail. A high-risk call asks the client
for approval through MCP elicitation when the client supports it, and is refused with
approval_unavailable otherwise.

Options:
  --agent ID    the agent profile to serve (required)
  --org ORG     the org the session belongs to (default: the profile's first org, else "default")
  --user USER   the user recorded in the trail (default: this account's name)
  -h, --help

Logs go to stderr; stdout carries only the MCP protocol.

pins list     the pinned tool definitions (beside the audit trail), and the changed ones
              that are withheld (PENDING)
pins accept   makes the changed definitions of SERVER's tools the pinned ones: the running
              runtime offers those tools again within seconds

login         authorizes the runtime for ORG's use of SERVER (a catalogue server with
              auth {type: oauth}): prints the authorization URL, opens it with $BROWSER
              when set, and takes the code on a loopback redirect (127.0.0.1). The tokens
              are stored sealed in MCP_TOKEN_DIR under MCP_TOKEN_KEY; a running daemon uses
              them at its next request. --force logs in again even with good tokens;
              --timeout how long to wait for the browser (default 300 s)
logout        deletes ORG's stored tokens for SERVER and revokes them at the authorization
              server when it offers revocation; the runtime withholds SERVER's tools for
              ORG until the next login (--org defaults to "default" for both)`,

  async run(argv) {
    if (argv[0] === 'pins') return pins(argv.slice(1));
    if (argv[0] === 'login' || argv[0] === 'logout') return loginOrLogout(argv[0], argv.slice(1));
    const { values, positionals } = parseArgs({
      args: argv,
      options: { agent: { type: 'string' }, org: { type: 'string' }, user: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 0)
      throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])} (see --help)`);
    if (!values.agent) throw new UsageError('--agent ID is required (an id of the agents: profiles)');
    const [{ createRuntime }, { serveStdio }, { resolveAgent }] = await Promise.all([
      import('../../runtime.ts'),
      import('../../mcp-server/stdio-server.ts'),
      import('../../mcp-server/agent-profile.ts'),
    ]);
    const runtime = createRuntime();
    // Refused before anything starts: the profile exists and is open to the org.
    const { orgId } = resolveAgent(runtime.config, values.agent, values.org);
    await runtime.start();
    try {
      await serveStdio(runtime, { agentId: values.agent, orgId, userId: values.user ?? localUser() });
    } finally {
      await runtime.stop();
    }
    return EXIT_OK;
  },
};

function localUser(): string {
  try {
    return userInfo().username || 'local';
  } catch {
    return 'local';
  }
}

async function pins(argv: string[]): Promise<number> {
  const [sub, server, ...extra] = argv;
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])} (see --help)`);
  if (sub !== 'list' && sub !== 'accept')
    throw new UsageError('expected mcp pins list [SERVER] or mcp pins accept SERVER');
  if (sub === 'accept' && !server) throw new UsageError('mcp pins accept needs the catalogue id of a server');
  const [{ loadConfig }, { createPinStore }] = await Promise.all([
    import('../../../config/load.ts'),
    import('../../capabilities/mcp/tool-pins.ts'),
  ]);
  const store = createPinStore(loadConfig());
  try {
    if (sub === 'accept') {
      const accepted = await store.accept(server!);
      if (accepted.length === 0) {
        console.log(`${server}: no changed tool definition waits for acceptance`);
        return EXIT_OK;
      }
      for (const pin of accepted)
        console.log(`${server}: accepted the new definition of ${pin.tool} (${pin.hash.slice(0, 12)}…)`);
      return EXIT_OK;
    }
    const list = await store.list(server);
    for (const pin of list) {
      const pending = pin.pending_hash
        ? `  PENDING ${pin.pending_hash.slice(0, 12)}… seen ${pin.pending_seen_at}`
        : '';
      console.log(
        `${pin.server_id}  ${pin.tool}  ${pin.hash.slice(0, 12)}…  pinned ${pin.pinned_at}${pending}`,
      );
    }
    console.log(`${list.length} pinned tool(s), ${list.filter((p) => p.pending_hash).length} withheld`);
    return EXIT_OK;
  } finally {
    await store.close();
  }
}

async function loginOrLogout(sub: 'login' | 'logout', argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      org: { type: 'string', default: 'default' },
      force: { type: 'boolean', default: false },
      timeout: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const [server, ...extra] = positionals;
  if (!server) throw new UsageError(`mcp ${sub} needs the catalogue id of a server`);
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])} (see --help)`);
  if (sub === 'logout' && (values.force || values.timeout !== undefined))
    throw new UsageError('mcp logout takes only SERVER and --org');
  const timeoutSeconds = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeoutSeconds !== undefined && !(Number.isFinite(timeoutSeconds) && timeoutSeconds > 0))
    throw new UsageError(
      `--timeout must be a positive number of seconds, got ${JSON.stringify(values.timeout)}`,
    );
  const [{ loadConfig }, { login, logout }, { terminalLogin, DEFAULT_LOGIN_TIMEOUT_MS }] = await Promise.all([
    import('../../../config/load.ts'),
    import('../../capabilities/mcp/auth/login.ts'),
    import('../../capabilities/mcp/auth/terminal-login.ts'),
  ]);
  const config = loadConfig();
  const org = values.org;
  if (sub === 'logout') {
    const result = await logout(config, server, org);
    if (!result.removed) console.log(`${server}: org ${org} held no authorization`);
    else
      console.log(
        `${server}: the authorization of org ${org} is deleted${result.revoked ? ' and revoked at the authorization server' : ''}`,
      );
    if (result.note && result.removed) console.log(`  (${result.note})`);
    return EXIT_OK;
  }
  const timeoutMs = timeoutSeconds === undefined ? DEFAULT_LOGIN_TIMEOUT_MS : timeoutSeconds * 1000;
  const result = await login(config, server, org, terminalLogin(process.stderr, process.env, timeoutMs), {
    force: values.force,
  });
  console.log(
    `${server}: org ${org} is authorized${result.prompted ? '' : ' (the stored tokens were still good)'}; ${result.tools} tool(s)`,
  );
  return EXIT_OK;
}
