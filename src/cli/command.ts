/** A CLI command: one file under src/cli/commands/, registered in src/cli/main.ts. */
export interface Command {
  name: string;
  /** one line for the command list */
  summary: string;
  /** the full --help text */
  help: string;
  /** returns the process exit code */
  run(argv: string[]): Promise<number>;
}

/** A usage error: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
