/**
 * The `memory` audit store: bounded, for tests, development and short-lived runs. Events live
 * in one Map keyed by event_id; a Map iterates in insertion order, so its first entry is the
 * oldest event, which is what gets dropped when the store is full.
 */
import type { Checkpoint } from '../checkpoints.ts';
import type { AuditEvent, AuditQueryParsed } from '../events.ts';
import { type AuditStore, type BatchEncoder, compareEvents, eventEncoder, matchesQuery } from './store.ts';
import type { ComponentHealth } from '../../health.ts';

/** An in-memory AuditStore that keeps at most `maxEvents` events, dropping the oldest first. */
export class MemoryAuditStore implements AuditStore {
  /** batches wait as the events themselves */
  readonly encoder: BatchEncoder = eventEncoder(this);
  readonly kind = 'memory';
  readonly #checkpoints: Checkpoint[] = [];
  readonly #maxEvents: number;
  readonly #events = new Map<string, AuditEvent>();
  /**
   * Walks the Map from its oldest entry as events are dropped. A fresh keys().next() for each
   * drop would step over every entry deleted before it (a Map compacts only when it grows):
   * quadratic once the store is full. A Map iterator skips deleted entries and survives rehashes.
   */
  #oldest: Iterator<string> | undefined;
  #dropped = 0;

  constructor({ maxEvents }: { maxEvents: number }) {
    if (!Number.isSafeInteger(maxEvents) || maxEvents < 1) {
      throw new RangeError(`maxEvents must be a positive integer, got ${String(maxEvents)}`);
    }
    this.#maxEvents = maxEvents;
  }

  /** How many events were dropped because the store was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** How many events the store holds now. */
  get size(): number {
    return this.#events.size;
  }

  async init(): Promise<void> {}

  async append(events: readonly AuditEvent[]): Promise<void> {
    for (const event of events) {
      if (this.#events.has(event.event_id)) continue;
      if (this.#events.size >= this.#maxEvents) this.#dropOldest();
      // A copy, so a producer that mutates its object later cannot rewrite the trail.
      this.#events.set(event.event_id, structuredClone(event));
    }
  }

  async query(query: AuditQueryParsed): Promise<AuditEvent[]> {
    const matched: AuditEvent[] = [];
    for (const event of this.#events.values()) if (matchesQuery(event, query)) matched.push(event);
    matched.sort(compareEvents);
    return matched.slice(query.offset, query.offset + query.limit).map((e) => structuredClone(e));
  }

  async count(query: AuditQueryParsed): Promise<number> {
    let n = 0;
    for (const event of this.#events.values()) if (matchesQuery(event, query)) n++;
    return n;
  }

  async sessionEvents(sessionId: string): Promise<AuditEvent[]> {
    const matched: AuditEvent[] = [];
    for (const event of this.#events.values()) {
      if (event.session_id === sessionId) matched.push(structuredClone(event));
    }
    return matched.sort((a, b) => a.seq - b.seq);
  }

  async deleteOlderThan(before: Date): Promise<number> {
    const cutoff = before.getTime();
    let removed = 0;
    for (const [id, event] of this.#events) {
      // Deleting the current entry while iterating a Map is safe.
      if (Date.parse(event.timestamp) < cutoff) {
        this.#events.delete(id);
        removed++;
      }
    }
    return removed;
  }

  async health(): Promise<ComponentHealth> {
    return {
      status: 'healthy',
      detail: `${this.#events.size}/${this.#maxEvents} events, ${this.#dropped} dropped`,
    };
  }

  async appendCheckpoint(checkpoint: Checkpoint): Promise<void> {
    this.#checkpoints.push(structuredClone(checkpoint));
  }

  async checkpoints(): Promise<Checkpoint[]> {
    return structuredClone(this.#checkpoints);
  }

  async unreadable(): Promise<Array<{ where: string; detail: string }>> {
    return [];
  }

  async close(): Promise<void> {}

  #dropOldest(): void {
    this.#oldest ??= this.#events.keys();
    let oldest = this.#oldest.next();
    if (oldest.done) {
      // The walk had reached the end (everything it saw was dropped): start again at the front.
      this.#oldest = this.#events.keys();
      oldest = this.#oldest.next();
      if (oldest.done) return;
    }
    this.#events.delete(oldest.value);
    this.#dropped++;
  }
}
