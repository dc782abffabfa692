/**
 * Webhooks (issue 18): stored audit events delivered to the operator's endpoints, signed the
 * Standard Webhooks way, retried with backoff and jitter, off every hot path.
 *
 *   runtime.events (stored events) ──matching──► per-endpoint queue (bounded) ──► POST, one at a time
 *     2xx ─► delivered     other / network error / timeout ─► retried after a backoff with full jitter
 *     out of attempts, or the queue full ─► failed (counted and logged, never blocking a session)
 *
 * Headers: webhook-id (the event id, the same on every attempt), webhook-timestamp (unix
 * seconds), webhook-signature `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` with the
 * secret's bytes (`whsec_<base64>`). Endpoints are the operator's (config), so the http_request
 * address rules do not apply to them.
 */
import { createHmac } from 'node:crypto';
import type { AuditEvent } from '../audit/events.ts';
import type { Webhook } from '../contracts.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { EventHub } from './event-hub.ts';

export interface WebhookOptions {
  /** attempts per event, the first included */
  maxAttempts: number;
  /** the first retry waits up to this long; each next one up to twice as long */
  baseDelayMs: number;
  maxDelayMs: number;
  /** one POST's deadline */
  timeoutMs: number;
  /** events waiting per endpoint; past it the oldest is dropped (failed) */
  maxQueue: number;
}

export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = {
  maxAttempts: 8,
  baseDelayMs: 500,
  maxDelayMs: 60_000,
  timeoutMs: 10_000,
  maxQueue: 10_000,
};

export type DeliveryOutcome = 'delivered' | 'failed' | 'retried';

/** Signs a body as Standard Webhooks receivers verify it. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

class Endpoint {
  readonly #hook: Webhook;
  readonly #options: WebhookOptions;
  readonly #count: (outcome: DeliveryOutcome) => void;
  readonly #log: Logger;
  /** events waiting; the one being delivered is not in it (a full queue drops the oldest waiting) */
  readonly #queue: AuditEvent[] = [];
  #inFlight = 0;
  #running = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;

  constructor(
    hook: Webhook,
    options: WebhookOptions,
    count: (outcome: DeliveryOutcome) => void,
    log: Logger,
  ) {
    this.#hook = hook;
    this.#options = options;
    this.#count = count;
    this.#log = log;
  }

  get pending(): number {
    return this.#queue.length + this.#inFlight;
  }

  wants(event: AuditEvent): boolean {
    return (
      this.#hook.event_types.includes(event.event_type) &&
      (!this.#hook.orgs || this.#hook.orgs.includes(event.org_id))
    );
  }

  enqueue(event: AuditEvent): void {
    if (this.#stopped) return;
    this.#queue.push(event);
    if (this.#queue.length > this.#options.maxQueue) {
      const dropped = this.#queue.shift()!;
      this.#count('failed');
      this.#log.warn(
        { url: this.#hook.url, event_id: dropped.event_id },
        'webhook queue full: the oldest event was dropped',
      );
    }
    if (!this.#running) void this.#run();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#wake?.();
  }

  async #run(): Promise<void> {
    this.#running = true;
    while (!this.#stopped && this.#queue.length > 0) {
      const event = this.#queue.shift()!;
      this.#inFlight = 1;
      await this.#deliver(event);
      this.#inFlight = 0;
    }
    this.#running = false;
  }

  async #deliver(event: AuditEvent): Promise<void> {
    const body = JSON.stringify({
      type: `audit.${event.event_type}`,
      timestamp: event.timestamp,
      data: event,
    });
    for (let attempt = 1; !this.#stopped; attempt++) {
      const problem = await this.#post(event.event_id, body);
      if (problem === undefined) {
        this.#count('delivered');
        return;
      }
      if (attempt >= this.#options.maxAttempts) {
        this.#count('failed');
        this.#log.warn(
          { url: this.#hook.url, event_id: event.event_id, attempts: attempt, problem },
          'webhook delivery failed',
        );
        return;
      }
      this.#count('retried');
      // Full jitter: a random wait up to the exponential bound, so failing receivers are not hit in step.
      const bound = Math.min(this.#options.maxDelayMs, this.#options.baseDelayMs * 2 ** (attempt - 1));
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, Math.random() * bound);
        this.#timer.unref();
      });
    }
  }

  /** One attempt; undefined when the receiver took it (2xx), else what went wrong. */
  async #post(id: string, body: string): Promise<string | undefined> {
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const res = await fetch(this.#hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(this.#hook.secret, id, timestamp, body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
      await res.body?.cancel().catch(() => {});
      return res.status >= 200 && res.status < 300 ? undefined : `HTTP ${res.status}`;
    } catch (err) {
      return errorMessage(err);
    }
  }
}

/** Delivers the stored events each configured webhook asks for. */
export class WebhookDispatcher {
  readonly #endpoints: Endpoint[];
  #unsubscribe: (() => void) | undefined;

  constructor(
    hooks: readonly Webhook[],
    count: (outcome: DeliveryOutcome) => void,
    log: Logger,
    options: Partial<WebhookOptions> = {},
  ) {
    const resolved = { ...DEFAULT_WEBHOOK_OPTIONS, ...options };
    this.#endpoints = hooks.map(
      (hook) => new Endpoint(hook, resolved, count, log.child({ component: 'webhooks' })),
    );
  }

  /** Starts listening to stored events (nothing when no webhook is configured). */
  start(events: EventHub): void {
    if (this.#endpoints.length === 0) return;
    this.#unsubscribe = events.subscribe({
      filter: {},
      deliver: (batch) => {
        for (const event of batch)
          for (const endpoint of this.#endpoints) if (endpoint.wants(event)) endpoint.enqueue(event);
      },
    });
  }

  get pending(): number {
    return this.#endpoints.reduce((n, e) => n + e.pending, 0);
  }

  /** Stops delivering; what still waits is not sent (deliveries are notifications, the trail is the record). */
  stop(): void {
    this.#unsubscribe?.();
    for (const endpoint of this.#endpoints) endpoint.stop();
  }
}
