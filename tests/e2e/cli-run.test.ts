import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO, cliEnv, runCli } from '../helpers/cli.ts';

describe('semibot-runtime run <file>', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-cli-'));
    env = cliEnv(dir);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('runs the example session and prints each result', async () => {
    const r = await runCli(['run', 'examples/hello.yaml'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/session \S+: completed after 3 iteration\(s\)/);
    expect(r.stdout).toContain('"content":"Héllo, wörld — 你好 👋"');
    expect(r.stdout).toContain('word_count');
    expect(r.stdout.match(/^\s+ok /gm)).toHaveLength(4);
  });

  it('prints the audit trail as JSON lines with --json, and the file store holds the same chain', async () => {
    const r = await runCli(['run', 'examples/hello.yaml', '--json'], env);
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events[0].event_type).toBe('session_started');
    expect(events.at(-1).event_type).toBe('session_ended');
    expect(events.map((e: { seq: number }) => e.seq)).toEqual(events.map((_: unknown, i: number) => i));
    expect(events[0].metadata.capabilities).toEqual(
      expect.arrayContaining([
        { name: 'word_count', kind: 'skill', version: '1.0.0', source: 'skills/word-count.mjs' },
      ]),
    );
    // Unicode survives msgpack and the JSON-lines file byte for byte.
    const write = events.find(
      (e: { event_type: string; action_name: string }) =>
        e.event_type === 'action_started' && e.action_name === 'write_file',
    );
    expect(write.action_params.content).toBe('Héllo, wörld — 你好 👋');

    const verify = await runCli(['audit', 'verify'], env);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/1 session\(s\) checked, 0 broken/);
  });

  it('catches a tampered audit file: audit verify names the altered event', async () => {
    const r = await runCli(['run', 'examples/hello.yaml', '--json'], env);
    expect(r.code).toBe(0);
    const file = path.join(dir, 'audit', 'audit.jsonl');
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    // 1. Change what an agent did: the echo message of seq 4's event.
    const victim = lines.findIndex((l) => JSON.parse(l).seq === 4);
    const event = JSON.parse(lines[victim]!);
    event.message = `${event.message} (edited)`;
    lines[victim] = JSON.stringify(event);
    await writeFile(file, `${lines.join('\n')}\n`);
    const altered = await runCli(['audit', 'verify', '--session', event.session_id], env);
    expect(altered.code).toBe(1);
    expect(altered.stdout).toContain(`BROKEN  ${event.session_id}: event seq 4 (${event.event_id}) altered`);
    // 2. Remove an event instead.
    lines.splice(victim, 1);
    await writeFile(file, `${lines.join('\n')}\n`);
    const removed = await runCli(['audit', 'verify', '--session', event.session_id, '--json'], env);
    expect(removed.code).toBe(1);
    expect(JSON.parse(removed.stdout.trim())).toMatchObject({
      ok: false,
      first_bad: { problem: 'removed_or_reordered' },
    });
  });

  it('denies a high-risk action at its approval timeout when no terminal is attached', async () => {
    const file = path.join(dir, 'approval.yaml');
    const text = (await readFile(path.join(REPO, 'examples/approval.yaml'), 'utf8')).replace(
      'approval_timeout_seconds: 30',
      'approval_timeout_seconds: 0.5',
    );
    await writeFile(file, text);
    const r = await runCli(['run', file], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/FAIL delete_file .*approval_timeout/);
    expect(r.stderr).toMatch(/approval needed for delete_file .* no terminal attached/);
    // The file the agent wanted deleted is still there.
    const sandboxes = await readdir(path.join(dir, 'sandbox', await onlyEntry(path.join(dir, 'sandbox'))));
    expect(sandboxes).toHaveLength(1);
  });

  it('refuses bad files with a message naming the field, never a stack trace (exit 2)', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['missing.yaml', 'user_id: u\nagent_id: a\nplanner: {type: scripted, steps: []}\n', /org_id/],
      [
        'bad-tool.yaml',
        'org_id: o\nuser_id: u\nagent_id: a\ntools: [echo]\nplanner: {type: scripted, steps: [[{name: echo, params: 5}]]}\n',
        /planner\.steps\.0\.0\.params/,
      ],
      ['broken.yaml', 'org_id: [unclosed\n', /not valid YAML at line \d+: Flow sequence/],
      ['broken.json', '{"org_id": ', /not valid JSON/],
      ['list.yaml', '- a\n- b\n', /expected a mapping/],
      [
        'external.yaml',
        'org_id: o\nuser_id: u\nagent_id: a\nplanner: {type: external}\n',
        /planner\.type must be scripted or openai/,
      ],
      [
        'unknown-field.yaml',
        'org_id: o\nuser_id: u\nagent_id: a\ncolour: red\nplanner: {type: scripted, steps: []}\n',
        /colour/,
      ],
      [
        'unknown-tool.yaml',
        'org_id: o\nuser_id: u\nagent_id: a\ntools: [teleport]\nplanner: {type: scripted, steps: []}\n',
        /teleport/,
      ],
    ];
    for (const [name, text, message] of cases) {
      const file = path.join(dir, name);
      await writeFile(file, text);
      const r = await runCli(['run', file], env);
      expect(r.code, name).toBe(2);
      expect(r.stderr, name).toMatch(message);
      expect(r.stderr, name).not.toMatch(/\n\s+at /);
    }
    const missing = await runCli(['run', path.join(dir, 'nope.yaml')], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*nope\.yaml: ENOENT/);
    const usage = await runCli(['run'], env);
    expect(usage.code).toBe(2);
  }, 180_000);

  it('stops at start-up on a bad configuration value, naming it', async () => {
    const r = await runCli(['run', 'examples/hello.yaml'], { ...env, AUDIT_BATCH_SIZE: 'many' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'semibot-runtime run: AUDIT_BATCH_SIZE (audit.batch_size) = "many": expected an integer',
    );
  });

  it('explains itself with --help', async () => {
    const top = await runCli(['--help'], env);
    expect(top.stdout).toMatch(/Commands:[\s\S]*run[\s\S]*audit/);
    const run = await runCli(['run', '--help'], env);
    expect(run.stdout).toMatch(/--json/);
  });
});

async function onlyEntry(dir: string): Promise<string> {
  const entries = await readdir(dir);
  if (entries.length !== 1) throw new Error(`expected one entry in ${dir}, found ${entries.join(', ')}`);
  return entries[0]!;
}
