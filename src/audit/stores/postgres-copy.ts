/**
 * The `database` audit store: PostgreSQL, written with COPY ... FROM STDIN (pg-copy-streams).
 * It runs on the audit thread (workers/audit.worker.ts), so row encoding never touches the
 * main thread.
 *
 *   prepare(events) ─ COPY text rows in a RowBlock (row-block.ts), as a producer's frame arrives
 *   appendRows(blocks) ─ dedupe by event_id ─ ensure month partitions
 *     └─► COPY audit_events FROM STDIN                      (the normal path: one statement)
 *           ├─ 23505 duplicate key (a retry after an ambiguous failure, a replay)
 *           │    └─► BEGIN; COPY audit_stage; INSERT ... ON CONFLICT DO NOTHING; COMMIT
 *           ├─ data error (22xxx, 23xxx, 54000: one bad row aborts the whole COPY)
 *           │    └─► split the batch in halves until the bad row is alone → its event (read back
 *           │         from the row) → dead-letter file
 *           └─ anything else (connection lost, server down, watchdog) → audit_unavailable:
 *                the caller (actors/audit/spool.ts) spools the batch's events and replays them later
 * append(events) is prepare + appendRows, for callers that hold events (the spool's replay).
 *
 * Watchdog: pg's query_timeout does not cover COPY streams, and a frozen backend (SIGSTOP)
 * never answers. Each write has a deadline (audit.copy_deadline_ms); when it passes, the
 * connection's socket is destroyed, the client is discarded, and the write fails.
 */
import path from 'node:path';
import type { Checkpoint } from '../checkpoints.ts';
import type { Socket } from 'node:net';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Config } from '../../../config/schema.ts';
import { createPool } from '../../db/pool.ts';
import { RuntimeError, errorMessage } from '../../errors.ts';
import { AuditCipher } from '../crypto.ts';
import type { AuditEvent, AuditQueryParsed } from '../events.ts';
import { DeadLetterFile } from './postgres/dead-letter.ts';
import { type AuditRow, decodeRow } from './postgres/encode.ts';
import {
  copyDirectSql,
  countSql,
  ENSURE_PARTITIONS_SQL,
  RETENTION_SQL,
  STAGE_COPY_SQL,
  STAGE_CREATE_SQL,
  STAGE_MERGE_SQL,
  selectSql,
  sessionSql,
  TABLE_EXISTS_SQL,
} from './postgres/queries.ts';
import { RowBlock } from './postgres/row-block.ts';
import type { AuditStore, BatchEncoder } from './store.ts';
import type { ComponentHealth } from '../../health.ts';


const HEALTH_TIMEOUT_MS = 2_000;
const PARTITIONS_AHEAD = 3;

export interface PostgresStoreOptions {
  database: Config['database'];
  /** a write (connect + COPY + commit) still running after this is abandoned */
  copyDeadlineMs?: number;
  /** AUDIT_ENCRYPTION_KEY when encryption is on */
  encryptionKey?: string;
  /** where poison events go (dead-letter.jsonl) */
  deadLetterDir: string;
  log?: (msg: string) => void;
}

export class PostgresCopyAuditStore implements AuditStore {
  readonly kind = 'database';
  readonly #pool: pg.Pool;
  readonly #deadlineMs: number;
  readonly #cipher: AuditCipher | undefined;
  readonly #deadLetters: DeadLetterFile;
  readonly #log: (msg: string) => void;
  /** months ('YYYY-MM') whose partition is known to exist */
  readonly #months = new Set<string>();
  #lastError: string | undefined;
  #closed = false;

  constructor(options: PostgresStoreOptions) {
    this.#deadlineMs = options.copyDeadlineMs ?? 30_000;
    this.#log = options.log ?? (() => {});
    this.#cipher = options.encryptionKey ? AuditCipher.fromKeyText(options.encryptionKey) : undefined;
    this.#deadLetters = new DeadLetterFile(options.deadLetterDir);
    this.#pool = createPool(options.database, {
      connectionTimeoutMs: this.#deadlineMs,
      applicationName: 'semibot-audit',
      onError: (err) => {
        // An idle connection died (server restart, pg_terminate_backend): the pool drops it.
        this.#lastError = err.message;
        this.#log(`audit database connection error: ${err.message}`);
      },
    });
  }

  /** Poison events written to the dead-letter file by this process. */
  get deadLettered(): number {
    return this.#deadLetters.count;
  }

  get deadLetterFile(): string {
    return this.#deadLetters.file;
  }

  /**
   * Checks the schema and creates the coming months' partitions. A database that cannot be
   * reached is not an error here: the spool takes the events until it comes back. A reachable
   * database without the table is (run `semibot-runtime migrate up`).
   */
  async init(): Promise<void> {
    try {
      await this.#withClient(async (client) => {
        const { rows } = await client.query<{ present: boolean }>(TABLE_EXISTS_SQL);
        if (!rows[0]?.present) {
          throw new RuntimeError(
            'audit_unavailable',
            'the audit_events table does not exist: run `semibot-runtime migrate up`',
          );
        }
        await client.query(ENSURE_PARTITIONS_SQL, [new Date().toISOString(), PARTITIONS_AHEAD]);
      });
      const now = new Date();
      for (let i = 0; i < PARTITIONS_AHEAD; i++) {
        this.#months.add(
          new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1)).toISOString().slice(0, 7),
        );
      }
      this.#lastError = undefined;
    } catch (err) {
      // A missing table (or any other answer from a reachable server) is a set-up error.
      if (err instanceof RuntimeError && /does not exist/.test(err.message)) throw err;
      if (sqlState(err) !== undefined && !sqlState(err)!.startsWith('57') && !sqlState(err)!.startsWith('08'))
        throw err;
      this.#lastError = errorMessage(err);
      this.#log(`audit database not reachable at start-up (events will be spooled): ${this.#lastError}`);
    }
  }

  /** Batches wait as COPY rows, encoded as each producer's frame arrives (row-block.ts). */
  readonly encoder: BatchEncoder = {
    encode: (events) => this.prepare(events),
    // The pieces are the RowBlocks encode() made: this encoder is the only one they meet.
    write: (pieces) => this.appendRows(pieces as readonly RowBlock[]),
    events: (pieces) => this.eventsOf(pieces as readonly RowBlock[]),
    outcomes: (pieces) => (pieces as readonly RowBlock[]).flatMap((block) => block.outcomes()),
  };

  /** The events as COPY rows, ready for appendRows() (sealed here when encryption is on). */
  prepare(events: readonly AuditEvent[]): RowBlock {
    return RowBlock.encode(events, this.#cipher);
  }

  /** The events held in `blocks`, read back from their rows (for the spool). */
  eventsOf(blocks: readonly RowBlock[]): AuditEvent[] {
    return blocks.flatMap((block) => block.events(this.#cipher));
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    await this.appendRows([this.prepare(events)]);
  }

  async appendRows(blocks: readonly RowBlock[]): Promise<void> {
    if (this.#closed) throw new RuntimeError('audit_unavailable', 'the database audit store is closed');
    const block = withoutRepeatedIds(RowBlock.concat(blocks));
    if (block.length === 0) return;
    try {
      await this.#store(block, false);
      this.#lastError = undefined;
    } catch (err) {
      this.#lastError = errorMessage(err);
      if (err instanceof RuntimeError) throw err;
      throw new RuntimeError('audit_unavailable', `the audit database write failed: ${this.#lastError}`, {
        sqlstate: sqlState(err),
      });
    }
  }

  async query(query: AuditQueryParsed): Promise<AuditEvent[]> {
    const { rows } = await this.#read<AuditRow>(selectSql(query));
    return rows.map((row) => this.#decode(row));
  }

  async count(query: AuditQueryParsed): Promise<number> {
    const { rows } = await this.#read<{ n: string }>(countSql(query));
    return Number(rows[0]?.n ?? 0);
  }

  async sessionEvents(sessionId: string): Promise<AuditEvent[]> {
    const { rows } = await this.#read<AuditRow>(sessionSql(sessionId));
    return rows.map((row) => this.#decode(row));
  }

  /** One row per checkpoint, committed before this resolves (migration 0003). */
  async appendCheckpoint(c: Checkpoint): Promise<void> {
    await this.#read({
      text:
        'INSERT INTO audit_checkpoints (seq, created_at, prev_hash, events_total, sessions, retained_before, key_id, alg, hash, signature) ' +
        'VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
      values: [
        c.seq,
        c.created_at,
        c.prev_hash,
        c.events_total,
        JSON.stringify(c.sessions),
        c.retained_before,
        c.key_id,
        c.alg,
        c.hash,
        c.signature,
      ],
    });
  }

  async checkpoints(): Promise<Checkpoint[]> {
    const { rows } = await this.#read<
      Omit<Checkpoint, 'seq' | 'events_total' | 'created_at'> & {
        seq: string;
        events_total: string;
        created_at: Date;
      }
    >({
      text: 'SELECT seq, created_at, prev_hash, events_total, sessions, retained_before, key_id, alg, hash, signature FROM audit_checkpoints ORDER BY seq',
      values: [],
    });
    return rows.map((r) => ({
      ...r,
      seq: Number(r.seq),
      events_total: Number(r.events_total),
      created_at: r.created_at.toISOString(),
    }));
  }

  /** Rows that cannot be read back are refused by the table's types and COPY: none to report. */
  async unreadable(): Promise<Array<{ where: string; detail: string }>> {
    return [];
  }

  /** Drops whole monthly partitions older than `before`, deletes the older rows of the month it falls in. */
  async deleteOlderThan(before: Date): Promise<number> {
    const { rows } = await this.#read<{ removed: string }>({
      text: RETENTION_SQL,
      values: [before.toISOString()],
    });
    // Dropped months must be created again if an old event is replayed into them.
    this.#months.clear();
    return Number(rows[0]?.removed ?? 0);
  }

  async health(): Promise<ComponentHealth> {
    if (this.#closed) return { status: 'unhealthy', detail: 'closed' };
    try {
      await this.#withClient((client) => client.query('SELECT 1'), HEALTH_TIMEOUT_MS);
    } catch (err) {
      return { status: 'degraded', detail: `database unreachable: ${errorMessage(err)}` };
    }
    const dead = this.#deadLetters.count;
    return {
      status: 'healthy',
      detail: `pool ${this.#pool.totalCount} open, ${this.#pool.idleCount} idle${dead > 0 ? `; ${dead} events dead-lettered to ${this.#deadLetters.file}` : ''}`,
    };
  }

  /** The last write error, or undefined after a write succeeded. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end().catch(() => {});
  }

  // --- writing ------------------------------------------------------------------------------

  async #store(block: RowBlock, staged: boolean, partitionRetry = false): Promise<void> {
    try {
      await this.#ensurePartitions(block.months());
      await this.#withClient((client) =>
        staged ? copyStaged(client, block.bytes) : copyDirect(client, block.bytes),
      );
    } catch (err) {
      const code = sqlState(err);
      if (code === '23505' && !staged) return this.#store(block, true);
      if (code === '23514' && !partitionRetry && /partition/.test(errorMessage(err))) {
        // A month dropped by retention since we cached it: create it again, once.
        this.#months.clear();
        return this.#store(block, staged, true);
      }
      if (!isDataError(code)) throw err;
      if (block.length === 1) {
        await this.#deadLetterRow(block, { code, message: errorMessage(err) });
        return;
      }
      // One bad row aborts the whole COPY: halve until it stands alone, the rest lands.
      const mid = block.length >> 1;
      await this.#store(block.slice(0, mid), staged);
      await this.#store(block.slice(mid), staged);
    }
  }

  async #deadLetterRow(block: RowBlock, error: { code: string; message: string }): Promise<void> {
    let event: AuditEvent;
    try {
      event = block.events(this.#cipher)[0]!;
    } catch (err) {
      // Only a bug could make a row unreadable; keep its text rather than lose it.
      this.#log(`audit row ${block.id(0)} could not be read back (${errorMessage(err)}); dead-lettered as text`);
      await this.#deadLetters.addRow(block.row(0), block.id(0), error);
      return;
    }
    this.#log(`audit event ${event.event_id} refused by PostgreSQL (${error.code}); dead-lettered`);
    await this.#deadLetters.add(event, error);
  }

  async deadLetter(event: AuditEvent, error: { code?: string; message: string }): Promise<void> {
    this.#log(`audit event ${event.event_id} cannot be stored (${error.message}); dead-lettered`);
    await this.#deadLetters.add(event, error);
  }

  async #ensurePartitions(months: readonly string[]): Promise<void> {
    const missing = months.filter((month) => !this.#months.has(month));
    if (missing.length === 0) return;
    await this.#withClient(async (client) => {
      for (const month of missing) await client.query(ENSURE_PARTITIONS_SQL, [`${month}-01T00:00:00Z`, 1]);
    });
    for (const month of missing) this.#months.add(month);
  }

  /**
   * Runs `task` on a pooled client under the watchdog. On a deadline the socket is destroyed
   * (the only way to stop a COPY to a frozen backend) and the client is thrown away.
   */
  async #withClient<T>(
    task: (client: pg.PoolClient) => Promise<T>,
    deadlineMs = this.#deadlineMs,
  ): Promise<T> {
    // One deadline for connecting and working: a frozen server can hang either.
    let client: pg.PoolClient | undefined;
    let expired = false;
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        expired = true;
        if (client) destroySocket(client);
        reject(
          new RuntimeError(
            'audit_unavailable',
            `the database did not answer within ${deadlineMs} ms; connection abandoned`,
          ),
        );
      }, deadlineMs);
    });
    try {
      const connecting = this.#pool.connect();
      // A connection that arrives after the deadline is thrown away, not leaked.
      connecting.then(
        (late) => expired && late.release(new Error('abandoned after the deadline')),
        () => {},
      );
      client = await Promise.race([connecting, watchdog]);
      const work = task(client);
      work.catch(() => {}); // after a watchdog abort the task may still reject; nobody waits for it
      const result = await Promise.race([work, watchdog]);
      client.release();
      return result;
    } catch (err) {
      // Keep the connection only after an error PostgreSQL itself reported (it is still usable);
      // anything else (socket gone, watchdog) may leave it mid-protocol.
      client?.release(expired || !isReusable(sqlState(err)) ? toError(err) : undefined);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  async #read<R extends pg.QueryResultRow>(query: {
    text: string;
    values: unknown[];
  }): Promise<pg.QueryResult<R>> {
    try {
      return await this.#withClient((client) => client.query<R>(query.text, query.values));
    } catch (err) {
      if (err instanceof RuntimeError) throw err;
      throw new RuntimeError('audit_unavailable', `the audit database query failed: ${errorMessage(err)}`);
    }
  }

  #decode(row: AuditRow): AuditEvent {
    return decodeRow(row, this.#cipher);
  }
}

/** Builds the store from the runtime configuration. */
export function createPostgresStore(config: Config, log?: (msg: string) => void): PostgresCopyAuditStore {
  if (config.audit.encryption_enabled && !config.audit.encryption_key) {
    throw new RuntimeError(
      'audit_encryption_key_invalid',
      'AUDIT_ENCRYPTION_ENABLED is set but AUDIT_ENCRYPTION_KEY is not',
    );
  }
  return new PostgresCopyAuditStore({
    database: config.database,
    copyDeadlineMs: config.audit.copy_deadline_ms,
    ...(config.audit.encryption_enabled ? { encryptionKey: config.audit.encryption_key } : {}),
    deadLetterDir: path.resolve(config.audit.log_dir),
    ...(log ? { log } : {}),
  });
}

/** COPY would abort on a key repeated inside the batch: the first occurrence wins, as in every store. */
function withoutRepeatedIds(block: RowBlock): RowBlock {
  const seen = new Set<string>();
  const repeated = new Set<number>();
  for (let i = 0; i < block.length; i++) {
    const id = block.id(i);
    if (seen.has(id)) repeated.add(i);
    else seen.add(id);
  }
  return repeated.size > 0 ? block.without(repeated) : block;
}

function copyInto(client: pg.PoolClient, sql: string, payload: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const stream = client.query(copyFrom(sql));
    stream.on('error', reject);
    // pg-copy-streams emits 'finish' once the server has acknowledged the whole COPY.
    stream.on('finish', () => resolve());
    stream.end(payload);
  });
}

function copyDirect(client: pg.PoolClient, payload: Buffer): Promise<void> {
  // Autocommit: the COPY is its own transaction, committed when it returns.
  return copyInto(client, copyDirectSql(), payload);
}

async function copyStaged(client: pg.PoolClient, payload: Buffer): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(STAGE_CREATE_SQL);
    await copyInto(client, STAGE_COPY_SQL, payload);
    await client.query(STAGE_MERGE_SQL);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

function destroySocket(client: pg.PoolClient): void {
  // pg has no public way to abort a COPY in flight; its socket is the one handle that works.
  const stream = (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;
  stream?.destroy();
}

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** Errors about the rows themselves: splitting the batch can isolate them. */
function isDataError(code: string | undefined): code is string {
  if (code === undefined) return false;
  return code.startsWith('22') || (code.startsWith('23') && code !== '23505') || code === '54000';
}

/** SQLSTATEs after which the session is still in a known state (not shutdown or protocol trouble). */
function isReusable(code: string | undefined): boolean {
  return code !== undefined && !code.startsWith('08') && !code.startsWith('57') && !code.startsWith('XX');
}


function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
