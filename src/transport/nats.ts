/**
 * Transport over NATS core subjects, the networked twin of MessagePortTransport (issue 6):
 *
 *   send(m1) send(m2) ... (same tick) ──microtask──► encodeFrame([m1, m2, ...])
 *        ──nc.publish(<sendSubject>, frame)──► NATS ──► peer's subscription on that subject
 *        ──► decodeFrame → handler(m) each, in arrival order
 *
 * Same msgpack frames, same per-tick batching. Delivery is NATS core's: at most once, in
 * order per publisher; while NATS reconnects the client buffers what is published. The
 * cluster layer's request/reply (src/cluster/node.ts) uses the same frames, with a reply.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { FrameBatcher } from './frame-batcher.ts';
import type { Transport } from './transport.ts';

export interface NatsTransportOptions {
  /** where this side's frames go (the peer subscribes to it) */
  sendSubject: string;
  /** where the peer's frames arrive */
  receiveSubject: string;
}

export class NatsTransport<In, Out> implements Transport<In, Out> {
  readonly #nc: NatsConnection;
  readonly #sendSubject: string;
  readonly #sub: Subscription;
  readonly #batcher: FrameBatcher<Out, In>;
  readonly stats: FrameBatcher<Out, In>['stats'];

  constructor(nc: NatsConnection, { sendSubject, receiveSubject }: NatsTransportOptions) {
    this.#nc = nc;
    this.#sendSubject = sendSubject;
    this.#batcher = new FrameBatcher<Out, In>((frame) => this.#nc.publish(this.#sendSubject, frame));
    this.stats = this.#batcher.stats;
    this.#sub = nc.subscribe(receiveSubject, {
      callback: (err, msg) => {
        if (!err) this.#batcher.receive(msg.data);
      },
    });
  }

  /** Resolves once the server has registered this side's subscription (so nothing sent to it is missed). */
  ready(): Promise<void> {
    return this.#nc.flush();
  }

  send(message: Out): void {
    this.#batcher.push(message);
  }

  onMessage(handler: (message: In) => void): void {
    this.#batcher.onMessage(handler);
  }

  close(): void {
    this.#batcher.flush();
    this.#sub.unsubscribe();
  }
}
