/**
 * Transport over a worker_threads MessagePort:
 *
 *   send(m1) send(m2) ... (same tick)  ──microtask──►  encodeFrame([m1, m2, ...])
 *        ──postMessage(frame, [frame.buffer])──►  other thread: decodeFrame → handler(m) each
 *
 * Frames are transferred, not copied. Batching per tick is what makes the actor path cheap:
 * one postMessage costs about as much as encoding dozens of small messages.
 */
import type { MessagePort } from 'node:worker_threads';
import { FrameBatcher } from './frame-batcher.ts';
import type { Transport } from './transport.ts';

export class MessagePortTransport<In, Out> implements Transport<In, Out> {
  readonly #port: MessagePort;
  // Frames are transferred, not copied (codec.ts made them exact-size buffers of their own).
  readonly #batcher: FrameBatcher<Out, In>;
  readonly stats: FrameBatcher<Out, In>['stats'];

  constructor(
    port: MessagePort,
    { unref = false, onUnsendable }: { unref?: boolean; onUnsendable?: (message: Out, err: Error) => void } = {},
  ) {
    this.#port = port;
    this.#batcher = new FrameBatcher<Out, In>(
      (frame) => this.#port.postMessage(frame, [frame.buffer as ArrayBuffer]),
      onUnsendable,
    );
    this.stats = this.#batcher.stats;
    port.on('message', this.#batcher.receive);
    if (unref) port.unref();
  }

  send(message: Out): void {
    this.#batcher.push(message);
  }

  onMessage(handler: (message: In) => void): void {
    this.#batcher.onMessage(handler);
  }

  close(): void {
    this.#batcher.flush();
    this.#port.close();
  }
}
