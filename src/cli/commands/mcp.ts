/**
 * semibot-runtime mcp --agent ID [--org ORG] [--user USER]
 * Serves one agent profile as an MCP server over stdio (src/mcp-server/stdio-server.ts).
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { type Command, EXIT_OK, UsageError } from '../command.ts';

export const mcpCommand: Command = {
  name: 'mcp',
  summary: 'serve an agent profile as an MCP server over stdio (for desktop MCP clients)',
  help: `Usage: semibot-runtime mcp --agent ID [--org ORG] [--user USER]

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

Logs go to stderr; stdout carries only the MCP protocol.`,

  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { agent: { type: 'string' }, org: { type: 'string' }, user: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 0)
      throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])} (see --help)`);
    if (!values.agent) throw new UsageError('--agent ID is required (an id of the agents: profiles)');
    const [{ createRuntime }, { serveStdio }, { agentProfile, mcpSessionOrg }] = await Promise.all([
      import('../../runtime.ts'),
      import('../../mcp-server/stdio-server.ts'),
      import('../../mcp-server/agent-profile.ts'),
    ]);
    const runtime = createRuntime();
    const profile = runtime.config.agents.find((a) => a.id === values.agent);
    const orgId = values.org ?? mcpSessionOrg(undefined, profile);
    // Refused before anything starts: the profile exists and is open to the org.
    agentProfile(runtime.config, values.agent, orgId);
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
