import { mkdtemp, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EXECUTE_CODE_OUTPUT_MAX_BYTES,
  type ExecuteCodeResult,
  executeCodeTool,
} from '../../../../src/capabilities/tools/execute-code.ts';
import type { ToolContext } from '../../../../src/capabilities/tools/tool.ts';
import { makeSandbox, type TempSandbox } from './tool-context.ts';

function run(
  code: string,
  ctx: ToolContext,
  extra: Record<string, unknown> = {},
): Promise<ExecuteCodeResult> {
  return executeCodeTool.run({ language: 'javascript', code, ...extra }, ctx) as Promise<ExecuteCodeResult>;
}

describe('execute_code', () => {
  let sandbox: TempSandbox;
  beforeEach(async () => {
    sandbox = await makeSandbox();
  });
  afterEach(() => sandbox.cleanup());

  it('returns stdout, stderr and exit code 0, without the permission warning', async () => {
    const result = await run("console.log('hello'); console.error('to stderr');", sandbox.ctx());
    expect(result).toEqual({
      stdout: 'hello\n',
      stderr: 'to stderr\n',
      exit_code: 0,
      signal: null,
      truncated: false,
    });
  });

  it('runs as an ES module with the sandbox as its working directory', async () => {
    const result = await run(
      "const { cwd } = await import('node:process'); console.log(cwd());",
      sandbox.ctx(),
    );
    expect(result.stdout.trim()).toBe(await realpath(sandbox.dir));
  });

  it('treats a non-zero exit and an uncaught throw as normal results', async () => {
    await expect(run('process.exit(3)', sandbox.ctx())).resolves.toMatchObject({ exit_code: 3 });
    const thrown = await run("throw new Error('boom')", sandbox.ctx());
    expect(thrown.exit_code).toBe(1);
    expect(thrown.stderr).toContain('boom');
  });

  it('kills an infinite loop at timeout_ms and rejects with action_timeout', async () => {
    const started = Date.now();
    await expect(run('for (;;) {}', sandbox.ctx(), { timeout_ms: 500 })).rejects.toMatchObject({
      code: 'action_timeout',
      message: 'execute_code exceeded its 500 ms time limit',
    });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('never lets timeout_ms exceed the configured limit', async () => {
    const ctx = sandbox.ctx({ executeCodeTimeoutMs: 400 });
    await expect(run('for (;;) {}', ctx, { timeout_ms: 600_000 })).rejects.toMatchObject({
      code: 'action_timeout',
      message: expect.stringContaining('400 ms'),
    });
  });

  it('kills the child and rejects with action_cancelled when the signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = run('for (;;) {}', sandbox.ctx({ signal: controller.signal }));
    setTimeout(() => controller.abort(), 300);
    await expect(pending).rejects.toMatchObject({ code: 'action_cancelled' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('ends a memory blow-up under a small heap limit with a non-zero exit', async () => {
    const ctx = sandbox.ctx({ executeCodeMaxMemoryMb: 32 });
    const result = await run(
      'const hog = []; for (;;) hog.push(new Array(100_000).fill(Math.random()));',
      ctx,
    );
    expect(result.exit_code).not.toBe(0);
    expect(result.stderr).toMatch(/heap|memory/i);
  });

  it('reads and writes files in the sandbox', async () => {
    await writeFile(path.join(sandbox.dir, 'in.txt'), 'input');
    const code = [
      "import { readFileSync, writeFileSync } from 'node:fs';",
      "writeFileSync('out.txt', readFileSync('in.txt', 'utf8').toUpperCase());",
    ].join('\n');
    await expect(run(code, sandbox.ctx())).resolves.toMatchObject({ exit_code: 0 });
    expect(await readFile(path.join(sandbox.dir, 'out.txt'), 'utf8')).toBe('INPUT');
  });

  it('cannot read or write a file outside the sandbox', async () => {
    const outsideDir = await mkdtemp(path.join(tmpdir(), 'semibot-outside-'));
    try {
      const secret = path.join(outsideDir, 'secret.txt');
      await writeFile(secret, 'top secret');
      const read = await run(
        `import { readFileSync } from 'node:fs'; readFileSync(${JSON.stringify(secret)});`,
        sandbox.ctx(),
      );
      expect(read.exit_code).not.toBe(0);
      expect(read.stderr).toContain('ERR_ACCESS_DENIED');
      expect(read.stdout).not.toContain('top secret');

      const planted = path.join(outsideDir, 'planted.txt');
      const write = await run(
        `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(planted)}, 'x');`,
        sandbox.ctx(),
      );
      expect(write.exit_code).not.toBe(0);
      expect(write.stderr).toContain('ERR_ACCESS_DENIED');
      await expect(stat(planted)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await rm(outsideDir, { recursive: true, force: true });
    }
  });

  it('cannot spawn a child process or start a worker thread', async () => {
    const spawned = await run(
      "import { execSync } from 'node:child_process'; execSync('echo hi');",
      sandbox.ctx(),
    );
    expect(spawned.exit_code).not.toBe(0);
    expect(spawned.stderr).toContain('ERR_ACCESS_DENIED');
    expect(spawned.stdout).toBe('');

    const worker = await run(
      "import { Worker } from 'node:worker_threads'; new Worker('1', { eval: true });",
      sandbox.ctx(),
    );
    expect(worker.exit_code).not.toBe(0);
    expect(worker.stderr).toContain('ERR_ACCESS_DENIED');
  });

  it("passes only PATH from the parent's environment", async () => {
    const result = await run('console.log(JSON.stringify(Object.keys(process.env)));', sandbox.ctx());
    expect(JSON.parse(result.stdout)).toEqual(['PATH']);
  });

  it('cuts stdout at 1 MiB and marks the result truncated', async () => {
    const result = await run("process.stdout.write('x'.repeat(3 * 1024 * 1024));", sandbox.ctx());
    expect(result.exit_code).toBe(0);
    expect(result.stdout.length).toBe(EXECUTE_CODE_OUTPUT_MAX_BYTES);
    expect(result.truncated).toBe(true);
  });

  it('removes its temporary script directory afterwards', async () => {
    const result = await run("console.log(new URL('.', import.meta.url).pathname);", sandbox.ctx());
    const scratch = result.stdout.trim();
    expect(scratch).toContain('semibot-exec-');
    await expect(stat(scratch)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses languages other than javascript', async () => {
    await expect(
      executeCodeTool.run({ language: 'python', code: 'print(1)' }, sandbox.ctx()),
    ).rejects.toMatchObject({ code: 'invalid_params' });
  });
});
