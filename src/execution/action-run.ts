/**
 * One action's run: its deadline, its cancellation and the race between the tool's promise
 * and either. The AbortSignal a tool sees is created only if the tool asks for it (most
 * fast tools never do), and the session cancels runs through its set of live runs instead
 * of one event listener per action: both were a measurable share of a no-op action's cost.
 */
export class ActionRun {
  #controller: AbortController | undefined;
  #failure: { reason: unknown } | undefined;
  #reject: ((reason: unknown) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  /** Fails the run with `reason()` after `ms` unless it settled first. */
  deadline(ms: number, reason: () => unknown): void {
    this.#timer = setTimeout(() => this.fail(reason()), ms);
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
    this.#reject?.(reason);
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
    clearTimeout(this.#timer);
    this.#reject = undefined;
  }
}
