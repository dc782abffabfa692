/**
 * The action timeout of every running action of a session, with one timer instead of one
 * setTimeout per action (a timer made and cleared per action was a measurable share of a
 * no-op action's round trip).
 *
 * Every action of a session has the same timeout (its policy's action_timeout_seconds), so
 * the runs, kept in the order they started, are also in the order they expire: the timer is
 * set for the oldest; when it fires, the runs past their time fail with action_timeout and
 * the timer is set again for the next oldest.
 */
import { RuntimeError } from '../errors.ts';
import type { ActionRun } from './action-run.ts';

export class RunDeadlines {
  readonly #timeoutMs: number;
  /** running actions, oldest first (a Map keeps insertion order) */
  readonly #runs = new Map<ActionRun, { expiresAt: number; name: string }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Starts the clock of `run` (the action `name`): it fails with action_timeout unless it ends first. */
  watch(run: ActionRun, name: string): void {
    this.#runs.set(run, { expiresAt: performance.now() + this.#timeoutMs, name });
    if (!this.#timer) this.#timer = setTimeout(this.#sweep, this.#timeoutMs);
  }

  /** The run ended: its clock stops. */
  forget(run: ActionRun): void {
    this.#runs.delete(run);
  }

  /** No more deadlines (the session ended). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#runs.clear();
  }

  #sweep = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    for (const [run, { expiresAt, name }] of this.#runs) {
      if (expiresAt > now) {
        this.#timer = setTimeout(this.#sweep, expiresAt - now);
        return;
      }
      this.#runs.delete(run);
      run.fail(new RuntimeError('action_timeout', `${name} exceeded ${this.#timeoutMs / 1000} s`));
    }
  };
}
