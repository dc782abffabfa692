/**
 * The action timeout of every running action of a session, with one timer instead of one
 * setTimeout per action (a timer made and cleared per action was a measurable share of a
 * no-op action's round trip).
 *
 * Every action of a session has the same timeout (its policy's action_timeout_seconds), so
 * the session's runs, a Set in the order they started, are also in the order they expire: the
 * timer is set for the oldest; when it fires, the runs past their time fail with action_timeout
 * and the timer is set again for the next oldest. The Set is the session's own (it also cancels
 * them all when the session ends); a run leaves it when it ends.
 */
import { RuntimeError } from '../errors.ts';
import type { ActionRun } from './action-run.ts';

export class RunDeadlines {
  readonly #timeoutMs: number;
  readonly #runs: ReadonlySet<ActionRun>;
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number, runs: ReadonlySet<ActionRun>) {
    this.#timeoutMs = timeoutMs;
    this.#runs = runs;
  }

  /** A run was added to the set: its clock is running from its startedAt. */
  watch(): void {
    if (!this.#timer) this.#timer = setTimeout(this.#sweep, this.#timeoutMs);
  }

  /** No more deadlines (the session ended). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #sweep = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    for (const run of this.#runs) {
      const expiresAt = run.startedAt + this.#timeoutMs;
      if (expiresAt > now) {
        this.#timer = setTimeout(this.#sweep, expiresAt - now);
        return;
      }
      // A run already failed (and not yet out of the set) is passed over: fail() only acts once.
      run.fail(new RuntimeError('action_timeout', `${run.name} exceeded ${this.#timeoutMs / 1000} s`));
    }
  };
}
