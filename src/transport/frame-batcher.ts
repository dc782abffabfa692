/**
 * The per-tick batching both transports share: messages sent in the same tick leave together
 * as one msgpack frame, encoded once, when the microtask queue runs.
 */
import { encodeFrame } from './codec.ts';

export class FrameBatcher<Out> {
  #outbox: Out[] = [];
  #scheduled = false;
  readonly #deliver: (frame: Uint8Array) => void;
  readonly stats = { framesSent: 0, messagesSent: 0, framesReceived: 0 };

  constructor(deliver: (frame: Uint8Array) => void) {
    this.#deliver = deliver;
  }

  push(message: Out): void {
    this.#outbox.push(message);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.flush);
    }
  }

  flush = (): void => {
    this.#scheduled = false;
    const batch = this.#outbox;
    if (batch.length === 0) return;
    this.#outbox = [];
    this.stats.framesSent++;
    this.stats.messagesSent += batch.length;
    this.#deliver(encodeFrame(batch));
  };
}
