/**
 * Restart intensity: a worker that dies is replaced, unless workers have died more than
 * `maxRestarts` times within `windowMs`, or died while booting several times in a row —
 * then respawning stops (a crash loop would only burn CPU) and the runtime reports itself
 * unhealthy.
 */
import { type Clock, systemClock } from './clock.ts';

export const MAX_CONSECUTIVE_BOOT_FAILURES = 3;

export class RestartPolicy {
  readonly #deaths: number[] = [];
  #bootFailures = 0;
  readonly #maxRestarts: number;
  readonly #windowMs: number;
  readonly #clock: Clock;

  constructor(maxRestarts: number, windowMs: number, clock: Clock = systemClock) {
    this.#maxRestarts = maxRestarts;
    this.#windowMs = windowMs;
    this.#clock = clock;
  }

  /** Records a death; returns whether a replacement may be started. */
  recordDeath({ duringBoot }: { duringBoot: boolean }): boolean {
    const now = this.#clock.now();
    this.#deaths.push(now);
    while (this.#deaths.length > 0 && this.#deaths[0]! < now - this.#windowMs) this.#deaths.shift();
    this.#bootFailures = duringBoot ? this.#bootFailures + 1 : 0;
    return this.#deaths.length <= this.#maxRestarts && this.#bootFailures < MAX_CONSECUTIVE_BOOT_FAILURES;
  }

  recordBoot(): void {
    this.#bootFailures = 0;
  }

  get restartsInWindow(): number {
    return this.#deaths.length;
  }
}
