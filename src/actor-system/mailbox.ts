/**
 * A mailbox runs one message at a time: the next handler starts only when the previous
 * one has settled. Handlers must be quick (start long work, do not await it), so a slow
 * action never blocks an approval or a cancel behind it.
 */
export class Mailbox<M> {
  readonly #queue: M[] = [];
  #running = false;
  readonly #handle: (message: M) => void | Promise<void>;
  readonly #onError: (err: unknown, message: M) => void;

  constructor(handle: (message: M) => void | Promise<void>, onError: (err: unknown, message: M) => void) {
    this.#handle = handle;
    this.#onError = onError;
  }

  post(message: M): void {
    this.#queue.push(message);
    if (!this.#running) this.#drain();
  }

  get length(): number {
    return this.#queue.length;
  }

  // A plain loop while handlers return at once (the session host's do); it pauses on a handler's
  // promise and carries on when it settles. No async frame per message.
  #drain(): void {
    this.#running = true;
    while (this.#queue.length > 0) {
      const message = this.#queue.shift()!;
      let pending: void | Promise<void>;
      try {
        pending = this.#handle(message);
      } catch (err) {
        this.#onError(err, message);
        continue;
      }
      if (pending) {
        pending.then(
          () => this.#drain(),
          (err: unknown) => {
            this.#onError(err, message);
            this.#drain();
          },
        );
        return;
      }
    }
    this.#running = false;
  }
}
