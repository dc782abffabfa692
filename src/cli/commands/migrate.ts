/**
 * semibot-runtime migrate up | down [--steps N | --all] | status | partitions [--months N]
 * Applies the plain-SQL migrations of migrations/ to DATABASE_URL (see src/db/migrate.ts).
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../../../config/load.ts';
import { appliedVersions, loadMigrations, migrateDown, migrateUp } from '../../db/migrate.ts';
import { RuntimeError } from '../../errors.ts';
import { type Command, EXIT_OK, UsageError } from '../command.ts';

const SUBCOMMANDS = ['up', 'down', 'status', 'partitions'] as const;

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'apply (up) or revert (down) the database schema of the audit store',
  help: `Usage: semibot-runtime migrate up
       semibot-runtime migrate down [--steps N | --all]
       semibot-runtime migrate status
       semibot-runtime migrate partitions [--months N]

up          apply every pending migration (migrations/NNNN_*.up.sql), each in a transaction
down        revert the newest applied migration (--steps N: that many, --all: every one)
status      list the migrations and whether each is applied
partitions  create the monthly audit_events partitions from this month on, N months ahead
            (default 3); run it from cron to keep months ready before their first event

The database is DATABASE_URL. Roles are created by migration 0002 (needs a superuser; see
sql/audit-roles.sql to create them separately).`,

  async run(argv) {
    const [sub, ...rest] = argv;
    if (!sub || !(SUBCOMMANDS as readonly string[]).includes(sub)) {
      throw new UsageError(`expected a subcommand: ${SUBCOMMANDS.join(', ')}`);
    }
    const { values } = parseArgs({
      args: rest,
      options: {
        steps: { type: 'string' },
        all: { type: 'boolean', default: false },
        months: { type: 'string' },
      },
      strict: true,
    });
    const config = loadConfig();
    if (!config.database.url) throw new RuntimeError('invalid_request', 'DATABASE_URL is not set');
    const client = new pg.Client({
      connectionString: config.database.url,
      application_name: 'semibot-migrate',
    });
    client.on('error', () => {}); // reported through the failing query instead of crashing
    try {
      await client.connect();
    } catch (err) {
      throw new RuntimeError('migration_failed', `cannot connect to DATABASE_URL: ${(err as Error).message}`);
    }
    try {
      if (sub === 'up') {
        const steps = await migrateUp(client);
        for (const s of steps) console.log(`applied  ${pad(s.version)}_${s.name}`);
        console.log(steps.length === 0 ? 'the schema is up to date' : `${steps.length} migration(s) applied`);
      } else if (sub === 'down') {
        const steps = values.all ? Number.POSITIVE_INFINITY : positiveInt(values.steps ?? '1', '--steps');
        const done = await migrateDown(client, steps);
        for (const s of done) console.log(`reverted ${pad(s.version)}_${s.name}`);
        console.log(done.length === 0 ? 'nothing to revert' : `${done.length} migration(s) reverted`);
      } else if (sub === 'status') {
        const applied = await appliedVersions(client);
        for (const m of await loadMigrations()) {
          console.log(`${applied.has(m.version) ? 'applied ' : 'pending '} ${pad(m.version)}_${m.name}`);
        }
      } else {
        const months = positiveInt(values.months ?? '3', '--months');
        const { rows } = await client.query<{ created: number }>(
          'SELECT audit_ensure_partitions(now(), $1::integer) AS created',
          [months],
        );
        console.log(`${rows[0]?.created ?? 0} partition(s) created; ${months} month(s) from this one exist`);
      }
    } finally {
      await client.end().catch(() => {});
    }
    return EXIT_OK;
  },
};

function pad(version: number): string {
  return String(version).padStart(4, '0');
}

function positiveInt(text: string, option: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1)
    throw new UsageError(`${option} must be a positive integer, got ${JSON.stringify(text)}`);
  return Number(text);
}
