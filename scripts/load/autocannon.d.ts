/** The part of autocannon's API the load script uses (the package ships no types; @types/autocannon is not installed). */
declare module 'autocannon' {
  namespace autocannon {
    type Context = Record<string, unknown>;
    interface Request {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string;
      setupRequest?: (request: Request, context: Context) => Request;
      onResponse?: (status: number, body: string, context: Context) => void;
    }
    interface Options {
      url: string;
      connections?: number;
      pipelining?: number;
      amount?: number;
      timeout?: number;
      /** how often (ms) autocannon samples its counters and checks whether the run is over; 1000 by default */
      sampleInt?: number;
      requests?: Request[];
    }
    interface Histogram {
      p50: number;
      p90: number;
      p99: number;
      max: number;
      average: number;
    }
    interface Result {
      requests: Histogram & { total: number };
      latency: Histogram;
      errors: number;
      timeouts: number;
      non2xx: number;
      duration: number;
    }
    interface Instance extends PromiseLike<Result> {
      stop(): void;
    }
    function track(
      instance: Instance,
      options?: {
        outputStream?: NodeJS.WritableStream;
        renderResultsTable?: boolean;
        renderLatencyTable?: boolean;
      },
    ): void;
  }
  function autocannon(options: autocannon.Options): autocannon.Instance;
  export default autocannon;
}
