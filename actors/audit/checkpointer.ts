/**
 * Writes the signed checkpoints of src/audit/checkpoints.ts from the audit actor:
 *
 *   events accepted ──observe()──► heads that moved since the last checkpoint
 *   every AUDIT_CHECKPOINT_INTERVAL s (while heads moved), ~200 ms after a session ends, on close:
 *     snapshot the moved heads → wait until every event accepted so far is stored
 *     → seal (chain to the previous checkpoint, sign) → store.appendCheckpoint (durable)
 *
 * A checkpoint names only events already on stable storage, so it never certifies an event
 * that a crash could still lose. One checkpoint is written at a time.
 */
import {
  type Checkpoint,
  CHECKPOINT_GENESIS,
  type CheckpointHead,
  type SigningKeys,
  sealCheckpoint,
} from '../../src/audit/checkpoints.ts';
import { sessionKey } from '../../src/session-key.ts';
import type { AuditEvent } from '../../src/audit/events.ts';
import type { AuditStore } from '../../src/audit/stores/store.ts';
import { errorMessage } from '../../src/errors.ts';

/** after a session ends, its final head is certified this soon (several ends share one) */
const SESSION_END_DELAY_MS = 200;

export class Checkpointer {
  readonly #store: AuditStore;
  readonly #keys: SigningKeys;
  readonly #stored: () => Promise<void>;
  readonly #log: (msg: string) => void;
  #moved = new Map<string, CheckpointHead>();
  #eventsTotal = 0;
  #last: Pick<Checkpoint, 'seq' | 'hash'> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #interval: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;

  constructor(options: {
    store: AuditStore;
    keys: SigningKeys;
    intervalMs: number;
    /** resolves once every event accepted so far is stored */
    stored: () => Promise<void>;
    log: (msg: string) => void;
  }) {
    this.#store = options.store;
    this.#keys = options.keys;
    this.#stored = options.stored;
    this.#log = options.log;
    this.#interval = setInterval(() => void this.write(), options.intervalMs);
    this.#interval.unref();
  }

  /** Continues the chain of checkpoints already in the store. */
  async open(): Promise<void> {
    const existing = await this.#store.checkpoints();
    const last = existing[existing.length - 1];
    if (last) {
      this.#last = { seq: last.seq, hash: last.hash };
      this.#eventsTotal = last.events_total;
    }
  }

  observe(events: readonly AuditEvent[]): void {
    let ended = false;
    for (const e of events) {
      const key = sessionKey(e.org_id, e.session_id);
      const known = this.#moved.get(key);
      if (!known || e.seq > known.seq)
        this.#moved.set(key, {
          org_id: e.org_id,
          session_id: e.session_id,
          seq: e.seq,
          hash: e.hash,
          timestamp: e.timestamp,
        });
      if (e.event_type === 'session_ended') ended = true;
    }
    this.#eventsTotal += events.length;
    if (ended && !this.#soon) {
      this.#soon = setTimeout(() => {
        this.#soon = undefined;
        void this.write();
      }, SESSION_END_DELAY_MS);
      this.#soon.unref();
    }
  }

  /** Writes a checkpoint of what moved (none when nothing did); failures keep the heads for the next. */
  write(): Promise<void> {
    this.#writing = this.#writing.then(() => this.#writeOne(null));
    return this.#writing;
  }

  /**
   * Records, signed, that retention deleted the events older than `before`: verify then
   * expects heads older than that to be gone, and still reports anything newer that is missing.
   */
  retained(before: string): Promise<void> {
    const done = this.#writing.then(() => this.#writeOne(before));
    this.#writing = done.catch(() => {});
    return done;
  }

  async close(): Promise<void> {
    clearInterval(this.#interval);
    clearTimeout(this.#soon);
    await this.write();
  }

  async #writeOne(retainedBefore: string | null): Promise<void> {
    if (this.#moved.size === 0 && retainedBefore === null) return;
    const moved = this.#moved;
    const eventsTotal = this.#eventsTotal;
    this.#moved = new Map();
    try {
      await this.#stored();
      const checkpoint = sealCheckpoint(
        {
          seq: this.#last ? this.#last.seq + 1 : 0,
          created_at: new Date().toISOString(),
          prev_hash: this.#last?.hash ?? CHECKPOINT_GENESIS,
          events_total: eventsTotal,
          sessions: [...moved.values()],
          retained_before: retainedBefore,
        },
        this.#keys,
      );
      await this.#store.appendCheckpoint(checkpoint);
      this.#last = { seq: checkpoint.seq, hash: checkpoint.hash };
    } catch (err) {
      // Heads that moved again meanwhile are newer; the others go back for the next attempt.
      for (const [key, head] of moved) if (!this.#moved.has(key)) this.#moved.set(key, head);
      this.#log(`audit checkpoint not written (kept for the next one): ${errorMessage(err)}`);
      // A retention record that did not get written must fail the retention call that asked.
      if (retainedBefore !== null) throw err;
    }
  }
}
