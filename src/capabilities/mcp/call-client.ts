/**
 * Worker side of an MCP call: sends mcp.call to the gateway (through the supervisor port) and
 * matches the session.mcp_result reply by call id. When the action's signal aborts (action
 * timeout, session cancel) it stops waiting at once and sends mcp.cancel, so the gateway
 * aborts the SDK request and the server hears notifications/cancelled.
 */
import type { McpCallOutcome, McpGatewayMessage } from '../../../actors/mcp-gateway/messages.ts';
import { RuntimeError } from '../../errors.ts';

interface Pending {
  resolve(outcome: McpCallOutcome): void;
  reject(err: unknown): void;
}

export class McpCallClient {
  readonly #send: (m: McpGatewayMessage) => void;
  readonly #pending = new Map<number, Pending>();
  #next = 1;

  constructor(send: (m: McpGatewayMessage) => void) {
    this.#send = send;
  }

  call(
    key: string,
    sessionId: string,
    tool: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<McpCallOutcome> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const call = this.#next++;
    return new Promise<McpCallOutcome>((resolve, reject) => {
      const onAbort = () => {
        if (!this.#pending.delete(call)) return;
        const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
        this.#send({ type: 'mcp.cancel', call, reason });
        reject(signal.reason);
      };
      this.#pending.set(call, {
        resolve: (outcome) => {
          signal.removeEventListener('abort', onAbort);
          resolve(outcome);
        },
        reject,
      });
      signal.addEventListener('abort', onAbort, { once: true });
      this.#send({ type: 'mcp.call', call, key, session_id: sessionId, tool, args });
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
