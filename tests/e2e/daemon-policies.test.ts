/**
 * Issue 20 through the daemon and the CLI: POLICY_DIR decides the HTTP API's actions, SIGHUP
 * reads it again (a good set replaces the old one, a bad one is refused and logged while the
 * old one stays), and `run FILE` decides with it too.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { type DaemonProcess, startDaemon } from './daemon-harness.ts';

const NO_SLEEP =
  '@id("no-sleep")\nforbid (principal, action, resource == Tool::"sleep");\n\n@id("default-permit")\npermit (principal, action, resource);\n';
const ALL = '@id("default-permit")\npermit (principal, action, resource);\n';
const AUTH = { authorization: 'Bearer tok', 'content-type': 'application/json' };

describe('POLICY_DIR in the daemon and the CLI', () => {
  let dir: string;
  let policies: string;
  let daemon: DaemonProcess;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-daemon-policies-'));
    policies = path.join(dir, 'policies');
    await mkdir(policies);
    await writeFile(path.join(policies, 'rules.cedar'), NO_SLEEP);
    daemon = await startDaemon({
      POLICY_DIR: policies,
      API_TOKENS: 'tok=acme',
      AUDIT_STORAGE_TYPE: 'file',
      AUDIT_LOG_DIR: path.join(dir, 'audit'),
      SANDBOX_DIR: path.join(dir, 'sandbox'),
    });
  }, 90_000);
  afterAll(async () => {
    daemon?.kill();
    await daemon?.exited;
    await rm(dir, { recursive: true, force: true });
  });

  const sleepOnce = async (session: string) => {
    const res = await fetch(`${daemon.api}/v1/sessions/${session}/actions`, {
      method: 'POST',
      headers: AUTH,
      body: JSON.stringify([{ name: 'sleep', params: { ms: 1 } }]),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { results: Array<{ success: boolean; error?: { code: string } }> })
      .results[0]!;
  };

  it('decides the HTTP API actions, and SIGHUP swaps the set (a bad one is refused, the old stays)', async () => {
    const created = await fetch(`${daemon.api}/v1/sessions`, {
      method: 'POST',
      headers: AUTH,
      body: JSON.stringify({
        org_id: 'acme',
        user_id: 'u',
        agent_id: 'a',
        session_id: 'hup',
        tools: ['sleep', 'echo'],
      }),
    });
    expect(created.status).toBe(201);
    expect((await sleepOnce('hup')).error?.code).toBe('policy_denied');

    await writeFile(path.join(policies, 'rules.cedar'), ALL);
    daemon.proc.kill('SIGHUP');
    for (let i = 0; i < 100 && !(await sleepOnce('hup')).success; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect((await sleepOnce('hup')).success).toBe(true);

    await writeFile(path.join(policies, 'rules.cedar'), NO_SLEEP);
    await writeFile(path.join(policies, 'zz-broken.cedar'), 'forbid (principal, action, resource)\n');
    daemon.proc.kill('SIGHUP');
    for (let i = 0; i < 100 && !daemon.output().includes('policy reload refused'); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(daemon.output()).toMatch(/zz-broken\.cedar:1:\d+: .*policy reload refused/);
    // The permissive set stays in force: the bad directory did not half-apply.
    expect((await sleepOnce('hup')).success).toBe(true);
    expect(daemon.proc.exitCode).toBeNull();
  }, 60_000);

  it('run FILE decides with POLICY_DIR as well', async () => {
    const ruleDir = path.join(dir, 'run-policies');
    await mkdir(ruleDir);
    await writeFile(path.join(ruleDir, 'rules.cedar'), NO_SLEEP);
    const file = path.join(dir, 'session.yaml');
    await writeFile(
      file,
      'org_id: acme\nuser_id: u\nagent_id: a\ntools: [echo, sleep]\nplanner:\n  type: scripted\n  steps:\n    - - { name: sleep, params: { ms: 1 } }\n    - - { name: echo, params: { message: after } }\n',
    );
    const r = await runCli(['run', file], {
      POLICY_DIR: ruleDir,
      AUDIT_LOG_DIR: path.join(dir, 'run-audit'),
      SANDBOX_DIR: path.join(dir, 'sandbox'),
      LOG_LEVEL: 'warn',
      RUNTIME_WORKERS: '1',
    });
    expect(r.stdout).toMatch(/FAIL sleep .* policy_denied: sleep: forbidden by no-sleep/);
    expect(r.stdout).toMatch(/ok {3}echo/);
  }, 60_000);
});
