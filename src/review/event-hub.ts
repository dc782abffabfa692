/**
 * Live audit events for subscribers on the main thread (GET /v1/events, the console), fed by
 * the audit thread once events are stored:
 *
 *   audit thread: batch stored ──(only while someone listens)──► feed port ──► EventHub.publish
 *   EventHub ──matching events──► each subscriber's deliver()
 *
 * Nothing here can hold back a session or the audit writer: the audit thread posts and goes on,
 * and a subscriber that cannot keep up is told to stop (its own bounded buffer: see sse.ts).
 */
import type { AuditEvent, AuditEventType } from '../audit/events.ts';

export interface EventFilter {
  org_id?: string;
  session_id?: string;
  agent_id?: string;
  event_types?: readonly AuditEventType[];
}

export interface Subscriber {
  filter: EventFilter;
  deliver(events: readonly AuditEvent[]): void;
}

export function matchesFilter(event: AuditEvent, f: EventFilter): boolean {
  if (f.org_id !== undefined && event.org_id !== f.org_id) return false;
  if (f.session_id !== undefined && event.session_id !== f.session_id) return false;
  if (f.agent_id !== undefined && event.agent_id !== f.agent_id) return false;
  if (f.event_types !== undefined && f.event_types.length > 0 && !f.event_types.includes(event.event_type))
    return false;
  return true;
}

export class EventHub {
  readonly #subscribers = new Set<Subscriber>();
  /** told when the hub goes from no subscriber to some, and back (the audit thread then feeds or stops) */
  readonly #onDemand: (wanted: boolean) => void;

  constructor(onDemand: (wanted: boolean) => void) {
    this.#onDemand = onDemand;
  }

  get size(): number {
    return this.#subscribers.size;
  }

  subscribe(subscriber: Subscriber): () => void {
    this.#subscribers.add(subscriber);
    if (this.#subscribers.size === 1) this.#onDemand(true);
    return () => {
      if (!this.#subscribers.delete(subscriber)) return;
      if (this.#subscribers.size === 0) this.#onDemand(false);
    };
  }

  /** Stored events, in the order the audit thread stored them. */
  publish(events: readonly AuditEvent[]): void {
    for (const subscriber of this.#subscribers) {
      const mine = events.filter((e) => matchesFilter(e, subscriber.filter));
      if (mine.length === 0) continue;
      try {
        subscriber.deliver(mine);
      } catch {
        // A subscriber's failure is its own (its stream closes); the others still get theirs.
      }
    }
  }
}
