/**
 * semibot-runtime policy check [DIR]
 * semibot-runtime policy replay DIR [--org ORG] [--since ISO-TIME] [--json]
 * Checks a Cedar policy directory, or re-decides the recorded trail with one (src/policy/).
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { loadConfig } from '../../../config/load.ts';
import { type Command, EXIT_FAILED, EXIT_OK, UsageError } from '../command.ts';

export const policyCommand: Command = {
  name: 'policy',
  summary: 'check a Cedar policy directory, or replay the recorded trail against one',
  help: `Usage: semibot-runtime policy check [DIR]
       semibot-runtime policy replay DIR [--org ORG] [--since ISO-TIME] [--json]

check    parses and validates DIR (default: POLICY_DIR): every *.cedar file, and the policies
         against schema.cedarschema when there is one. Exit 0 when it would load, 1 with the
         file and line of the first problem otherwise.
replay   re-decides every recorded action of the configured audit store (file or PostgreSQL)
         that reached the policy step, with the policies of DIR, and prints the ones whose
         outcome would change (allowed, approval, denied), then a summary line.
           --org ORG         only this org's actions
           --since ISO-TIME  only actions recorded from then on
           --json            one JSON object a line: {session_id, action_id, action_name,
                             recorded, now, policy_ids, org_id}; the summary goes to stderr`,

  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'check') return check(rest);
    if (sub === 'replay') return replay(rest);
    throw new UsageError(`expected check or replay (see --help), got ${JSON.stringify(sub ?? '')}`);
  },
};

async function check(argv: string[]): Promise<number> {
  const { positionals } = parse(argv, {});
  if (positionals.length > 1) throw new UsageError('policy check takes at most one directory');
  const dir = positionals[0] ?? loadConfig().policy_dir;
  if (dir === undefined) throw new UsageError('policy check: give a directory, or set POLICY_DIR');
  const { loadPolicies } = await import('../../runtime.ts');
  try {
    const policies = await loadPolicies(dir);
    const schema = policies.source.schema ? `, valid against ${policies.source.schema.name}` : '';
    console.log(
      `${dir}: ${policies.ids.length} policies in ${policies.source.files.length} file(s)${schema}: ${policies.ids.join(', ')}`,
    );
    return EXIT_OK;
  } catch (err) {
    console.error(`${dir}: ${(err as Error).message}`);
    return EXIT_FAILED;
  }
}

async function replay(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    org: { type: 'string' },
    since: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length !== 1) throw new UsageError('policy replay takes one directory (see --help)');
  const since = values.since as string | undefined;
  if (since !== undefined && Number.isNaN(Date.parse(since))) {
    throw new UsageError(`--since expects an ISO 8601 time, got ${JSON.stringify(since)}`);
  }
  const [{ loadPolicies }, { createAuditStore }, { replayPolicies }] = await Promise.all([
    import('../../runtime.ts'),
    import('../../audit/stores/index.ts'),
    import('../../policy/replay.ts'),
  ]);
  let policies: Awaited<ReturnType<typeof loadPolicies>>;
  try {
    policies = await loadPolicies(positionals[0]!);
  } catch (err) {
    console.error(`${positionals[0]}: ${(err as Error).message}`);
    return EXIT_FAILED;
  }
  const store = createAuditStore(loadConfig());
  await store.init();
  try {
    const json = values.json === true;
    const summary = await replayPolicies(
      store,
      policies,
      {
        ...(values.org !== undefined ? { org_id: values.org as string } : {}),
        ...(since !== undefined ? { since: new Date(since).toISOString() } : {}),
      },
      (c) => {
        if (json) process.stdout.write(`${JSON.stringify(c)}\n`);
        else
          console.log(
            `${c.org_id}/${c.session_id} ${c.action_name} [${c.action_id}]: ${c.recorded} → ${c.now}${c.policy_ids.length ? ` (${c.policy_ids.join(', ')})` : ''}`,
          );
      },
    );
    const changes = Object.entries(summary.by_change)
      .map(([change, n]) => `${change.replace('→', ' → ')}: ${n}`)
      .join(', ');
    const line = `replayed ${summary.replayed} action(s); ${summary.changed} would change${changes ? ` (${changes})` : ''}`;
    if (json) console.error(line);
    else console.log(line);
    return EXIT_OK;
  } finally {
    await store.close();
  }
}

function parse(argv: string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('. ')[0]!);
  }
}
