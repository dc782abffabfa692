/**
 * How the call benchmarks drive load: one call after another (latency), or `width` loops at
 * once (throughput with that many calls in flight). Shared by mcp.bench.ts and
 * mcp-endpoint.bench.ts so both measure the same way.
 */
import { round, summarize } from './stats.ts';

export type CallFn = (i: number) => Promise<unknown>;

export interface Measured {
  calls_per_s: number;
  p50_us: number;
  p99_us: number;
  mean_us: number;
  n: number;
}

export async function sequential(call: CallFn, n: number, warmup: number): Promise<Measured> {
  for (let i = 0; i < warmup; i++) await call(i);
  const samples: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await call(i);
    samples.push(performance.now() - s);
  }
  const elapsedS = (performance.now() - t0) / 1000;
  return { ...summarize(samples), calls_per_s: round(n / elapsedS, 0) };
}

/** `lanes` loops run concurrently, `total` calls between them. */
export async function inFlight(
  lanes: (lane: number) => CallFn,
  width: number,
  total: number,
): Promise<Measured> {
  const perLane = Math.ceil(total / width);
  const samples: number[] = [];
  const lane = async (l: number, n: number, record: boolean) => {
    const call = lanes(l);
    for (let i = 0; i < n; i++) {
      const s = performance.now();
      await call(l * perLane + i);
      if (record) samples.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: width }, (_, l) => lane(l, 50, false)));
  const t0 = performance.now();
  await Promise.all(Array.from({ length: width }, (_, l) => lane(l, perLane, true)));
  const elapsedS = (performance.now() - t0) / 1000;
  return { ...summarize(samples), calls_per_s: round(samples.length / elapsedS, 0) };
}
