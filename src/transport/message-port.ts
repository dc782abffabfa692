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
import { decodeFrame, encodeFrame } from './codec.ts';
import type { Transport } from './transport.ts';

export class MessagePortTransport<In, Out> implements Transport<In, Out> {
  readonly #port: MessagePort;
  #outbox: Out[] = [];
  #scheduled = false;
  #handler: ((message: In) => void) | undefined;
  readonly stats = { framesSent: 0, messagesSent: 0, framesReceived: 0 };

  constructor(port: MessagePort, { unref = false }: { unref?: boolean } = {}) {
    this.#port = port;
    port.on('message', (frame: Uint8Array) => {
      this.stats.framesReceived++;
      const handler = this.#handler;
      if (!handler) return;
      for (const message of decodeFrame(frame)) handler(message as In);
    });
    if (unref) port.unref();
  }

  send(message: Out): void {
    this.#outbox.push(message);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  onMessage(handler: (message: In) => void): void {
    this.#handler = handler;
  }

  #flush = (): void => {
    this.#scheduled = false;
    const batch = this.#outbox;
    if (batch.length === 0) return;
    this.#outbox = [];
    const frame = encodeFrame(batch);
    this.stats.framesSent++;
    this.stats.messagesSent += batch.length;
    this.#port.postMessage(frame, [frame.buffer as ArrayBuffer]);
  };

  close(): void {
    this.#flush();
    this.#port.close();
  }
}
