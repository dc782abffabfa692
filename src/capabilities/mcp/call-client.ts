/**
 * Worker side of an MCP call: sends mcp.call to the gateway (through the supervisor port) and
 * matches the session.mcp_result reply by call id. When the action ends first (action timeout,
 * session cancel) it stops waiting at once and sends mcp.cancel, so the gateway aborts the SDK
 * request and the server hears notifications/cancelled.
 */
import type { McpCallOutcome, McpCall, McpCancel } from './shapes.ts';
import { RuntimeError } from '../../errors.ts';
import type { SessionKey } from '../../session-key.ts';
import type { InvokeContext } from '../../execution/capability-graph.ts';

interface Pending {
  resolve(outcome: McpCallOutcome): void;
  reject(err: unknown): void;
}

export class McpCallClient {
  readonly #send: (m: McpCall | McpCancel) => void;
  readonly #pending = new Map<number, Pending>();
  #next = 1;

  constructor(send: (m: McpCall | McpCancel) => void) {
    this.#send = send;
  }

  /**
   * `cancel` is how the caller hears that the action ended first (timeout, session cancel):
   * its onCancel hook when it has one (cheap), else its AbortSignal.
   */
  call(
    key: string,
    session: SessionKey,
    tool: string,
    args: Record<string, unknown>,
    cancel: Pick<InvokeContext, 'signal' | 'onCancel' | 'traceparent'>,
  ): Promise<McpCallOutcome> {
    const call = this.#next++;
    return new Promise<McpCallOutcome>((resolve, reject) => {
      let sent = false;
      const onCancel = (reason: unknown) => {
        if (!this.#pending.delete(call)) return;
        if (sent) {
          const text = reason instanceof Error ? reason.message : String(reason);
          this.#send({ type: 'mcp.cancel', call, reason: text });
        }
        reject(reason);
      };
      this.#pending.set(call, {
        resolve: (outcome) => {
          stopListening();
          resolve(outcome);
        },
        reject,
      });
      const listen = cancel.onCancel ?? ((listener) => onAbort(cancel.signal, listener));
      const stopListening = listen(onCancel);
      // An action that had already ended is not sent at all.
      if (!this.#pending.has(call)) return;
      sent = true;
      const traceparent = cancel.traceparent;
      this.#send({ type: 'mcp.call', call, key, session, tool, args, ...(traceparent ? { traceparent } : {}) });
    });
  }

  /** A reply from the gateway; late replies (the caller already gave up) are dropped. */
  settle(call: number, outcome: McpCallOutcome): void {
    const pending = this.#pending.get(call);
    if (!pending) return;
    this.#pending.delete(call);
    pending.resolve(outcome);
  }

  /** Fails every waiting call (the host is shutting down). */
  failAll(message: string): void {
    for (const [call, pending] of this.#pending) {
      this.#pending.delete(call);
      pending.reject(new RuntimeError('mcp_unavailable', message));
    }
  }

  get inFlight(): number {
    return this.#pending.size;
  }
}

/** onCancel's contract through an AbortSignal, for a caller that has no cheaper hook. */
function onAbort(signal: AbortSignal, listener: (reason: unknown) => void): () => void {
  if (signal.aborted) {
    listener(signal.reason);
    return () => {};
  }
  const heard = () => listener(signal.reason);
  signal.addEventListener('abort', heard, { once: true });
  return () => signal.removeEventListener('abort', heard);
}
