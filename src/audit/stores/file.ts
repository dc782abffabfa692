/**
 * The `file` audit store: JSON lines (one event a line, UTF-8) in `<dir>/audit.jsonl`,
 * rotated to audit.1.jsonl … audit.<maxFiles-1>.jsonl (a higher number is older).
 *
 *   append / rotate / deleteOlderThan ──► #exclusive: one at a time, after the reads already running
 *   query / count / sessionEvents     ──► #shared:    together, never during a mutation
 *
 * Reads wait for mutations because a rotation renames files under a reader's feet: a reader
 * that listed the files before it would miss the events that moved to audit.1.jsonl.
 */
import { randomUUID } from 'node:crypto';
import { constants, fdatasyncSync, writeSync } from 'node:fs';
import { access, type FileHandle, mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { RuntimeError, errorMessage } from '../../errors.ts';
import type { Checkpoint } from '../checkpoints.ts';
import type { AuditEvent, AuditQueryParsed } from '../events.ts';
import { type AuditStore, type BatchEncoder, compareEvents, eventEncoder, matchesQuery } from './store.ts';
import { syncDir } from '../sync-dir.ts';
import { EventIdList, EventIdSet } from './event-ids.ts';
import type { ComponentHealth } from '../../health.ts';

const CURRENT_FILE = 'audit.jsonl';
/** signed checkpoints (src/audit/checkpoints.ts), beside the event files; never rotated */
const CHECKPOINT_FILE = 'checkpoints.jsonl';
/** how many unreadable lines verify names one by one */
const UNREADABLE_NAMED = 20;
const FILE_NAME = /^audit(?:\.([1-9]\d*))?\.jsonl$/;
const TEMP_FILE = /^\.audit.*\.tmp$/;
const REWRITE_CHUNK_BYTES = 1 << 20;


/** A JSON-lines AuditStore in one directory, rotated at `maxFileSize` bytes, keeping `maxFiles` files. */
export class FileAuditStore implements AuditStore {
  /** batches wait as the events themselves */
  readonly encoder: BatchEncoder = eventEncoder(this);
  readonly kind = 'file';
  readonly #dir: string;
  readonly #maxFileSize: number;
  readonly #maxFiles: number;
  #status: 'new' | 'open' | 'closed' = 'new';
  #handle: FileHandle | undefined;
  #size = 0;
  /** event_ids by file number (0 = audit.jsonl), so a rotation can forget a deleted file's ids */
  #ids = new Map<number, EventIdList>();
  /** every id in #ids, for one lookup per event instead of one per file (see event-ids.ts) */
  #all = new EventIdSet();
  /** reused by every append (appends are serialised, and each waits for its write) */
  readonly #lines = new LineBuffer();
  #corruptLines = 0;
  /** where the lines counted in #corruptLines are (the first UNREADABLE_NAMED of them) */
  #corruptAt: Array<{ where: string; detail: string }> = [];
  /** set when a mutation failed half-way; the next one rebuilds its state from the files first */
  #stale = false;
  #tail: Promise<void> = Promise.resolve();
  readonly #readers = new Set<Promise<unknown>>();

  constructor({ dir, maxFileSize, maxFiles }: { dir: string; maxFileSize: number; maxFiles: number }) {
    if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('dir must be a non-empty path');
    if (!Number.isSafeInteger(maxFileSize) || maxFileSize < 1) {
      throw new RangeError(`maxFileSize must be a positive integer of bytes, got ${String(maxFileSize)}`);
    }
    if (!Number.isSafeInteger(maxFiles) || maxFiles < 1) {
      throw new RangeError(`maxFiles must be a positive integer, got ${String(maxFiles)}`);
    }
    this.#dir = dir;
    this.#maxFileSize = maxFileSize;
    this.#maxFiles = maxFiles;
  }

  /** Lines the most recent full read of the files skipped because they do not parse (e.g. torn by a crash). */
  get corruptLines(): number {
    return this.#corruptLines;
  }

  async init(): Promise<void> {
    await this.#exclusive(async () => {
      if (this.#status === 'open') return;
      await mkdir(this.#dir, { recursive: true });
      await this.#load();
      this.#status = 'open';
    });
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.#mutate(async () => {
      const fresh = new Set<string>();
      const lines = this.#lines.reset();
      for (const event of events) {
        if (fresh.has(event.event_id) || this.#has(event.event_id)) continue;
        fresh.add(event.event_id);
        lines.push(JSON.stringify(event));
      }
      if (fresh.size === 0) return;
      const data = lines.bytes();
      if (this.#size > 0 && this.#size + data.length > this.#maxFileSize) await this.#rotate();
      const handle = this.#currentHandle();
      // Written and synced on this thread, not through libuv's thread pool: the store lives on
      // the audit thread, which has nothing else to do meanwhile (appends arriving now wait in
      // its port and join the next batch), and the two pool round trips cost more than the
      // fdatasync itself on a fast disk (~250 vs ~140 µs per commit here). A strict-durability
      // answer waits for exactly this.
      writeAllSync(handle.fd, data);
      fdatasyncSync(handle.fd);
      this.#size += data.length;
      const ids = this.#idsOf(0);
      for (const id of fresh) {
        ids.push(id);
        this.#all.add(id);
      }
    });
  }

  async query(query: AuditQueryParsed): Promise<AuditEvent[]> {
    const matched = await this.#shared(async () => {
      const out: AuditEvent[] = [];
      await this.#forEachEvent((event) => {
        if (matchesQuery(event, query)) out.push(event);
      });
      return out;
    });
    matched.sort(compareEvents);
    return matched.slice(query.offset, query.offset + query.limit);
  }

  async count(query: AuditQueryParsed): Promise<number> {
    return this.#shared(async () => {
      let n = 0;
      await this.#forEachEvent((event) => {
        if (matchesQuery(event, query)) n++;
      });
      return n;
    });
  }

  async sessionEvents(sessionId: string): Promise<AuditEvent[]> {
    const matched = await this.#shared(async () => {
      const out: AuditEvent[] = [];
      await this.#forEachEvent((event) => {
        if (event.session_id === sessionId) out.push(event);
      });
      return out;
    });
    return matched.sort((a, b) => a.seq - b.seq);
  }

  async deleteOlderThan(before: Date): Promise<number> {
    const cutoff = before.getTime();
    if (Number.isNaN(cutoff)) throw new RangeError('before must be a valid Date');
    return this.#mutate(async () => {
      let removed = 0;
      for (const index of await this.#fileIndexes()) removed += await this.#dropOldLines(index, cutoff);
      return removed;
    });
  }

  async health(): Promise<ComponentHealth> {
    try {
      await access(this.#dir, constants.W_OK);
    } catch (err) {
      return { status: 'unhealthy', detail: `${this.#dir} is not writable: ${errorMessage(err)}` };
    }
    if (this.#status !== 'open') return { status: 'unhealthy', detail: `the store is ${this.#status}` };
    if (this.#stale)
      return { status: 'degraded', detail: 'the last write failed; the next one re-reads the files' };
    return { status: 'healthy' };
  }

  async close(): Promise<void> {
    await this.#exclusive(async () => {
      this.#status = 'closed';
      const handle = this.#handle;
      this.#handle = undefined;
      await handle?.close();
    });
  }

  // --- state --------------------------------------------------------------------------------

  /** Reads every file to learn the stored ids, then opens audit.jsonl for appending. */
  async #load(): Promise<void> {
    for (const name of await readdir(this.#dir)) {
      // Left by a deleteOlderThan that crashed before its rename; the original is still intact.
      if (TEMP_FILE.test(name)) await unlink(join(this.#dir, name)).catch(() => {});
    }
    const ids = new Map<number, EventIdList>();
    const all = new EventIdSet();
    await this.#forEachEvent((event, index) => {
      let list = ids.get(index);
      if (!list) {
        list = new EventIdList();
        ids.set(index, list);
      }
      // An id found twice (files from elsewhere) is listed once, in its first file read.
      if (all.add(event.event_id)) list.push(event.event_id);
    });
    const path = join(this.#dir, CURRENT_FILE);
    const handle = await open(path, 'a');
    try {
      let { size } = await handle.stat();
      if (size > 0 && (await lastByte(path, size)) !== 0x0a) {
        // A crash tore the last write: end that line, or the next batch's first event would join it.
        await writeAll(handle, Buffer.from('\n'));
        await handle.datasync();
        size++;
      }
      this.#size = size;
    } catch (err) {
      await handle.close();
      throw err;
    }
    // The file may have just been created: make its directory entry durable too.
    await syncDir(this.#dir);
    this.#handle = handle;
    this.#ids = ids;
    this.#all = all;
    this.#stale = false;
  }

  async #reload(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => {});
    await this.#load();
  }

  #has(id: string): boolean {
    return this.#all.has(id);
  }

  #idsOf(index: number): EventIdList {
    const list = this.#ids.get(index) ?? new EventIdList();
    this.#ids.set(index, list);
    return list;
  }

  #currentHandle(): FileHandle {
    if (!this.#handle) throw new RuntimeError('audit_unavailable', 'the audit file is not open');
    return this.#handle;
  }

  // --- queue --------------------------------------------------------------------------------

  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    // Snapshot now, not when the task starts: a reader that arrives later waits on #tail, which
    // includes this task, so waiting for it here would deadlock.
    const readers = [...this.#readers];
    const run = this.#tail.then(async () => {
      await Promise.allSettled(readers);
      return task();
    });
    this.#tail = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  #mutate<T>(task: () => Promise<T>): Promise<T> {
    return this.#exclusive(async () => {
      if (this.#status !== 'open') {
        throw new RuntimeError('audit_unavailable', `the file audit store is ${this.#status}`);
      }
      if (this.#stale) await this.#reload();
      try {
        return await task();
      } catch (err) {
        // The files may be half-changed (a short write, a rotation cut off): trust only the disk.
        this.#stale = true;
        throw err;
      }
    });
  }

  async #shared<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task);
    this.#readers.add(run);
    try {
      return await run;
    } finally {
      this.#readers.delete(run);
    }
  }

  // --- files --------------------------------------------------------------------------------

  /** File numbers present, oldest (highest number) first. */
  async #fileIndexes(): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    const indexes: number[] = [];
    for (const name of names) {
      const match = FILE_NAME.exec(name);
      if (match) indexes.push(match[1] === undefined ? 0 : Number(match[1]));
    }
    return indexes.sort((a, b) => b - a);
  }

  async #forEachEvent(visit: (event: AuditEvent, index: number) => void): Promise<void> {
    let corrupt = 0;
    const at: Array<{ where: string; detail: string }> = [];
    for (const index of await this.#fileIndexes()) {
      let lineNumber = 0;
      await forEachLine(join(this.#dir, fileName(index)), (line) => {
        lineNumber++;
        if (line.length === 0) return;
        const event = parseLine(line);
        if (event) {
          visit(event, index);
          return;
        }
        corrupt++;
        if (at.length < UNREADABLE_NAMED) {
          at.push({
            where: `${fileName(index)}:${lineNumber}`,
            detail: `not an audit event: ${JSON.stringify(line.slice(0, 80))}`,
          });
        }
      });
    }
    if (corrupt > 0 && corrupt !== this.#corruptLines) {
      console.warn(
        `audit file store: ${corrupt} unreadable line(s) in ${this.#dir}, first at ${at[0]?.where}`,
      );
    }
    this.#corruptLines = corrupt;
    this.#corruptAt = at;
  }

  async appendCheckpoint(checkpoint: Checkpoint): Promise<void> {
    await this.#mutate(async () => {
      const path = join(this.#dir, CHECKPOINT_FILE);
      const handle = await open(path, 'a');
      try {
        await writeAll(handle, Buffer.from(`${JSON.stringify(checkpoint)}\n`));
        await handle.datasync();
      } finally {
        await handle.close();
      }
    });
  }

  async checkpoints(): Promise<Checkpoint[]> {
    return this.#shared(async () => {
      const out: Checkpoint[] = [];
      await forEachLine(join(this.#dir, CHECKPOINT_FILE), (line) => {
        if (line.length === 0) return;
        try {
          out.push(JSON.parse(line) as Checkpoint);
        } catch {
          // A torn or edited line: verify reports the chain of checkpoints as broken there.
          out.push({
            seq: -1,
            created_at: '',
            prev_hash: '',
            events_total: 0,
            sessions: [],
            retained_before: null,
            key_id: null,
            alg: 'none',
            hash: 'unreadable',
            signature: null,
          });
        }
      });
      return out;
    });
  }

  async unreadable(): Promise<Array<{ where: string; detail: string }>> {
    await this.#shared(() => this.#forEachEvent(() => {}));
    const named = [...this.#corruptAt];
    if (this.#corruptLines > named.length) {
      named.push({
        where: this.#dir,
        detail: `and ${this.#corruptLines - named.length} more unreadable line(s)`,
      });
    }
    return named;
  }

  async #rotate(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
    const ids = new Map<number, EventIdList>();
    // Oldest first, so each rename's target has already moved on.
    for (const index of await this.#fileIndexes()) {
      const from = join(this.#dir, fileName(index));
      if (index + 1 >= this.#maxFiles) {
        await unlink(from);
        const gone = this.#ids.get(index);
        if (gone) this.#all.deleteAll(gone);
        continue;
      }
      await rename(from, join(this.#dir, fileName(index + 1)));
      const list = this.#ids.get(index);
      if (list) ids.set(index + 1, list);
    }
    this.#ids = ids;
    this.#handle = await open(join(this.#dir, CURRENT_FILE), 'a');
    this.#size = 0;
    await syncDir(this.#dir);
  }

  /** Rewrites one file without the events older than `cutoff`; returns how many it dropped. */
  async #dropOldLines(index: number, cutoff: number): Promise<number> {
    const path = join(this.#dir, fileName(index));
    const temp = join(this.#dir, `.${fileName(index)}.${randomUUID()}.tmp`);
    const out = await open(temp, 'wx');
    const dropped: string[] = [];
    let kept = 0;
    let chunk: string[] = [];
    let chunkBytes = 0;
    const flush = async (): Promise<void> => {
      if (chunk.length === 0) return;
      await writeAll(out, Buffer.from(chunk.join(''), 'utf8'));
      chunk = [];
      chunkBytes = 0;
    };
    try {
      await forEachLine(path, async (line) => {
        if (line.length === 0) return;
        const event = parseLine(line);
        if (event && Date.parse(event.timestamp) < cutoff) {
          dropped.push(event.event_id);
          return;
        }
        // Kept byte for byte, unparseable lines too: retention is about age, and they have none.
        const text = `${line}\n`;
        const bytes = Buffer.byteLength(text, 'utf8');
        chunk.push(text);
        chunkBytes += bytes;
        kept += bytes;
        if (chunkBytes >= REWRITE_CHUNK_BYTES) await flush();
      });
      await flush();
      await out.sync();
    } catch (err) {
      await out.close().catch(() => {});
      await unlink(temp).catch(() => {});
      throw err;
    }
    await out.close();
    if (dropped.length === 0) {
      await unlink(temp);
      return 0;
    }
    if (index === 0) {
      const handle = this.#handle;
      this.#handle = undefined;
      await handle?.close();
    }
    await rename(temp, path);
    await syncDir(this.#dir);
    if (index === 0) {
      this.#handle = await open(path, 'a');
      this.#size = kept;
    }
    const drop = new EventIdSet();
    for (const id of dropped) {
      drop.add(id);
      this.#all.delete(id);
    }
    const ids = this.#ids.get(index);
    if (ids) this.#ids.set(index, ids.without(drop));
    return dropped.length;
  }
}

function fileName(index: number): string {
  return index === 0 ? CURRENT_FILE : `audit.${index}.jsonl`;
}

function parseLine(line: string): AuditEvent | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return isEventLike(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Just the fields the store itself relies on. Full validation is verifyChain's job: a line whose
 * content was tampered with must still be read, so verify can report it as `altered`.
 */
function isEventLike(value: unknown): value is AuditEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.event_id === 'string' &&
    typeof v.session_id === 'string' &&
    typeof v.timestamp === 'string' &&
    typeof v.seq === 'number'
  );
}

async function forEachLine(path: string, visit: (line: string) => void | Promise<void>): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  const input = handle.createReadStream({ encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) await visit(line);
  } finally {
    lines.close();
    input.destroy();
  }
}

function writeAllSync(fd: number, data: Buffer): void {
  let offset = 0;
  while (offset < data.length) {
    const written = writeSync(fd, data, offset, data.length - offset);
    if (written === 0) throw new Error('write() wrote no bytes');
    offset += written;
  }
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  // One write() in practice; the loop only covers a short write.
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    if (bytesWritten === 0) throw new Error('write() wrote no bytes');
    offset += bytesWritten;
  }
}

async function lastByte(path: string, size: number): Promise<number | undefined> {
  // A separate read handle: the append handle is write-only.
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(1);
    const { bytesRead } = await handle.read(buffer, 0, 1, size - 1);
    return bytesRead === 1 ? buffer[0] : undefined;
  } finally {
    await handle.close();
  }
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && err.code === code;
}


/**
 * JSON lines written straight into one growing buffer. Concatenating a batch into one string
 * and encoding it afterwards costs several times more: the deep rope of `+=` pieces is slow
 * to flatten (bench/routing.bench.ts, audit thread profile).
 */
class LineBuffer {
  #buf = Buffer.allocUnsafe(1024 * 1024);
  #length = 0;

  reset(): this {
    this.#length = 0;
    return this;
  }

  push(line: string): void {
    const worst = this.#length + line.length * 3 + 1;
    if (worst > this.#buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(worst, this.#buf.length * 2));
      this.#buf.copy(grown, 0, 0, this.#length);
      this.#buf = grown;
    }
    this.#length += this.#buf.write(line, this.#length, 'utf8');
    this.#buf[this.#length++] = 0x0a;
  }

  bytes(): Buffer {
    return this.#buf.subarray(0, this.#length);
  }
}
