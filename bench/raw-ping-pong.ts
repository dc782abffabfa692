/**
 * The baseline of the round-trip benchmarks: a raw worker_threads ping-pong of a message shaped
 * like an action (bench/fixtures/echo-worker.ts answers with what it gets), warmed up first.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { MODULE_EXT, workerBootstrap } from '../src/worker-entry.ts';

export interface RawPingPong {
  /** one round trip; resolves with its time in ms */
  once(): Promise<number>;
  /** `n` round trips, their times pushed onto `into` */
  measure(n: number, into: number[]): Promise<void>;
  close(): Promise<number>;
}

export async function startRawPingPong(): Promise<RawPingPong> {
  const worker = new Worker(workerBootstrap(path.join(import.meta.dirname, `fixtures/echo-worker.${MODULE_EXT}`)), { eval: true });
  let i = 0;
  const once = () =>
    new Promise<number>((resolve) => {
      // Distinct objects each time: structured clone would otherwise send a repeated reference cheaply.
      const message = { id: `a-${i}`, name: 'echo', params: { message: `hello ${i++}`, pad: 'x'.repeat(200) } };
      const t0 = performance.now();
      worker.once('message', () => resolve(performance.now() - t0));
      worker.postMessage(message);
    });
  for (let k = 0; k < 500; k++) await once();
  return {
    once,
    async measure(n, into) {
      for (let k = 0; k < n; k++) into.push(await once());
    },
    close: () => worker.terminate(),
  };
}
