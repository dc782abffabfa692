/**
 * One relay, one tap: every message an actor sends to another thread goes through
 * Relay.send(). Metrics and tracing hook in with tap() here and nowhere else.
 */
import type { Transport } from '../transport/transport.ts';
import type { Ref } from './ref.ts';

export type Tap = (to: Ref, message: { type: string }) => void;

export class Relay<Out extends { type: string }> {
  readonly #routes = new Map<Ref, Transport<unknown, Out>>();
  readonly #taps: Tap[] = [];

  /** binds an address (a thread's root ref) to the transport that reaches it */
  register(ref: Ref, transport: Transport<unknown, Out>): void {
    this.#routes.set(ref, transport);
  }

  unregister(ref: Ref): void {
    this.#routes.delete(ref);
  }

  tap(fn: Tap): () => void {
    this.#taps.push(fn);
    return () => this.#taps.splice(this.#taps.indexOf(fn), 1);
  }

  send(to: Ref, message: Out): void {
    const transport = this.#routes.get(to);
    if (!transport) throw new Error(`no route to ${to}`);
    for (const tap of this.#taps) tap(to, message);
    transport.send(message);
  }
}
