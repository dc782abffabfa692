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
  readonly #onUnsendable: ((message: Out, err: Error) => void) | undefined;
  readonly stats = { framesSent: 0, messagesSent: 0, framesReceived: 0 };

  /**
   * `onUnsendable` hears of a message the codec cannot encode (issue 15: data nested deep enough
   * to overflow the packer's stack). Without it such an error is thrown as before; with it, only
   * that message is dropped and the others of its frame still leave.
   */
  constructor(deliver: (frame: Uint8Array) => void, onUnsendable?: (message: Out, err: Error) => void) {
    this.#deliver = deliver;
    this.#onUnsendable = onUnsendable;
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
    let frame: Uint8Array;
    try {
      frame = encodeFrame(batch);
    } catch (err) {
      if (!this.#onUnsendable) throw err;
      const sendable = this.#withoutUnsendable(batch);
      if (sendable.length === 0) return;
      frame = encodeFrame(sendable);
      this.stats.messagesSent -= batch.length - sendable.length;
    }
    this.stats.framesSent++;
    this.stats.messagesSent += batch.length;
    this.#deliver(frame);
  };

  /** The slow path after a failed frame: each message alone, the ones that fail reported. */
  #withoutUnsendable(batch: Out[]): Out[] {
    const sendable: Out[] = [];
    for (const message of batch) {
      try {
        encodeFrame([message]);
        sendable.push(message);
      } catch (err) {
        this.#onUnsendable!(message, err instanceof Error ? err : new Error(String(err)));
      }
    }
    return sendable;
  }
}
