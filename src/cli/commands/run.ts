/**
 * semibot-runtime run <file.yaml|file.json> [--json]
 * Runs one session from a file and prints its results (or, with --json, its audit trail as
 * JSON lines). A high-risk action is asked about on the terminal when one is attached;
 * otherwise it waits for its approval timeout and is denied.
 */
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import type { ActionResult, SessionStatus } from '../../contracts.ts';
import type { AuditEvent } from '../../audit/events.ts';
import { type Command, EXIT_FAILED, EXIT_OK, UsageError } from '../command.ts';
import { readSessionFile } from '../session-file.ts';
import type { ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import type { ElicitationRequest } from '../../capabilities/mcp/elicitation.ts';

const PAGE = 1000;

export const runCommand: Command = {
  name: 'run',
  summary: 'run one session from a YAML or JSON file and print its results',
  help: `Usage: semibot-runtime run <file.yaml|file.json> [--json]

Runs one session whose file holds the same body as POST /v1/sessions (org_id, user_id,
agent_id, tools, skills, policy, planner: {type: scripted, steps: [[action, ...], ...]}).

Options:
  --json    print the session's audit trail as JSON lines (one event a line) instead of results
  -h, --help

High-risk actions (policy.high_risk_tools) are asked about on the terminal when stdin is a
TTY; otherwise they wait for policy.approval_timeout_seconds and are denied.
An MCP server of the catalogue that needs an OAuth login (auth {type: oauth}) gets one here
when stdin is a TTY or $BROWSER is set: the URL is printed to stderr (and opened with
$BROWSER), as with mcp login. On a terminal, a server's question for the person (MCP form
elicitation) is shown with its default values, to accept or decline.
Exit codes: 0 the session completed, 1 it failed or was cancelled, 2 the file or options are invalid.`,

  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { json: { type: 'boolean', default: false } },
      allowPositionals: true,
      strict: true,
    }).valueOf() as { values: { json: boolean }; positionals: string[] };
    if (positionals.length !== 1) throw new UsageError('expected exactly one session file (see --help)');
    const request = await readSessionFile(positionals[0]!);
    if (request.planner?.type === 'external' || request.planner === undefined) {
      throw new UsageError(
        `${positionals[0]}: planner.type must be scripted or openai for run (external sessions are driven over the API)`,
      );
    }

    // Loaded only now: a bad file is refused without starting (or even loading) the runtime.
    const [{ createRuntime }, { terminalLogin }] = await Promise.all([
      import('../../runtime.ts'),
      import('../../capabilities/mcp/auth/terminal-login.ts'),
    ]);
    // A server that asks for an OAuth login gets it here when someone can answer: a terminal,
    // or a $BROWSER to open the URL with (the prompt goes to stderr).
    const interactive = process.stdin.isTTY === true;
    const runtime = createRuntime(
      {},
      {
        ...(interactive || process.env.BROWSER ? { mcpLogin: terminalLogin(process.stderr, process.env) } : {}),
        // A server's question for the person (MCP elicitation) is asked here only on a terminal.
        ...(interactive ? { mcpElicitation: elicitOnTerminal } : {}),
      },
    );
    await runtime.start();
    let status: SessionStatus;
    try {
      const session = await runtime.createSession(request);
      if (interactive) {
        runtime.onApprovalRequested(({ session_id, org_id, approval }) => {
          if (session_id !== session.id || org_id !== session.orgId) return;
          void askOnTerminal(approval.name, approval.params, approval.expires_at).then((granted) =>
            session
              .approve(approval.action_id, granted, {
                decided_by: 'terminal',
                reason: granted ? 'approved on the terminal' : 'denied on the terminal',
              })
              .catch(() => {}),
          );
        });
      } else if (!values.json) {
        runtime.onApprovalRequested(({ approval }) => {
          console.error(
            `approval needed for ${approval.name} (${approval.action_id}); no terminal attached, it will be denied at ${approval.expires_at}`,
          );
        });
      }
      status = await session.run();
      await runtime.audit.flush();
      if (values.json) {
        for await (const event of auditTrail((q) => runtime.audit.query(q), session)) {
          process.stdout.write(`${JSON.stringify(event)}\n`);
        }
      } else {
        printStatus(status);
      }
    } finally {
      await runtime.stop();
    }
    return status.state === 'completed' ? EXIT_OK : EXIT_FAILED;
  },
};

async function* auditTrail(
  query: (q: { org_id: string; session_id: string; limit: number; offset: number }) => Promise<AuditEvent[]>,
  session: { id: string; orgId: string },
): AsyncGenerator<AuditEvent> {
  for (let offset = 0; ; offset += PAGE) {
    const page = await query({ org_id: session.orgId, session_id: session.id, limit: PAGE, offset });
    yield* page.sort((a, b) => a.seq - b.seq);
    if (page.length < PAGE) return;
  }
}

function printStatus(status: SessionStatus): void {
  console.log(`session ${status.session_id}: ${status.state} after ${status.iteration} iteration(s)`);
  for (const r of status.results) console.log(formatResult(r));
  if (status.error) console.log(`error: ${status.error.code}: ${status.error.message}`);
}

function formatResult(r: ActionResult): string {
  const mark = r.success ? 'ok  ' : 'FAIL';
  const detail = r.success ? JSON.stringify(r.result) : `${r.error?.code}: ${r.error?.message}`;
  return `  ${mark} ${r.name} [${r.action_id}] ${r.duration_ms.toFixed(1)} ms  ${detail}`;
}

async function askOnTerminal(name: string, params: unknown, expiresAt: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(
      `High-risk action ${name} with params ${JSON.stringify(params)}\nApprove it? (expires ${expiresAt}) [y/N] `,
    );
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/**
 * An upstream MCP server's form elicitation on the terminal: its message and fields with their
 * defaults; the person accepts them all or declines (no free-form answers from the terminal).
 */
async function elicitOnTerminal(request: ElicitationRequest): Promise<ElicitResult> {
  const properties = (request.requestedSchema.properties ?? {}) as Record<
    string,
    { default?: unknown; title?: string }
  >;
  const fields = Object.entries(properties)
    .map(
      ([name, p]) =>
        `  ${p.title ?? name}: ${p.default === undefined ? '(no default)' : JSON.stringify(p.default)}`,
    )
    .join('\n');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(
      `MCP server ${request.serverName} asks: ${request.message}\n${fields}\nAnswer with these values? [y/N] `,
    );
    return /^y(es)?$/i.test(answer.trim()) ? { action: 'accept', content: {} } : { action: 'decline' };
  } finally {
    rl.close();
  }
}
