/** Runs the semibot-runtime command as a child process, the way an operator would. */
import { spawn } from 'node:child_process';
import path from 'node:path';

export const REPO = path.resolve(import.meta.dirname, '../..');
// The sources through tsx, so a test sees the code as it is now, never a stale dist/
// (tests/e2e/package.test.ts runs the installed bin on the compiled build).
const CLI = ['--import', 'tsx', path.join(REPO, 'src/cli/main.ts')];

/**
 * The environment of a CLI run on a scratch directory: development config, the file audit
 * store and sandbox under `dir`, the example skills, one worker, quiet logs.
 */
export function cliEnv(dir: string, more: Record<string, string> = {}): Record<string, string> {
  return {
    ENVIRONMENT: 'development',
    LOG_LEVEL: 'warn',
    AUDIT_STORAGE_TYPE: 'file',
    AUDIT_LOG_DIR: path.join(dir, 'audit'),
    AUDIT_FLUSH_INTERVAL: '0.1',
    SANDBOX_DIR: path.join(dir, 'sandbox'),
    SKILLS_DIR: path.join(REPO, 'examples/skills'),
    RUNTIME_WORKERS: '1',
    ...more,
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  env: Record<string, string>,
  { timeoutMs = 60_000, input }: { timeoutMs?: number; input?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`semibot-runtime ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}
