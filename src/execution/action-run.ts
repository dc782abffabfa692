/**
 * One action's run: its cancellation (by the session, or by its deadline: see
 * run-deadlines.ts) and the race between the tool's promise and that. The AbortSignal a tool
 * sees is created only if the tool asks for it (most fast tools never do), and the session
 * cancels runs through its set of live runs instead of one event listener per action: both
 * were a measurable share of a no-op action's cost.
 */
export class ActionRun {
  /** the action's name, for the messages of its failures */
  readonly name: string;
  readonly startedAt = performance.now();
  #controller: AbortController | undefined;
  #failure: { reason: unknown } | undefined;
  #reject: ((reason: unknown) => void) | undefined;
  #listeners: Array<(reason: unknown) => void> | undefined;

  constructor(name = 'action') {
    this.name = name;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#failure) this.#controller.abort(this.#failure.reason);
    }
    return this.#controller.signal;
  }

  fail(reason: unknown): void {
    if (this.#failure) return;
    this.#failure = { reason };
    this.#controller?.abort(reason);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners) for (const listener of listeners) listener(reason);
    this.#reject?.(reason);
  }

  /** Calls `listener` once when the run fails (at once if it has); returns its remover. */
  onCancel(listener: (reason: unknown) => void): () => void {
    if (this.#failure) {
      listener(this.#failure.reason);
      return noop;
    }
    this.#listeners ??= [];
    this.#listeners.push(listener);
    return () => {
      const at = this.#listeners?.indexOf(listener) ?? -1;
      if (at >= 0) this.#listeners!.splice(at, 1);
    };
  }

  /** Settles with `work`, or rejects as soon as the run fails. */
  race<T>(work: Promise<T>): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure.reason);
    return new Promise<T>((resolve, reject) => {
      this.#reject = reject;
      work.then(resolve, reject);
    });
  }

  finish(): void {
    this.#reject = undefined;
  }
}

function noop(): void {}
