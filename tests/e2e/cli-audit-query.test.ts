/** `semibot-runtime audit query` (filters as flags, table or JSON lines) and the CLI's help for serve. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/index.ts';
import { ROOT } from './daemon-harness.ts';

const exec = promisify(execFile);
let dir: string;
let sessionId: string;
let env: Record<string, string>;

const cli = (...args: string[]) =>
  exec(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
  });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'semibot-cli-'));
  env = { ENVIRONMENT: 'test', AUDIT_STORAGE_TYPE: 'file', AUDIT_LOG_DIR: path.join(dir, 'audit') };
  const runtime = createRuntime({ runtime: { workers: 1, sandbox_dir: path.join(dir, 'sandbox') } }, { env });
  await runtime.start();
  const session = await runtime.createSession({
    org_id: 'acme',
    user_id: 'alice',
    agent_id: 'a',
    tools: ['echo'],
  });
  sessionId = session.id;
  await session.execute([
    { name: 'echo', params: { message: 'one' } },
    { name: 'echo', params: { message: 2 } },
  ]);
  await session.end();
  await runtime.stop();
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('audit query', () => {
  it('prints matching events as JSON lines with --json', async () => {
    const { stdout } = await cli('audit', 'query', '--session', sessionId, '--json', '--limit', '1000');
    const events = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.every((e) => e.session_id === sessionId)).toBe(true);
    expect(events.map((e) => e.event_type)).toEqual(
      expect.arrayContaining(['session_started', 'action_completed', 'action_rejected', 'session_ended']),
    );
  });

  it('filters by type and success, and prints a table by default', async () => {
    const { stdout } = await cli(
      'audit',
      'query',
      '--org',
      'acme',
      '--type',
      'action_completed,action_rejected',
      '--success',
      'false',
    );
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TIMESTAMP\s+EVENT\s+SESSION\s+SEQ\s+ACTION\s+SUCCESS\s+MESSAGE$/);
    expect(lines.slice(1, -1)).toHaveLength(1);
    expect(lines[1]).toContain('action_rejected');
    expect(lines.at(-1)).toBe('1 event(s)');
    const count = await cli(
      'audit',
      'query',
      '--session',
      sessionId,
      '--type',
      'action_completed',
      '--count',
    );
    expect(count.stdout.trim()).toBe('1');
  });

  it.each([
    [['--success', 'maybe'], '--success expects true or false'],
    [['--type', 'action_exploded'], '--type'],
    [['--limit', 'ten'], '--limit expects a whole number'],
    [['--since', 'yesterday'], 'since'],
    [['--colour', 'red'], 'colour'],
  ])('refuses bad filters %j with exit code 2', async (args, message) => {
    await expect(cli('audit', 'query', ...args)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining(message),
    });
  });
});

describe('help', () => {
  it('lists serve and explains its signals', async () => {
    const top = await cli('--help');
    expect(top.stdout).toMatch(/serve\s+run the daemon/);
    expect(top.stdout).toMatch(/audit\s+inspect the audit trail/);
    const serve = await cli('serve', '--help');
    expect(serve.stdout).toContain('SIGHUP');
    expect(serve.stdout).toContain('DRAIN_TIMEOUT_SECONDS');
    const audit = await cli('audit', '--help');
    expect(audit.stdout).toContain('query    print events');
  });
});
