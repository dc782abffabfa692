/**
 * Issue 20: `semibot-runtime policy check` and `policy replay`, the way an operator runs them:
 * check names file and line of a bad policy; replay re-decides the recorded trail of the
 * configured store (here the file store that `run` wrote) and prints only what would change.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, runCli } from '../helpers/cli.ts';

describe('semibot-runtime policy', () => {
  let dir: string;
  let env: Record<string, string>;
  const policies = (name: string) => path.join(dir, name);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-cli-policy-'));
    env = cliEnv(dir);
    for (const [name, files] of Object.entries({
      'no-writes': {
        'rules.cedar':
          '@id("no-writes")\nforbid(principal, action, resource == Tool::"write_file");\npermit(principal, action, resource);\n',
      },
      'ask-for-reads': {
        'rules.cedar':
          '@id("reads-need-a-person")\n@approval("required")\npermit(principal, action, resource == Tool::"read_file");\npermit(principal, action, resource) unless { resource == Tool::"read_file" };\n',
      },
      same: { 'rules.cedar': 'permit(principal, action, resource);\n' },
      broken: {
        'ok.cedar': 'permit(principal, action, resource);\n',
        'zz.cedar':
          '// a comment\npermit(principal, action, resource)\nforbid(principal, action, resource);\n',
      },
    })) {
      await mkdir(policies(name), { recursive: true });
      for (const [file, text] of Object.entries(files))
        await writeFile(path.join(policies(name), file), text);
    }
    // A recorded trail: the example session (echo, write_file, read_file, a skill), twice.
    for (let i = 0; i < 2; i++) {
      const r = await runCli(['run', 'examples/hello.yaml'], env);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 120_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('check: a good directory lists its policies; a bad one exits 1 naming file and line', async () => {
    const good = await runCli(['policy', 'check', policies('no-writes')], env);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('2 policies in 1 file(s): no-writes, policy1');
    const bad = await runCli(['policy', 'check', policies('broken')], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/zz\.cedar:3:\d+: /);
    const shipped = await runCli(['policy', 'check', 'examples/policies'], env);
    expect(shipped.code, shipped.stderr).toBe(0);
    expect(shipped.stdout).toContain('valid against schema.cedarschema');
    const fromEnv = await runCli(['policy', 'check'], { ...env, POLICY_DIR: policies('same') });
    expect(fromEnv.code).toBe(0);
    const none = await runCli(['policy', 'check'], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('set POLICY_DIR');
  });

  it('replay: prints only the actions whose outcome would change, and a summary', async () => {
    const r = await runCli(['policy', 'replay', policies('no-writes')], env);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const changes = lines.filter((l) => l.includes('→') && !l.startsWith('replayed'));
    expect(changes).toHaveLength(2);
    for (const line of changes)
      expect(line).toMatch(/^acme\/\S+ write_file \[\S+\]: allowed → denied \(no-writes\)$/);
    expect(lines.at(-1)).toMatch(/^replayed 8 action\(s\); 2 would change \(allowed → denied: 2\)$/);

    const same = await runCli(['policy', 'replay', policies('same')], env);
    expect(same.stdout.trim()).toBe('replayed 8 action(s); 0 would change');
  });

  it('replay --json: one object a line (summary on stderr); --org and --since filter', async () => {
    const r = await runCli(['policy', 'replay', policies('ask-for-reads'), '--json'], env);
    expect(r.code).toBe(0);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      action_name: 'read_file',
      recorded: 'allowed',
      now: 'approval',
      policy_ids: ['reads-need-a-person'],
    });
    expect(Object.keys(rows[0]).sort()).toEqual([
      'action_id',
      'action_name',
      'now',
      'org_id',
      'policy_ids',
      'recorded',
      'session_id',
    ]);
    expect(r.stderr).toContain('allowed → approval: 2');

    const otherOrg = await runCli(['policy', 'replay', policies('no-writes'), '--org', 'nobody'], env);
    expect(otherOrg.stdout.trim()).toBe('replayed 0 action(s); 0 would change');
    const future = await runCli(
      ['policy', 'replay', policies('no-writes'), '--since', '2999-01-01T00:00:00Z'],
      env,
    );
    expect(future.stdout.trim()).toBe('replayed 0 action(s); 0 would change');
    const badSince = await runCli(['policy', 'replay', policies('no-writes'), '--since', 'yesterday'], env);
    expect(badSince.code).toBe(2);
    const badDir = await runCli(['policy', 'replay', policies('broken')], env);
    expect(badDir.code).toBe(1);
    expect(badDir.stderr).toMatch(/zz\.cedar:3:\d+/);
  });
});
