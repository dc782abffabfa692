/**
 * Issue 15, finding 4: execute_code ran as the daemon's user (root here) with only the V8 heap
 * capped and the network open: `process.kill(process.ppid, 'SIGKILL')` ended the daemon,
 * `Buffer.alloc` reached 1 GiB against a 128 MB limit, and the code reached PostgreSQL as a
 * superuser. Now it runs in a bubblewrap jail (own PID and network namespaces, only /usr and the
 * sandbox mounted, rlimits on total memory, CPU, processes and file size); without bubblewrap
 * it is refused with sandbox_unavailable, never run unconfined.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ExecuteCodeResult, executeCodeTool } from '../../src/capabilities/tools/execute-code.ts';
import type { ToolContext } from '../../src/capabilities/tools/tool.ts';
import { makeSandbox, TEST_JAIL, type TempSandbox } from '../unit/capabilities/tools/tool-context.ts';

const run = (code: string, ctx: ToolContext) =>
  executeCodeTool.run({ language: 'javascript', code }, ctx) as Promise<ExecuteCodeResult>;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('issue-15: execute_code is jailed', () => {
  let sandbox: TempSandbox;
  let victim: ChildProcess;
  beforeEach(async () => {
    sandbox = await makeSandbox();
    // Stands for any process of the runtime: the code is told its pid and tries to kill it.
    victim = spawn('sleep', ['60'], { stdio: 'ignore' });
  });
  afterEach(async () => {
    victim.kill('SIGKILL');
    await sandbox.cleanup();
  });

  it('cannot signal its parent or any runtime process, and sees none of them', async () => {
    const code = `
      const tried = {};
      for (const [name, pid] of [['parent', process.ppid], ['runtime', ${process.pid}], ['victim', ${victim.pid}]]) {
        try { process.kill(pid, 'SIGKILL'); tried[name] = 'sent'; } catch (e) { tried[name] = e.code; }
      }
      console.log(JSON.stringify({ pid: process.pid, tried }));`;
    const result = await run(code, sandbox.ctx());
    expect(result.exit_code).toBe(0);
    const out = JSON.parse(result.stdout);
    // Its own PID namespace: the runtime's and the victim's pids do not exist there.
    expect(out.tried.runtime).toBe('ESRCH');
    expect(out.tried.victim).toBe('ESRCH');
    expect(out.pid).toBeLessThan(10);
    expect(alive(process.pid)).toBe(true);
    expect(alive(victim.pid!)).toBe(true);
  });

  it('cannot allocate 1 GiB outside the V8 heap', async () => {
    const code = `try { const b = Buffer.alloc(1024 * 1024 * 1024, 1); console.log('allocated', b.length); } catch (e) { console.log('refused:', e.message); process.exit(3); }`;
    const result = await run(code, sandbox.ctx());
    expect(result.stdout).not.toContain('allocated');
    expect(result.exit_code).not.toBe(0);
  });

  it('has no network (PostgreSQL on loopback is out of reach) unless the policy allows it', async () => {
    const code = `
      const net = await import('node:net');
      const s = net.connect(5432, '127.0.0.1');
      s.on('connect', () => { console.log('CONNECTED'); s.destroy(); });
      s.on('error', (e) => console.log('refused:', e.code));`;
    const closed = await run(code, sandbox.ctx());
    expect(closed.stdout).not.toContain('CONNECTED');
    expect(closed.stdout).toMatch(/refused: E[A-Z]+/);
    const open = await run(code, sandbox.ctx({ executeCodeNetwork: true }));
    expect(open.stdout).toContain('CONNECTED');
  });

  it('cannot write a file larger than its file size limit', async () => {
    const ctx = sandbox.ctx({ executeCodeJail: { ...TEST_JAIL, maxFileBytes: 1024 * 1024 } });
    const code = `
      const fs = await import('node:fs');
      process.on('SIGXFSZ', () => {});
      try { fs.writeFileSync('big.bin', Buffer.alloc(4 * 1024 * 1024)); console.log('wrote'); }
      catch (e) { console.log('refused:', e.code); process.exit(4); }`;
    const result = await run(code, ctx);
    expect(result.stdout).not.toContain('wrote');
    expect(result.exit_code).not.toBe(0);
  });

  it('is refused with sandbox_unavailable when bubblewrap cannot be run, and nothing runs', async () => {
    const ctx = sandbox.ctx({ executeCodeJail: { ...TEST_JAIL, bwrap: '/nonexistent/bwrap' } });
    await expect(run(`require('node:fs').writeFileSync('ran.txt', 'x')`, ctx)).rejects.toMatchObject({
      code: 'sandbox_unavailable',
    });
  });
});
