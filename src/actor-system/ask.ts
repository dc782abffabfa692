/**
 * Request/reply over a one-way transport: every ask gets an id, a deadline and an optional
 * AbortSignal; the reply is matched by id. No ask waits forever.
 */
import { RuntimeError, type WireError, fromWire } from '../errors.ts';

export const DEFAULT_ASK_TIMEOUT_MS = 30_000;

export type Reply = { req: number; ok: true; value: unknown } | { req: number; ok: false; error: WireError };

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
  owner: string;
}

export class PendingAsks {
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();

  /**
   * Registers an ask and returns its id plus the promise of its reply. `owner` groups asks
   * (e.g. by worker slot) so a crash can fail exactly the asks that worker owned.
   */
  create<T>(
    owner: string,
    { timeoutMs = DEFAULT_ASK_TIMEOUT_MS, signal }: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): { req: number; reply: Promise<T> } {
    const req = this.#nextId++;
    const reply = new Promise<T>((resolve, reject) => {
      const entry: Pending = { resolve: resolve as (v: unknown) => void, reject, timer: undefined, owner };
      if (Number.isFinite(timeoutMs)) {
        entry.timer = setTimeout(() => {
          this.#pending.delete(req);
          reject(new RuntimeError('internal_error', `no reply from ${owner} within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      signal?.addEventListener(
        'abort',
        () => {
          if (this.#settle(req)) reject(new RuntimeError('action_cancelled', 'the request was aborted'));
        },
        { once: true },
      );
      this.#pending.set(req, entry);
    });
    return { req, reply };
  }

  /** Delivers a reply; unknown ids (already timed out) are ignored. */
  resolve(reply: Reply): void {
    const entry = this.#pending.get(reply.req);
    if (!entry) return;
    this.#settle(reply.req);
    if (reply.ok) entry.resolve(reply.value);
    else entry.reject(fromWire(reply.error));
  }

  /** Fails every pending ask of `owner` with `error`. */
  failOwner(owner: string, error: RuntimeError): void {
    for (const [req, entry] of this.#pending) {
      if (entry.owner !== owner) continue;
      this.#settle(req);
      entry.reject(error);
    }
  }

  get size(): number {
    return this.#pending.size;
  }

  #settle(req: number): boolean {
    const entry = this.#pending.get(req);
    if (!entry) return false;
    clearTimeout(entry.timer);
    this.#pending.delete(req);
    return true;
  }
}
