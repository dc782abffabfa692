/**
 * `execute_code` runs untrusted JavaScript in a separate Node process, never in the
 * session's worker thread:
 *
 *   session worker ──spawn──▶ prlimit ▶ bwrap ▶ node --permission … <scratch>/main.mjs   (jail.ts)
 *        │   ◀── stdout/stderr pipes (≤ 1 MiB each)
 *        └── SIGKILL on time limit or abort
 *
 * The permission model lets the child read its sandbox and its own script, write only its
 * sandbox, and start neither processes nor workers; the jail around it (jail.ts) hides every
 * runtime process, takes the network away unless the policy allows it, and bounds total
 * memory, CPU, processes and file size.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import path from 'node:path';
import { RuntimeError, errorMessage } from '../../errors.ts';
import { assertJailAvailable, jailCommand, prepareJailFolders } from './jail.ts';
import { optionalInteger, requireString } from './params.ts';
import type { BuiltinTool, ToolContext } from './tool.ts';

/** The most stdout (and, separately, stderr) execute_code keeps: 1 MiB. */
export const EXECUTE_CODE_OUTPUT_MAX_BYTES = 1024 * 1024;

/** What execute_code returns; a non-zero exit is a normal result, not an error. */
export interface ExecuteCodeResult {
  stdout: string;
  stderr: string;
  /** the exit code; 128 + signal number when the child died of a signal (shell convention) */
  exit_code: number;
  /** the signal that ended the child (e.g. SIGABRT when the heap limit is hit), or null */
  signal: string | null;
  /** true when stdout or stderr was cut at EXECUTE_CODE_OUTPUT_MAX_BYTES */
  truncated: boolean;
}

// Read once at load (boot time): the child gets PATH and nothing else, so no secret in the
// parent's environment (and no NODE_OPTIONS) reaches untrusted code.
const CHILD_ENV: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '' };

// Node 22.13+ renamed the flag; Node 20 only knows the experimental one.
const PERMISSION_FLAG = process.allowedNodeEnvironmentFlags.has('--permission')
  ? '--permission'
  : '--experimental-permission';

/** `execute_code` {language, code, timeout_ms?} → {stdout, stderr, exit_code, signal, truncated}. */
export const executeCodeTool: BuiltinTool = {
  name: 'execute_code',
  description:
    'Runs JavaScript (an ES module) in a separate Node.js process confined to the sandbox, ' +
    'with time and memory limits; returns its stdout, stderr and exit code.',
  version: '1.0.0',
  inputSchema: {
    type: 'object',
    properties: {
      language: { type: 'string', enum: ['javascript'] },
      code: { type: 'string' },
      timeout_ms: { type: 'integer', minimum: 1 },
    },
    required: ['language', 'code'],
    additionalProperties: false,
  },
  async run(params, ctx) {
    if (params['language'] !== 'javascript') {
      throw new RuntimeError('invalid_params', 'execute_code: "language" must be "javascript"');
    }
    const code = requireString('execute_code', params, 'code');
    const requestedMs = optionalInteger('execute_code', params, 'timeout_ms', 1);
    // The caller may shorten the limit, never lengthen it.
    const timeoutMs = Math.min(requestedMs ?? ctx.executeCodeTimeoutMs, ctx.executeCodeTimeoutMs);
    if (ctx.signal.aborted) throw new RuntimeError('action_cancelled', 'execute_code was aborted');
    // Never unconfined: no bubblewrap (or no namespaces) here means sandbox_unavailable.
    await assertJailAvailable(ctx.executeCodeJail.bwrap);

    const sandbox = await realpath(ctx.sandboxDir).catch((err: unknown) => {
      throw failed(`the sandbox directory is not usable (${errorMessage(err)})`);
    });
    const scratch = await mkdtemp(path.join(await realpath(tmpdir()), 'semibot-exec-')).catch(
      (err: unknown) => {
        throw failed(`cannot create a scratch directory (${errorMessage(err)})`);
      },
    );
    try {
      const script = path.join(scratch, 'main.mjs');
      await writeFile(script, code, { mode: 0o600 });
      await prepareJailFolders(sandbox, scratch, script);
      // No file it writes may be larger than the whole sandbox may hold.
      const limits =
        ctx.sandboxMaxBytes > 0
          ? { ...ctx.executeCodeJail, maxFileBytes: Math.min(ctx.executeCodeJail.maxFileBytes, ctx.sandboxMaxBytes) }
          : ctx.executeCodeJail;
      const jailed = jailCommand(limits, {
        sandbox,
        scratch,
        nodeArgs: childArgs(sandbox, scratch, script, ctx),
        network: ctx.executeCodeNetwork,
        timeoutMs,
      });
      return await runChild(jailed, sandbox, timeoutMs, ctx.signal);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  },
};

function childArgs(sandbox: string, scratch: string, script: string, ctx: ToolContext): string[] {
  // Older Node 20 releases split permission paths on commas, which would widen the grant.
  for (const dir of [sandbox, scratch]) {
    if (dir.includes(','))
      throw failed(`the path "${dir}" contains a comma, which the permission flags cannot carry`);
  }
  const memoryMb = Math.max(1, Math.floor(ctx.executeCodeMaxMemoryMb));
  return [
    `--max-old-space-size=${memoryMb}`,
    PERMISSION_FLAG,
    `--allow-fs-read=${sandbox}`,
    `--allow-fs-read=${scratch}`,
    `--allow-fs-write=${sandbox}`,
    // The permission model warns on every start; it is noise in the user's stderr.
    '--disable-warning=ExperimentalWarning',
    script,
  ];
}

function runChild(
  { command, args, uid }: ReturnType<typeof jailCommand>,
  cwd: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<ExecuteCodeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: CHILD_ENV,
      ...(uid === undefined ? {} : { uid, gid: uid }),
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const stdout = new CappedOutput(EXECUTE_CODE_OUTPUT_MAX_BYTES);
    const stderr = new CappedOutput(EXECUTE_CODE_OUTPUT_MAX_BYTES);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));

    let settled = false;
    const settle = (finish: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      finish();
    };
    // SIGKILL cannot be caught, and the permission model forbids grandchildren, so killing
    // the child ends all of the work; we reject at once rather than wait for 'close'.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      settle(() =>
        reject(new RuntimeError('action_timeout', `execute_code exceeded its ${timeoutMs} ms time limit`)),
      );
    }, timeoutMs);
    const onAbort = (): void => {
      child.kill('SIGKILL');
      settle(() => reject(new RuntimeError('action_cancelled', 'execute_code was aborted')));
    };
    signal.addEventListener('abort', onAbort, { once: true });

    child.on('error', (err) => {
      child.kill('SIGKILL');
      settle(() => reject(failed(`cannot start the child process (${errorMessage(err)})`)));
    });
    child.on('close', (code, sig) => {
      settle(() =>
        resolve({
          stdout: stdout.text(),
          stderr: stderr.text(),
          exit_code: code ?? 128 + (sig ? osConstants.signals[sig] : 0),
          signal: sig,
          truncated: stdout.truncated || stderr.truncated,
        }),
      );
    });
  });
}

/** Keeps the first `max` bytes of a stream and drops the rest, so the child never blocks on a full pipe. */
class CappedOutput {
  readonly #max: number;
  readonly #chunks: Buffer[] = [];
  #bytes = 0;
  truncated = false;

  constructor(max: number) {
    this.#max = max;
  }

  push(chunk: Buffer): void {
    const room = this.#max - this.#bytes;
    if (chunk.byteLength > room) this.truncated = true;
    if (room <= 0) return;
    const kept = chunk.byteLength > room ? chunk.subarray(0, room) : chunk;
    this.#chunks.push(kept);
    this.#bytes += kept.byteLength;
  }

  text(): string {
    return Buffer.concat(this.#chunks, this.#bytes).toString('utf8');
  }
}

function failed(why: string): RuntimeError {
  return new RuntimeError('code_execution_failed', `execute_code: ${why}`);
}

