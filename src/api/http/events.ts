/**
 * GET /v1/events: the org's audit events as Server-Sent Events, as they are stored (issue 18).
 *
 *   Last-Event-ID (an event id) ──► replay what the trail holds after it ──► then live events
 *   live: runtime.events (src/review/event-hub.ts), fed by the audit thread once events are stored
 *
 * Each subscriber has a bounded buffer: a client that reads slower than events come is
 * disconnected (it may reconnect with Last-Event-ID and miss nothing), never waited for.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { AuditEvent } from '../../audit/events.ts';
import { RuntimeError } from '../../errors.ts';
import type { EventFilter } from '../../review/event-hub.ts';
import { parseOrThrow } from '../../validation.ts';
import { assertRole } from './auth.ts';
import { EventStreamParamsSchema } from './schemas.ts';
import type { RouteDeps } from './sessions.ts';

/** Events a subscriber may have waiting for its socket before it is disconnected. */
export const SSE_MAX_PENDING_EVENTS = 1_000;
/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
const REPLAY_PAGE = 1_000;
/** after a replay, live events it already sent are dropped for this long (the feed's lag) */
const REPLAY_OVERLAP_MS = 10_000;

export function eventRoutes(app: FastifyInstance, deps: RouteDeps): void {
  // Open streams end when the server closes (a stopping daemon does not wait for them).
  const open = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of open) res.end();
  });

  app.get('/v1/events', async (request, reply) => {
    const principal = deps.principal(request);
    assertRole(principal, 'read');
    const params = parseOrThrow(EventStreamParamsSchema, request.query, 'invalid_request', 'events query');
    const filter: EventFilter = {
      ...(principal.org_id !== undefined ? { org_id: principal.org_id } : {}),
      ...(params.session_id !== undefined ? { session_id: params.session_id } : {}),
      ...(params.agent_id !== undefined ? { agent_id: params.agent_id } : {}),
      ...(params.event_type !== undefined ? { event_types: params.event_type } : {}),
    };
    // The resume point is found before the stream opens, so a bad one is a plain 400.
    const lastId = request.headers['last-event-id'];
    let resumeAfter: AuditEvent | undefined;
    if (lastId !== undefined) {
      if (typeof lastId !== 'string' || lastId.length > 200) {
        throw new RuntimeError('invalid_request', 'Last-Event-ID: expected one event id');
      }
      [resumeAfter] = await deps.runtime.audit.query({ ...scopeOf(filter), event_id: lastId, limit: 1 });
      if (!resumeAfter)
        throw new RuntimeError('invalid_request', `Last-Event-ID: no event ${lastId} of this org`);
    }

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    res.write(': connected\n\n');
    open.add(res);
    const stream = new SseStream(res, () =>
      request.log.warn({ filter }, 'event stream subscriber too slow: disconnected'),
    );

    // Live events are held while the trail is replayed, then sent without what the replay sent.
    // The feed reaches this thread a little after the store has the events, so one the replay
    // read may still arrive live afterwards: the replayed ids are kept for REPLAY_OVERLAP_MS.
    let held: AuditEvent[] | undefined = resumeAfter ? [] : undefined;
    let replayed: Set<string> | undefined;
    const unsubscribe = deps.runtime.events.subscribe({
      filter,
      deliver: (events) => {
        if (held) {
          held.push(...events);
          if (held.length > SSE_MAX_PENDING_EVENTS) stream.overflow();
        } else stream.send(replayed ? events.filter((e) => !replayed!.has(e.event_id)) : events);
      },
    });
    const heartbeat = setInterval(() => stream.comment('keep-alive'), HEARTBEAT_MS);
    heartbeat.unref();
    res.on('close', () => {
      open.delete(res);
      clearInterval(heartbeat);
      unsubscribe();
    });

    if (resumeAfter && held) {
      const sent = await replayAfter(deps, filter, resumeAfter, stream);
      const live = held.filter((e) => !sent.has(e.event_id));
      held = undefined;
      replayed = sent;
      setTimeout(() => {
        replayed = undefined;
      }, REPLAY_OVERLAP_MS).unref();
      stream.send(live);
    }
  });
}

/** Sends the trail's events after `after` (in store order); returns the ids it sent. */
async function replayAfter(
  deps: RouteDeps,
  filter: EventFilter,
  after: AuditEvent,
  stream: SseStream,
): Promise<Set<string>> {
  const sent = new Set<string>();
  let passed = false;
  for (let offset = 0; !stream.closed; offset += REPLAY_PAGE) {
    const page = await deps.runtime.audit.query({
      ...scopeOf(filter),
      since: after.timestamp,
      limit: REPLAY_PAGE,
      offset,
    });
    const out: AuditEvent[] = [];
    for (const event of page) {
      // Events of the same millisecond as the resume point that come before it in store order
      // were sent already: the first event after it is the resume point itself.
      if (!passed) {
        if (event.event_id === after.event_id) passed = true;
        continue;
      }
      out.push(event);
      sent.add(event.event_id);
    }
    stream.send(out);
    if (page.length < REPLAY_PAGE) break;
  }
  return sent;
}

function scopeOf(filter: EventFilter) {
  return {
    ...(filter.org_id !== undefined ? { org_id: filter.org_id } : {}),
    ...(filter.session_id !== undefined ? { session_id: filter.session_id } : {}),
    ...(filter.agent_id !== undefined ? { agent_id: filter.agent_id } : {}),
    ...(filter.event_types !== undefined ? { event_types: [...filter.event_types] } : {}),
  };
}

/** One subscriber's socket: events as SSE records, a bounded queue while the socket is full. */
class SseStream {
  readonly #res: ServerResponse;
  readonly #onOverflow: () => void;
  #pending: string[] = [];
  #congested = false;
  closed = false;

  constructor(res: ServerResponse, onOverflow: () => void) {
    this.#res = res;
    this.#onOverflow = onOverflow;
    res.on('close', () => {
      this.closed = true;
      this.#pending = [];
    });
  }

  send(events: readonly AuditEvent[]): void {
    for (const event of events) this.#write(`id: ${event.event_id}\ndata: ${JSON.stringify(event)}\n\n`);
  }

  comment(text: string): void {
    if (!this.#congested) this.#write(`: ${text}\n\n`);
  }

  /** Too much waits for this subscriber: it is disconnected, and may resume with Last-Event-ID. */
  overflow(): void {
    if (this.closed) return;
    this.closed = true;
    this.#pending = [];
    this.#onOverflow();
    this.#res.destroy();
  }

  #write(record: string): void {
    if (this.closed) return;
    if (this.#congested) {
      this.#pending.push(record);
      if (this.#pending.length > SSE_MAX_PENDING_EVENTS) this.overflow();
      return;
    }
    if (!this.#res.write(record)) {
      this.#congested = true;
      this.#res.once('drain', () => this.#drain());
    }
  }

  #drain(): void {
    this.#congested = false;
    const pending = this.#pending;
    this.#pending = [];
    for (const record of pending) this.#write(record);
  }
}
