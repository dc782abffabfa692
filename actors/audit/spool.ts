/**
 * The local spool of the database audit store: where batches wait while PostgreSQL cannot take
 * them, on disk under AUDIT_LOG_DIR/spool, replayed in order when it comes back.
 *
 *   Batcher ──writePieces(batch)──► SpoolingWriter
 *        spool empty, DB ok:  store.encoder.write(batch) ──────► committed → ack
 *        DB failed / spool not empty: Spool.append(its events) ► fsynced   → ack
 *                                       │ (full: the write waits → no acks → producers wait)
 *                  replay loop ◄────────┘ oldest record first → store.append (idempotent)
 *                                         a segment is deleted once all its records committed
 *
 * Segments: spool-<16-digit number>.seg, append-only, rotated at SEGMENT_BYTES. A record is
 *   magic 'ASP1' (4) ‖ payload length u32le (4) ‖ crc32(payload) u32le (4) ‖ payload (JSON array of events)
 * and is synced before its write resolves. On open, each segment is scanned; the first record
 * that is cut short or fails its checksum (a crash in the middle of a write) ends the segment:
 * the file is truncated there and every record before it is kept.
 */
import { mkdir, open, readdir, readFile, rm, truncate } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import type { AuditEvent } from '../../src/audit/events.ts';
import type { AuditStore, BatchPiece } from '../../src/audit/stores/store.ts';
import { syncDir } from '../../src/audit/sync-dir.ts';
import { errorMessage } from '../../src/errors.ts';

const MAGIC = 0x31505341; // 'ASP1' little-endian
const HEADER_BYTES = 12;
const SEGMENT_BYTES = 16 * 1024 * 1024;
const SEGMENT_NAME = /^spool-(\d{16})\.seg$/;
const REPLAY_MIN_MS = 100;
const REPLAY_MAX_MS = 5_000;

interface Segment {
  number: number;
  file: string;
  bytes: number;
  /** byte offset of each record, in order */
  records: number;
}

export interface SpoolRecovery {
  segments: number;
  records: number;
  /** bytes cut from torn tails */
  truncatedBytes: number;
}

/** Append-only, checksummed, fsynced segments of event batches. */
export class Spool {
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #segmentBytes: number;
  #segments: Segment[] = [];
  #active: { segment: Segment; handle: FileHandle } | undefined;
  #bytes = 0;
  #records = 0;
  /** never reused, even after every segment was deleted: replay progress is keyed by it */
  #nextNumber = 1;
  #queue: Promise<unknown> = Promise.resolve();
  #spaceWaiters: Array<() => void> = [];

  constructor({
    dir,
    maxBytes,
    segmentBytes = SEGMENT_BYTES,
  }: { dir: string; maxBytes: number; segmentBytes?: number }) {
    this.#dir = dir;
    this.#maxBytes = maxBytes;
    this.#segmentBytes = segmentBytes;
  }

  get dir(): string {
    return this.#dir;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get records(): number {
    return this.#records;
  }

  get isEmpty(): boolean {
    return this.#records === 0;
  }

  /** Finds the segments left by an earlier run and cuts torn tails. */
  async open(): Promise<SpoolRecovery> {
    await mkdir(this.#dir, { recursive: true });
    const names = (await readdir(this.#dir)).filter((n) => SEGMENT_NAME.test(n)).sort();
    let truncatedBytes = 0;
    for (const name of names) {
      const file = path.join(this.#dir, name);
      const data = await readFile(file);
      const { records, goodBytes } = scan(data);
      if (goodBytes < data.length) {
        await truncate(file, goodBytes);
        truncatedBytes += data.length - goodBytes;
      }
      if (records.length === 0) {
        await rm(file, { force: true });
        continue;
      }
      const number = Number(SEGMENT_NAME.exec(name)![1]);
      this.#nextNumber = Math.max(this.#nextNumber, number + 1);
      this.#segments.push({ number, file, bytes: goodBytes, records: records.length });
      this.#bytes += goodBytes;
      this.#records += records.length;
    }
    return { segments: this.#segments.length, records: this.#records, truncatedBytes };
  }

  /** Appends one batch and syncs it; waits while the spool is full. */
  async append(events: readonly AuditEvent[]): Promise<void> {
    const payload = Buffer.from(JSON.stringify(events), 'utf8');
    const record = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
    record.writeUInt32LE(MAGIC, 0);
    record.writeUInt32LE(payload.length, 4);
    record.writeUInt32LE(crc32(payload), 8);
    payload.copy(record, HEADER_BYTES);
    // Backpressure: nothing is dropped; the caller (and so the producers) wait for room.
    while (this.#bytes > 0 && this.#bytes + record.length > this.#maxBytes) {
      await new Promise<void>((resolve) => this.#spaceWaiters.push(resolve));
    }
    this.#bytes += record.length; // reserved now, so two waiters cannot both take the last room
    await this.#serial(async () => {
      try {
        const active = await this.#activeSegment();
        await active.handle.write(record, 0, record.length, active.segment.bytes);
        await active.handle.datasync();
        active.segment.bytes += record.length;
        active.segment.records++;
        this.#records++;
        if (active.segment.bytes >= this.#segmentBytes) await this.#seal();
      } catch (err) {
        this.#bytes -= record.length;
        throw err;
      }
    });
  }

  /** The oldest segment's batches (sealing it first if it is the one being appended to). */
  async oldest(): Promise<{ segment: number; batches: AuditEvent[][] } | undefined> {
    return this.#serial(async () => {
      const first = this.#segments[0];
      if (!first) return undefined;
      if (this.#active?.segment === first) await this.#seal();
      const { records } = scan(await readFile(first.file));
      return {
        segment: first.number,
        batches: records.map((r) => JSON.parse(r.toString('utf8')) as AuditEvent[]),
      };
    });
  }

  /** Deletes a fully replayed segment and frees its room. */
  async remove(segmentNumber: number): Promise<void> {
    await this.#serial(async () => {
      const index = this.#segments.findIndex((s) => s.number === segmentNumber);
      if (index < 0) return;
      const [segment] = this.#segments.splice(index, 1);
      await rm(segment!.file, { force: true });
      this.#bytes -= segment!.bytes;
      this.#records -= segment!.records;
    });
    const waiters = this.#spaceWaiters;
    this.#spaceWaiters = [];
    for (const wake of waiters) wake();
  }

  async close(): Promise<void> {
    await this.#serial(() => this.#seal());
  }

  async #activeSegment(): Promise<{ segment: Segment; handle: FileHandle }> {
    if (this.#active) return this.#active;
    const number = this.#nextNumber++;
    const file = path.join(this.#dir, `spool-${String(number).padStart(16, '0')}.seg`);
    const handle = await open(file, 'wx');
    // The new file's name must survive a crash too.
    await syncDir(this.#dir);
    const segment: Segment = { number, file, bytes: 0, records: 0 };
    this.#segments.push(segment);
    this.#active = { segment, handle };
    return this.#active;
  }

  async #seal(): Promise<void> {
    const active = this.#active;
    this.#active = undefined;
    await active?.handle.close();
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => {});
    return run;
  }
}

/** Splits a segment's bytes into record payloads; stops at the first torn or corrupt record. */
export function scan(data: Buffer): { records: Buffer[]; goodBytes: number } {
  const records: Buffer[] = [];
  let offset = 0;
  while (offset + HEADER_BYTES <= data.length) {
    if (data.readUInt32LE(offset) !== MAGIC) break;
    const length = data.readUInt32LE(offset + 4);
    const end = offset + HEADER_BYTES + length;
    if (end > data.length) break;
    const payload = data.subarray(offset + HEADER_BYTES, end);
    if (crc32(payload) !== data.readUInt32LE(offset + 8)) break;
    records.push(payload);
    offset = end;
  }
  return { records, goodBytes: offset };
}

export interface SpoolingWriterHealth {
  status: 'healthy' | 'degraded';
  detail?: string;
}

/**
 * The Batcher's writer for the database store: writes straight to the store while it works,
 * to the spool while it does not (or while older events still wait there, to keep order).
 * A write resolves only once its events are durable — committed, or synced in the spool —
 * and only then does the Batcher acknowledge them to their producers.
 */
export class SpoolingWriter {
  readonly #store: AuditStore;
  readonly #spool: Spool;
  readonly #log: (msg: string) => void;
  #replaying: Promise<void> | undefined;
  #closed = false;
  #lastError: string | undefined;
  #wake: (() => void) | undefined;
  readonly stats = { spooled_batches: 0, replayed_batches: 0, recovered_records: 0, truncated_bytes: 0 };

  constructor({ store, spool, log }: { store: AuditStore; spool: Spool; log?: (msg: string) => void }) {
    this.#store = store;
    this.#spool = spool;
    this.#log = log ?? (() => {});
  }

  get spool(): Spool {
    return this.#spool;
  }

  /** Recovers what an earlier run left in the spool and starts replaying it. */
  async open(): Promise<void> {
    const recovered = await this.#spool.open();
    this.stats.recovered_records = recovered.records;
    this.stats.truncated_bytes = recovered.truncatedBytes;
    if (recovered.truncatedBytes > 0) {
      this.#log(
        `audit spool: cut a torn tail of ${recovered.truncatedBytes} bytes; ${recovered.records} batches recovered`,
      );
    }
    if (!this.#spool.isEmpty) this.#kickReplay();
  }

  /** A batch as the audit actor holds it: pieces made by the store's encoder (rows, for the database). */
  writePieces(pieces: readonly BatchPiece[]): Promise<void> {
    const { encoder } = this.#store;
    return this.#write(
      () => encoder.write(pieces),
      () => encoder.events(pieces),
    );
  }

  /** A batch of events. */
  write(events: readonly AuditEvent[]): Promise<void> {
    return this.writePieces([this.#store.encoder.encode(events)]);
  }

  async #write(direct: () => Promise<void>, events: () => AuditEvent[]): Promise<void> {
    if (this.#spool.isEmpty && !this.#replaying) {
      try {
        await direct();
        this.#lastError = undefined;
        return;
      } catch (err) {
        this.#lastError = errorMessage(err);
        this.#log(`audit database write failed, spooling: ${this.#lastError}`);
      }
    }
    // The spool keeps events (its format does not depend on the store's encoding).
    await this.#spool.append(events());
    this.stats.spooled_batches++;
    this.#kickReplay();
  }

  health(): SpoolingWriterHealth {
    if (this.#spool.isEmpty && !this.#lastError) return { status: 'healthy' };
    return {
      status: 'degraded',
      detail: `${this.#spool.records} batches (${this.#spool.bytes} bytes) spooled in ${this.#spool.dir}${
        this.#lastError ? `; last database error: ${this.#lastError}` : ''
      }`,
    };
  }

  /** Resolves once the spool is empty (for tests and graceful stops that can wait). */
  async drained(): Promise<void> {
    while (this.#replaying) await this.#replaying;
  }

  /** Stops replaying; whatever is left stays on disk for the next start. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    await this.#replaying?.catch(() => {});
    await this.#spool.close();
  }

  #kickReplay(): void {
    if (this.#replaying || this.#closed) return;
    this.#replaying = this.#replay().finally(() => {
      this.#replaying = undefined;
      // A batch spooled while the loop was finding the spool empty must not wait for the next write.
      if (!this.#spool.isEmpty && !this.#closed) this.#kickReplay();
    });
  }

  async #replay(): Promise<void> {
    let delayMs = REPLAY_MIN_MS;
    // Batches of the oldest segment already committed (a segment is deleted only when all are).
    let done = { segment: -1, batches: 0 };
    while (!this.#closed) {
      const oldest = await this.#spool.oldest();
      if (!oldest) return;
      if (done.segment !== oldest.segment) done = { segment: oldest.segment, batches: 0 };
      try {
        // In order, one recorded batch at a time; the store's append is idempotent by event_id,
        // so a batch committed just before a crash is not stored twice.
        for (const batch of oldest.batches.slice(done.batches)) {
          if (this.#closed) return;
          await this.#store.append(batch);
          done.batches++;
          this.stats.replayed_batches++;
        }
        await this.#spool.remove(oldest.segment);
        this.#lastError = undefined;
        delayMs = REPLAY_MIN_MS;
      } catch (err) {
        this.#lastError = errorMessage(err);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delayMs);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
        delayMs = Math.min(REPLAY_MAX_MS, delayMs * 2);
      }
    }
  }
}
