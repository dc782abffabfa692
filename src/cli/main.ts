/**
 * semibot-runtime <command> [options]. Each command lives in src/cli/commands/<name>.ts.
 * Errors are printed as one line (never a stack trace) with a non-zero exit code.
 */
import { ConfigError } from '../../config/load.ts';
import { RuntimeError, errorMessage } from '../errors.ts';
import { type Command, EXIT_FAILED, EXIT_USAGE, UsageError } from './command.ts';

/**
 * Commands load their module only when run: `run` with a bad file, or `--help`, answers
 * without loading the runtime, fastify or pg.
 */
interface LazyCommand {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

const COMMANDS: LazyCommand[] = [
  {
    name: 'serve',
    summary: 'run the daemon: HTTP API, admin endpoints, metrics',
    load: () => import('./commands/serve.ts').then((m) => m.serveCommand),
  },
  {
    name: 'run',
    summary: 'run one session from a YAML or JSON file and print its results',
    load: () => import('./commands/run.ts').then((m) => m.runCommand),
  },
  {
    name: 'mcp',
    summary: 'serve an agent profile as an MCP server over stdio (for desktop MCP clients)',
    load: () => import('./commands/mcp.ts').then((m) => m.mcpCommand),
  },
  {
    name: 'policy',
    summary: 'check a Cedar policy directory, or replay the recorded trail against one',
    load: () => import('./commands/policy.ts').then((m) => m.policyCommand),
  },
  {
    name: 'audit',
    summary: 'inspect the audit trail (query, verify hash chains)',
    load: () => import('./commands/audit.ts').then((m) => m.auditCommand),
  },
  {
    name: 'migrate',
    summary: 'apply (up) or undo one step of (down) the database migrations',
    load: () => import('./commands/migrate.ts').then((m) => m.migrateCommand),
  },
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: semibot-runtime <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'semibot-runtime <command> --help' for a command's options; --version prints the version.",
    'Configuration comes from the environment (and ENV_FILE) over config/<ENVIRONMENT>.yaml.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    // Loaded here only: the version reads package.json, which help and usage errors need not.
    const { VERSION } = await import('../api/version.ts');
    console.log(VERSION);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : EXIT_USAGE;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    console.error(`semibot-runtime: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return EXIT_USAGE;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.help);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      console.error(`semibot-runtime ${name}: ${err.message}`);
      return EXIT_USAGE;
    }
    if (err instanceof RuntimeError) {
      console.error(`semibot-runtime ${name}: ${err.code}: ${err.message}`);
      return err.code.startsWith('invalid_') ? EXIT_USAGE : EXIT_FAILED;
    }
    console.error(`semibot-runtime ${name}: ${errorMessage(err)}`);
    return EXIT_FAILED;
  }
}

// `semibot-runtime run x --json | head` closes stdout early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await main(process.argv.slice(2));
