/**
 * Audit events held as their COPY text rows until the COPY that carries them commits.
 *
 * Why: at full rate the audit thread holds thousands of events between their arrival and their
 * commit (the producers' windows). Held as objects, every event survives a few young-generation
 * garbage collections and is copied each time, then promoted and marked: measured, that costs
 * more CPU than encoding the rows. So the database store encodes a producer's frame as soon as it
 * arrives, into one buffer outside the JS heap, and the event objects die young.
 *
 * A block keeps, besides the bytes, what the write path needs without reading rows back: each
 * row's event id (duplicates), month (partitions) and outcome (metrics). An event is rebuilt
 * from its row only on the rare paths that need one: spooling a batch the database refused,
 * dead-lettering a poison row.
 */
import type { AuditCipher } from '../../crypto.ts';
import { ACTION_OUTCOMES, type AuditEvent } from '../../events.ts';
import { decodeRow, encodeRow, monthOf, parseCopyRow } from './encode.ts';

/** The few fields of an event that action metrics read (see src/metrics/audit-metrics.ts). */
export type EventOutcome = Pick<AuditEvent, 'event_type' | 'action_name' | 'capability_type' | 'duration_ms'>;

/** A row is rarely longer than this many UTF-8 bytes; a longer one grows the buffer. */
const TYPICAL_ROW_BYTES = 640;

export class RowBlock {
  /** COPY text, one line per event */
  readonly bytes: Buffer;
  /** byte offset where row i ends (after its newline); row i starts at ends[i - 1] (or 0) */
  readonly #ends: Uint32Array;
  readonly ids: readonly string[];
  /** 'YYYY-MM' of each row's timestamp (undefined when it is no valid time: PostgreSQL refuses the row) */
  readonly months: readonly (string | undefined)[];
  readonly #outcomes: readonly (EventOutcome | undefined)[];

  private constructor(
    bytes: Buffer,
    ends: Uint32Array,
    ids: readonly string[],
    months: readonly (string | undefined)[],
    outcomes: readonly (EventOutcome | undefined)[],
  ) {
    this.bytes = bytes;
    this.#ends = ends;
    this.ids = ids;
    this.months = months;
    this.#outcomes = outcomes;
  }

  /** Encodes `events` (sealing their payloads when a cipher is given). */
  static encode(events: readonly AuditEvent[], cipher?: AuditCipher): RowBlock {
    let buffer = Buffer.allocUnsafe(events.length * TYPICAL_ROW_BYTES);
    let length = 0;
    const ends = new Uint32Array(events.length);
    const ids: string[] = new Array(events.length);
    const months: (string | undefined)[] = new Array(events.length);
    const outcomes: (EventOutcome | undefined)[] = new Array(events.length);
    let lastMonth: string | undefined;
    for (let i = 0; i < events.length; i++) {
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
      ends[i] = length;
      ids[i] = event.event_id;
      // One string for a run of events of the same month, not one per event.
      const month = monthOf(event.timestamp);
      months[i] = month === lastMonth ? lastMonth : month;
      lastMonth = months[i];
      outcomes[i] = ACTION_OUTCOMES[event.event_type] ? outcomeOf(event) : undefined;
    }
    return new RowBlock(buffer.subarray(0, length), ends, ids, months, outcomes);
  }

  /** Several blocks as one (their bytes copied once). */
  static concat(blocks: readonly RowBlock[]): RowBlock {
    if (blocks.length === 1) return blocks[0]!;
    const ends = new Uint32Array(blocks.reduce((n, b) => n + b.length, 0));
    let row = 0;
    let offset = 0;
    for (const block of blocks) {
      for (let i = 0; i < block.length; i++) ends[row++] = offset + block.#ends[i]!;
      offset += block.bytes.length;
    }
    return new RowBlock(
      Buffer.concat(blocks.map((b) => b.bytes)),
      ends,
      blocks.flatMap((b) => b.ids),
      blocks.flatMap((b) => b.months),
      blocks.flatMap((b) => b.#outcomes),
    );
  }

  get length(): number {
    return this.#ends.length;
  }

  /** Rows [start, end), sharing this block's bytes. */
  slice(start = 0, end = this.length): RowBlock {
    end = Math.min(end, this.length);
    if (start === 0 && end === this.length) return this;
    const from = this.#start(start);
    const ends = new Uint32Array(Math.max(0, end - start));
    for (let i = 0; i < ends.length; i++) ends[i] = this.#ends[start + i]! - from;
    return new RowBlock(
      this.bytes.subarray(from, end > start ? this.#ends[end - 1]! : from),
      ends,
      this.ids.slice(start, end),
      this.months.slice(start, end),
      this.#outcomes.slice(start, end),
    );
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
    return this.bytes.toString('utf8', this.#start(i), this.#ends[i]! - 1);
  }

  /** The events again, exactly as they were encoded (needs the cipher they were sealed with). */
  events(cipher?: AuditCipher): AuditEvent[] {
    return Array.from({ length: this.length }, (_, i) => decodeRow(parseCopyRow(this.row(i)), cipher));
  }

  /** What action metrics need of each row that ends an action (the others are skipped). */
  outcomes(): EventOutcome[] {
    return this.#outcomes.filter((o): o is EventOutcome => o !== undefined);
  }

  #start(i: number): number {
    return i === 0 ? 0 : this.#ends[i - 1]!;
  }
}

function outcomeOf(event: AuditEvent): EventOutcome {
  return {
    event_type: event.event_type,
    action_name: event.action_name,
    capability_type: event.capability_type,
    duration_ms: event.duration_ms,
  };
}
