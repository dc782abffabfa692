/**
 * Audit events held as their COPY text rows until the COPY that carries them commits.
 *
 * Why: at full rate the audit thread holds thousands of events between their arrival and their
 * commit (the producers' windows). Held as objects, every event survives a few young-generation
 * garbage collections and is copied each time, then promoted and marked: measured, that costs
 * more CPU than encoding the rows. So the database store encodes a producer's frame as soon as it
 * arrives, into one buffer outside the JS heap, and the event objects die young. What the write
 * path needs besides the bytes is kept in typed arrays too, not in an object per event: each
 * row's month (partitions) and, for an event that ends an action, its outcome (metrics). An
 * event id (duplicates) is read from the row's first column when the batch is written. An event
 * is rebuilt from its row only on the rare paths that need one: spooling a batch the database
 * refused, dead-lettering a poison row.
 */
import type { AuditCipher } from '../../crypto.ts';
import { type ActionOutcome, type ActionStatus, type AuditEvent, actionOutcome } from '../../events.ts';
import { decodeRow, encodeRow, monthOf, parseCopyRow } from './encode.ts';

/** A row is rarely longer than this many UTF-8 bytes; a longer one grows the buffer. */
const TYPICAL_ROW_BYTES = 640;
const TAB = 0x09;

/** Per row: 0 for an event that ends no action, else 1 + the index of its status here. */
const STATUSES: readonly ActionStatus[] = ['success', 'failure', 'rejected'];

/** The columns a block keeps per row, besides its bytes. */
interface RowFacts {
  /** byte offset where row i ends (after its newline); row i starts at ends[i - 1] (or 0) */
  ends: Uint32Array;
  /** index into `texts` of row i's month ('YYYY-MM'; -1 when its timestamp is no valid time) */
  month: Int32Array;
  /** see STATUSES */
  status: Uint8Array;
  /** index into `texts` of the action's name (outcome rows only) */
  name: Int32Array;
  /** duration_ms, NaN for null (outcome rows only) */
  duration: Float64Array;
  /** the few distinct strings the rows refer to (months, action names) */
  texts: string[];
}

export class RowBlock {
  /** COPY text, one line per event */
  readonly bytes: Buffer;
  readonly #facts: RowFacts;

  private constructor(bytes: Buffer, facts: RowFacts) {
    this.bytes = bytes;
    this.#facts = facts;
  }

  /** Encodes `events` (sealing their payloads when a cipher is given). */
  static encode(events: readonly AuditEvent[], cipher?: AuditCipher): RowBlock {
    const n = events.length;
    const facts = emptyFacts(n);
    const intern = interner(facts.texts);
    let buffer = Buffer.allocUnsafe(n * TYPICAL_ROW_BYTES);
    let length = 0;
    for (let i = 0; i < n; i++) {
      const event = events[i]!;
      const row = encodeRow(event, cipher);
      // A UTF-16 code unit takes at most 3 bytes in UTF-8.
      const worst = row.length * 3;
      if (length + worst > buffer.length) {
        const grown = Buffer.allocUnsafe(Math.max(buffer.length * 2, length + worst));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      length += buffer.write(row, length, 'utf8');
      facts.ends[i] = length;
      const month = monthOf(event.timestamp);
      facts.month[i] = month === undefined ? -1 : intern(month);
      const outcome = actionOutcome(event);
      if (outcome) {
        facts.status[i] = 1 + STATUSES.indexOf(outcome.status);
        facts.name[i] = intern(outcome.name);
        facts.duration[i] = outcome.duration_ms ?? Number.NaN;
      }
    }
    return new RowBlock(buffer.subarray(0, length), facts);
  }

  /** Several blocks as one (their bytes copied once). */
  static concat(blocks: readonly RowBlock[]): RowBlock {
    if (blocks.length === 1) return blocks[0]!;
    const n = blocks.reduce((sum, b) => sum + b.length, 0);
    const facts = emptyFacts(n);
    const intern = interner(facts.texts);
    let row = 0;
    let offset = 0;
    for (const block of blocks) {
      const from = block.#facts;
      // Each block numbers its strings its own way: map them into the joined block's list.
      const remap = from.texts.map(intern);
      for (let i = 0; i < block.length; i++, row++) {
        facts.ends[row] = offset + from.ends[i]!;
        facts.month[row] = from.month[i]! < 0 ? -1 : remap[from.month[i]!]!;
        facts.status[row] = from.status[i]!;
        facts.name[row] = from.status[i] ? remap[from.name[i]!]! : 0;
        facts.duration[row] = from.duration[i]!;
      }
      offset += block.bytes.length;
    }
    return new RowBlock(Buffer.concat(blocks.map((b) => b.bytes)), facts);
  }

  get length(): number {
    return this.#facts.ends.length;
  }

  /** Rows [start, end), sharing this block's bytes. */
  slice(start = 0, end = this.length): RowBlock {
    end = Math.min(end, this.length);
    if (start === 0 && end === this.length) return this;
    const f = this.#facts;
    const from = this.#start(start);
    const ends = f.ends.slice(start, Math.max(start, end));
    for (let i = 0; i < ends.length; i++) ends[i]! -= from;
    return new RowBlock(this.bytes.subarray(from, end > start ? f.ends[end - 1]! : from), {
      ends,
      month: f.month.slice(start, end),
      status: f.status.slice(start, end),
      name: f.name.slice(start, end),
      duration: f.duration.slice(start, end),
      texts: f.texts,
    });
  }

  /** This block without the rows at `drop` (indexes). */
  without(drop: ReadonlySet<number>): RowBlock {
    const keep: RowBlock[] = [];
    let runStart = 0;
    for (let i = 0; i <= this.length; i++) {
      if (i === this.length || drop.has(i)) {
        if (i > runStart) keep.push(this.slice(runStart, i));
        runStart = i + 1;
      }
    }
    return keep.length === 0 ? this.slice(0, 0) : RowBlock.concat(keep);
  }

  /** Row i as COPY text, without its newline. */
  row(i: number): string {
    return this.bytes.toString('utf8', this.#start(i), this.#facts.ends[i]! - 1);
  }

  /** Row i's event id as it stands in the row (COPY text: equal ids give equal texts). */
  id(i: number): string {
    const start = this.#start(i);
    const tab = this.bytes.indexOf(TAB, start);
    return this.bytes.toString('utf8', start, tab < 0 ? this.#facts.ends[i]! - 1 : tab);
  }

  /** 'YYYY-MM' of row i's timestamp (undefined when it is no valid time: PostgreSQL refuses the row). */
  month(i: number): string | undefined {
    const m = this.#facts.month[i]!;
    return m < 0 ? undefined : this.#facts.texts[m];
  }

  /** The distinct months of the rows (for the partitions they need). */
  months(): string[] {
    const seen = new Set<number>(this.#facts.month);
    seen.delete(-1);
    return [...seen].map((m) => this.#facts.texts[m]!);
  }

  /** The events again, exactly as they were encoded (needs the cipher they were sealed with). */
  events(cipher?: AuditCipher): AuditEvent[] {
    return Array.from({ length: this.length }, (_, i) => decodeRow(parseCopyRow(this.row(i)), cipher));
  }

  /** How each row that ends an action ended (what action metrics count). */
  outcomes(): ActionOutcome[] {
    const f = this.#facts;
    const out: ActionOutcome[] = [];
    for (let i = 0; i < this.length; i++) {
      if (f.status[i] === 0) continue;
      const duration = f.duration[i]!;
      out.push({
        status: STATUSES[f.status[i]! - 1]!,
        name: f.texts[f.name[i]!]!,
        duration_ms: Number.isNaN(duration) ? null : duration,
      });
    }
    return out;
  }

  #start(i: number): number {
    return i === 0 ? 0 : this.#facts.ends[i - 1]!;
  }
}

function emptyFacts(rows: number): RowFacts {
  return {
    ends: new Uint32Array(rows),
    month: new Int32Array(rows),
    status: new Uint8Array(rows),
    name: new Int32Array(rows),
    duration: new Float64Array(rows),
    texts: [],
  };
}

/** Index of `text` in `texts`, added when new (a block refers to few distinct strings). */
function interner(texts: string[]): (text: string) => number {
  const index = new Map<string, number>();
  return (text) => {
    let i = index.get(text);
    if (i === undefined) {
      i = texts.length;
      texts.push(text);
      index.set(text, i);
    }
    return i;
  };
}
