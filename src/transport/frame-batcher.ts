/**
 * What both transports share: messages sent in the same tick leave together as one msgpack
 * frame, encoded once, when the microtask queue runs; a received frame is decoded and each
 * message handed to the one handler, in order.
 */
import { decodeFrame, encodeFrame } from './codec.ts';

export class FrameBatcher<Out, In = unknown> {
  #handler: ((message: In) => void) | undefined;
  #outbox: Out[] = [];
  #scheduled = false;
  readonly #deliver: (frame: Uint8Array) => void;
  readonly stats = { framesSent: 0, messagesSent: 0, framesReceived: 0 };

  constructor(deliver: (frame: Uint8Array) => void) {
    this.#deliver = deliver;
  }

  onMessage(handler: (message: In) => void): void {
    this.#handler = handler;
  }

  /** Hands every message of a received frame to the handler. */
  receive = (frame: Uint8Array): void => {
    this.stats.framesReceived++;
    const handler = this.#handler;
    if (!handler) return;
    for (const message of decodeFrame(frame)) handler(message as In);
  };

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
