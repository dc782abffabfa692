/**
 * Audit writes into PostgreSQL, end to end, against the database's own ceiling — all in one run,
 * on one table (audit_events: primary key + 4 indexes, monthly partitions), with the same rows:
 *
 *   e2e       session actors (worker threads) → audit thread (Batcher → COPY) → PostgreSQL,
 *             for --duration seconds with --sessions sessions running echo actions: bounded by
 *             how fast the runtime makes events (issue 2), not by the audit writes
 *   audit_path  the audit write path end to end, as the runtime runs it: the real audit thread
 *             (workers/audit.worker.ts: AuditActor + Batcher + COPY store) fed msgpack frames of
 *             64 events over a transferred MessagePort by this thread (a session host's part:
 *             encoding, sending, honouring the producer window), until every event is
 *             acknowledged — i.e. committed. One audit thread serves every round, as one serves
 *             the runtime for its whole life, after 50,000 warm-up events: a round measures the
 *             steady state, not a new thread's start-up. The bar (issue 3) is measured here.
 *   psql      `psql \copy` of the same rows from a file: the practical ceiling
 *   insert1   one INSERT per row (node-postgres, autocommit)
 *   insert1k  multi-row INSERT, 1,000 rows a statement
 * audit_path and psql run in turns, --rounds times; the ratio reported is the median round's.
 * Between phases the table is truncated. RSS is sampled every --sample seconds during e2e, so
 * `--duration 300` shows whether memory stays flat at full rate.
 *
 * The audit_path, psql and INSERT phases use the e2e events repeated with fresh ids up to --rows.
 *
 * Reproduce: npm run bench -- audit-copy [--duration 20] [--sessions 32] [--sample 2] [--rows 100000] [--rounds 5]
 * (DATABASE_URL as for the tests; the bench creates and drops semibot_bench_<random>).
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import pg from 'pg';
import type { AuditMessage } from '../actors/audit/messages.ts';
import type { SessionHostMessage } from '../actors/session/messages.ts';
import { ConfigSchema } from '../config/schema.ts';
import type { AuditEvent } from '../src/audit/events.ts';
import { COLUMN_LIST, COLUMNS } from '../src/audit/stores/postgres/encode.ts';
import { PostgresCopyAuditStore } from '../src/audit/stores/postgres-copy.ts';
import { migrateUp } from '../src/db/migrate.ts';
import { withDatabase } from '../src/db/pool.ts';
import { createRuntime } from '../src/index.ts';
import { workerBootstrap, workerEntry } from '../src/worker-entry.ts';
import type { AuditApi } from '../src/audit/audit-api.ts';
import { MessagePortTransport } from '../src/transport/message-port.ts';
import { cpuPerItem, readCpu, threadIds } from './cpu.ts';
import { round } from './stats.ts';

export const description =
  'audit events/s into PostgreSQL: runtime end to end vs psql \\copy, INSERT per row, 1k-row INSERT';

const run$ = promisify(execFile);
const BASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const IDS = { org_id: 'bench-org', user_id: 'bench-user', agent_id: 'bench-agent' };

export async function run(options: Record<string, string>): Promise<Record<string, unknown>> {
  const durationS = Number(options.duration ?? 20);
  const sessions = Number(options.sessions ?? 32);
  const sampleS = Number(options.sample ?? 2);
  const rowsWanted = Number(options.rows ?? 100_000);
  const rounds = Number(options.rounds ?? 5);
  const name = `semibot_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = withDatabase(BASE_URL, name);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const dir = await mkdtemp(path.join(tmpdir(), 'semibot-bench-audit-'));
  try {
    await migrateUp(db);

    // 1. End to end through the runtime.
    const e2e = await endToEnd(url, dir, durationS, sessions, sampleS);
    // The baselines need more rows than a short e2e run makes: the e2e events, repeated with
    // fresh ids up to --rows (same shape, same sizes, same table).
    const produced = await readEvents(url, rowsWanted);
    const events = Array.from({ length: rowsWanted }, (_, i) => {
      const e = produced[i % produced.length]!;
      return i < produced.length ? e : { ...e, event_id: randomUUID() };
    });
    const rows = events.length;

    // 2./3. The audit write path end to end against psql \copy of the same rows, in turns: this
    // machine is shared and its speed drifts between runs, so each round measures both back to
    // back and the ratio reported is the median round's.
    const file = path.join(dir, 'rows.copy');
    const paths: Array<Awaited<ReturnType<Awaited<ReturnType<typeof startAuditThread>>['round']>>> = [];
    const psqlRates: number[] = [];
    const psqlCpu: number[] = [];
    const thread = await startAuditThread(url, dir, events.slice(0, Math.min(events.length, 50_000)));
    try {
      for (let round = 0; round < rounds; round++) {
        await freshTable(db);
        paths.push(await thread.round(events));
        if (round === 0) {
          await run$('psql', [url, '-qc', `\\copy (SELECT ${COLUMN_LIST} FROM audit_events) to '${file}'`]);
        }
        await freshTable(db);
        const cpu0 = readCpu();
        const t0 = performance.now();
        await run$('psql', [url, '-qc', `\\copy audit_events (${COLUMN_LIST}) from '${file}'`]);
        psqlRates.push(rows / ((performance.now() - t0) / 1000));
        // psql's backend has exited; its CPU time reaches the postmaster's once it is reaped.
        await new Promise((resolve) => setTimeout(resolve, 200));
        psqlCpu.push(cpuPerItem(cpu0, readCpu(), rows).postgres_us!);
      }
    } finally {
      await thread.close();
    }
    const ratios = paths.map((p, i) => p.events_per_s / psqlRates[i]!);
    const middle = ratios.indexOf([...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)]!);
    const auditPath = paths[middle]!;
    const psqlRate = psqlRates[middle]!;

    // 4. One INSERT per row (a sample: it is slow), 5. 1,000-row INSERTs.
    const raw = (await db.query(`SELECT ${COLUMN_LIST} FROM audit_events ORDER BY "timestamp" LIMIT 100000`))
      .rows;
    await db.query('TRUNCATE audit_events');
    const one = await insertEach(db, raw.slice(0, Math.min(raw.length, 2000)));
    await db.query('TRUNCATE audit_events');
    const multi = await insertMulti(db, raw.slice(0, Math.min(raw.length, 30_000)));

    return {
      rows,
      e2e: {
        ...e2e,
        ratio_to_psql: round(e2e.events_per_s / psqlRate, 3),
        ratio_to_insert_per_row: round(e2e.events_per_s / one.rows_per_s, 1),
      },
      audit_path: {
        ...auditPath,
        ratio_to_psql: round(auditPath.events_per_s / psqlRate, 3),
        ratio_to_insert_per_row: round(auditPath.events_per_s / one.rows_per_s, 1),
      },
      psql_copy: { rows, rows_per_s: Math.round(psqlRate) },
      rounds: paths.map((p, i) => ({
        audit_path_events_per_s: p.events_per_s,
        psql_rows_per_s: Math.round(psqlRates[i]!),
        audit_path_postgres_us_per_event: p.cpu_per_event.postgres_us,
        psql_postgres_us_per_row: psqlCpu[i],
        ratio: round(ratios[i]!, 3),
      })),
      insert_per_row: one,
      insert_1000_rows: multi,
      bar: 'audit writes end to end (audit_path) >= 0.8 x psql \\copy and >= 20 x one INSERT per row; RSS flat over a 5-minute run',
      meets_bar: {
        vs_psql: auditPath.events_per_s >= 0.8 * psqlRate,
        vs_insert_per_row: auditPath.events_per_s >= 20 * one.rows_per_s,
      },
      runtime_driven_e2e_meets_0_8_psql: e2e.events_per_s >= 0.8 * psqlRate,
    };
  } finally {
    await db.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await rm(dir, { recursive: true, force: true });
  }
}

async function endToEnd(url: string, dir: string, durationS: number, sessions: number, sampleS: number) {
  const runtime = createRuntime(
    {
      log_level: 'warn',
      database: { url, pool_size: 2, max_overflow: 2 },
      audit: {
        storage_type: 'database',
        log_dir: path.join(dir, 'audit'),
        flush_interval: 0.05,
        batch_size: 1000,
      },
      runtime: { sandbox_dir: path.join(dir, 'sandbox') },
      // A session may not outlive policy.timeout_seconds: give the run's sessions room.
      policy: { max_iterations: 10_000_000, max_concurrent_actions: 64, timeout_seconds: durationS + 600 },
    },
    { env: { ENVIRONMENT: 'test' } },
  );
  await runtime.start();
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(round(process.memoryUsage().rss / 2 ** 20, 1)), sampleS * 1000);
  try {
    const many = await Promise.all(
      Array.from({ length: sessions }, () => runtime.createSession({ ...IDS, tools: ['echo'] })),
    );
    await Promise.all(many.map((s) => s.execute({ name: 'echo', params: { message: 'warm' } })));
    await runtime.audit.flush();
    const before = await runtime.audit.count({});
    const t0 = performance.now();
    const end = t0 + durationS * 1000;
    let actions = 0;
    await Promise.all(
      many.map(async (s, si) => {
        for (let i = 0; performance.now() < end; i++) {
          // 16 actions per call, so the supervisor hop is not all we measure.
          const batch = Array.from({ length: 16 }, (_, k) => ({
            name: 'echo',
            params: { message: `${si}-${i}-${k} ${'x'.repeat(64)}` },
          }));
          await s.execute(batch);
          actions += batch.length;
        }
      }),
    );
    await runtime.audit.flush(); // everything produced is committed (or spooled — checked below)
    const seconds = (performance.now() - t0) / 1000;
    const stored = (await runtime.audit.count({})) - before;
    const stats = await runtime.audit.stats();
    for (const s of many) await s.end();
    return {
      sessions,
      seconds: round(seconds, 2),
      actions,
      events: stored,
      events_per_s: Math.round(stored / seconds),
      spooled_batches: stats.spool?.spooled_batches ?? 0,
      rss_mb_samples: rss,
      rss_mb_first_last: [rss[0], rss.at(-1)],
    };
  } finally {
    clearInterval(sampler);
    await runtime.stop();
  }
}

async function readEvents(url: string, max: number): Promise<AuditEvent[]> {
  const store = new PostgresCopyAuditStore({
    database: { url, pool_size: 1, max_overflow: 0 },
    deadLetterDir: tmpdir(),
  });
  const events: AuditEvent[] = [];
  // At most `max`: a 5-minute run leaves millions of rows, more than the baselines need.
  for (let offset = 0; offset < max; offset += 10_000) {
    const page = await store.query({ limit: Math.min(10_000, max - offset), offset });
    events.push(...page);
    if (page.length < 10_000) break;
  }
  await store.close();
  return events;
}

/**
 * An empty table, the same for every phase: truncated, autovacuum off on its partitions (an
 * autovacuum of the previous phase's rows would take a core from whichever phase it overlaps),
 * and a CHECKPOINT so that no phase pays for the previous one's dirty pages.
 */
async function freshTable(db: pg.Client): Promise<void> {
  await db.query('TRUNCATE audit_events');
  const { rows } = await db.query<{ name: string }>(
    `SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = 'audit_events'::regclass`,
  );
  for (const { name } of rows) await db.query(`ALTER TABLE ${name} SET (autovacuum_enabled = false)`);
  await db.query('CHECKPOINT').catch(() => {}); // needs a superuser (or pg_checkpoint); skipped otherwise
}

/** The database store's configuration for the audit-path phases (as the e2e runtime's). */
function auditConfig(url: string, logDir: string) {
  return ConfigSchema.parse({
    database: { url, pool_size: 2, max_overflow: 2 },
    audit: { storage_type: 'database', log_dir: logDir, flush_interval: 0.05, batch_size: 1000 },
  });
}

/**
 * The real audit thread, started as Runtime.start() starts it, with one producer port, and kept
 * for every round as the runtime keeps it: long-lived, so a round measures its steady state,
 * not a new thread's module loading and JIT warm-up. `warm` events go through it first (into
 * the table the first round truncates). In a round, events go out in 64-event frames (as a
 * session host's outbox sends them) while at most producer_window are unacknowledged; the
 * clock stops when the last one is acknowledged, i.e. committed in PostgreSQL.
 */
async function startAuditThread(url: string, dir: string, warm: AuditEvent[]) {
  const config = auditConfig(url, path.join(dir, 'thread'));
  const tidsBefore = new Set(threadIds());
  const worker = new Worker(workerBootstrap(workerEntry('audit').filename), {
    eval: true,
    workerData: { config },
    name: 'semibot-audit',
  });
  const api = Comlink.wrap<AuditApi>(nodeEndpoint(worker));
  const close = async () => {
    await api.close().catch(() => {});
    api[Comlink.releaseProxy]();
    await worker.terminate();
  };
  try {
    await api.init();
    const channel = new MessageChannel();
    await api.attachProducer(Comlink.transfer(channel.port2, [channel.port2]));
    // The Worker's own thread is the one that appeared with it (Linux; elsewhere only totals).
    const auditTid = threadIds().find((tid) => !tidsBefore.has(tid));
    const threads: Record<string, string> = auditTid
      ? { producer: String(process.pid), audit_thread: auditTid }
      : {};
    const producer = new Producer(channel.port1, config.audit.producer_window);
    await producer.send(warm);
    let spooledBefore = (await api.stats()).spool?.spooled_batches ?? 0;
    const measure = async (events: AuditEvent[]) => {
      const before = readCpu(threads);
      const seconds = await producer.send(events);
      const cpu = cpuPerItem(before, readCpu(threads), events.length);
      const spooled = (await api.stats()).spool?.spooled_batches ?? 0;
      const result = {
        events: events.length,
        seconds: round(seconds, 3),
        events_per_s: Math.round(events.length / seconds),
        // where the CPU went: this process (producer + audit thread) and the PostgreSQL backends
        cpu_per_event: cpu,
        spooled_batches: spooled - spooledBefore,
      };
      spooledBefore = spooled;
      return result;
    };
    return {
      round: measure,
      close: async () => {
        producer.close();
        await close();
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * A session host's part of the audit path: msgpack frames of 64 events over a port, at most
 * `window` events unacknowledged (the backpressure a host feels).
 */
class Producer {
  readonly #transport: MessagePortTransport<SessionHostMessage, AuditMessage>;
  readonly #window: number;
  #acked = 0;
  #sent = 0;
  #wake: (() => void) | undefined;

  constructor(port: MessagePort, window: number) {
    this.#window = window;
    this.#transport = new MessagePortTransport<SessionHostMessage, AuditMessage>(port);
    this.#transport.onMessage((m) => {
      if (m.type === 'session.audit_ack') this.#acked += m.count;
      this.#wake?.();
    });
  }

  /** Sends `events`; resolves with the seconds until the last was acknowledged, i.e. committed. */
  async send(events: AuditEvent[]): Promise<number> {
    const t0 = performance.now();
    for (let i = 0; i < events.length; i += 64) {
      while (this.#sent - this.#acked >= this.#window) await new Promise<void>((r) => (this.#wake = r));
      const frame = events.slice(i, i + 64);
      this.#transport.send({ type: 'audit.append', events: frame });
      this.#sent += frame.length;
    }
    while (this.#acked < this.#sent) await new Promise<void>((r) => (this.#wake = r));
    return (performance.now() - t0) / 1000;
  }

  close(): void {
    this.#transport.close();
  }
}

async function insertEach(db: pg.Client, rows: Record<string, unknown>[]) {
  const sql = `INSERT INTO audit_events (${COLUMN_LIST}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;
  const t0 = performance.now();
  for (const row of rows)
    await db.query(
      sql,
      COLUMNS.map((c) => value(row[c])),
    );
  const seconds = (performance.now() - t0) / 1000;
  return { rows: rows.length, seconds: round(seconds, 3), rows_per_s: Math.round(rows.length / seconds) };
}

async function insertMulti(db: pg.Client, rows: Record<string, unknown>[]) {
  const t0 = performance.now();
  for (let i = 0; i < rows.length; i += 1000) {
    const chunk = rows.slice(i, i + 1000);
    const values: unknown[] = [];
    const tuples = chunk.map((row) => {
      const start = values.length;
      for (const c of COLUMNS) values.push(value(row[c]));
      return `(${COLUMNS.map((_, k) => `$${start + k + 1}`).join(', ')})`;
    });
    await db.query(`INSERT INTO audit_events (${COLUMN_LIST}) VALUES ${tuples.join(', ')}`, values);
  }
  const seconds = (performance.now() - t0) / 1000;
  return { rows: rows.length, seconds: round(seconds, 3), rows_per_s: Math.round(rows.length / seconds) };
}

/** jsonb values come back parsed: send them as JSON text again. */
function value(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'object' && !(v instanceof Date) && !Buffer.isBuffer(v)) return JSON.stringify(v);
  return v;
}
