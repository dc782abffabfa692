/**
 * Load test: many concurrent sessions, each running a chain of no-op (echo) actions, through
 * the HTTP API of a real daemon (a child process), against the library API in this process as
 * the baseline, in the same run and with the same configuration.
 *
 *   library:  this process ── createRuntime() ── supervisor ── session workers
 *   http:     this process (keep-alive HTTP client) ──► `semibot-runtime serve` ── same path
 *
 * For each concurrency level: create N sessions (external planner), then every session runs
 * its actions one after another (each a round trip), all sessions at once; record errors,
 * action throughput and per-action latency (p50/p90/p99). Progress goes to stderr each second.
 * Writes <out>/http-load.json and <out>/http-load.svg (throughput and p50/p99 vs concurrency).
 *
 *   npm run load -- [--sessions 500] [--actions 20] [--levels 50,100,250,500] [--out bench/results]
 *                   [--client autocannon|raw]
 *
 * The HTTP side is driven by autocannon (runHttpLevel). `--client raw` drives it instead with
 * http-client.ts through the library side's own loop (runLevel, one keep-alive connection per
 * stream): the same streams, timed the same way, with a client that costs about half of
 * autocannon's CPU per request, which otherwise lands on the same two cores as the daemon.
 *
 * The bar (issue 5): at 500 sessions × 20 actions, zero errors, and HTTP action throughput at
 * least 50% of the library's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { createRuntime } from '../../src/index.ts';
import { HttpConnection } from './http-client.ts';
import { renderChart } from './svg-chart.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TOKEN = 'load-test-token';
const ORG = 'load-org';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '500' },
    actions: { type: 'string', default: '20' },
    levels: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    out: { type: 'string', default: path.join(ROOT, 'bench/results') },
    client: { type: 'string', default: 'autocannon' },
  },
});
if (values.client !== 'raw' && values.client !== 'autocannon')
  throw new Error(`--client: expected raw or autocannon, got ${JSON.stringify(values.client)}`);
const SESSIONS = Number(values.sessions);
const ROUNDS = Math.max(1, Number(values.rounds));
const ACTIONS = Number(values.actions);
const LEVELS = (values.levels ?? [50, 100, 250, SESSIONS].filter((l) => l <= SESSIONS).join(','))
  .split(',')
  .map(Number)
  .filter((n, i, all) => n > 0 && all.indexOf(n) === i);

interface Driver {
  create(i: number): Promise<string>;
  execute(sessionId: string, message: string): Promise<boolean>;
  cancel(sessionId: string): Promise<void>;
}

interface LevelResult {
  concurrency: number;
  actions: number;
  errors: number;
  seconds: number;
  actions_per_second: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number };
  /** CPU time (user + system) spent per action by every process involved, in microseconds */
  cpu_us_per_action: number;
}

/** CPU seconds a process has used so far (Linux /proc; the daemon is another process). */
async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat (11 and 12 after the command name), in clock ticks.
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / CLOCK_TICKS_PER_SECOND;
}
const CLOCK_TICKS_PER_SECOND = 100;
const ownCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;
/** errors over every round, not only the rounds that were kept */
let totalErrors = 0;

/**
 * The library side of one level: `concurrency` streams at once, each creating a session,
 * running its actions one after another, then cancelling it; the same stream as the HTTP side
 * (runHttpLevel), timed as a whole. Latency is per action call.
 */
async function runLevel(
  kind: string,
  driver: Driver,
  concurrency: number,
  actions: number,
  quiet = false,
  /** CPU seconds of other processes doing this level's work (the daemon) */
  otherCpuSeconds: () => Promise<number> = async () => 0,
): Promise<LevelResult> {
  const latencies: number[] = [];
  let errors = 0;
  let done = 0;
  const total = concurrency * actions;
  const cpu0 = ownCpuSeconds() + (await otherCpuSeconds());
  const started = performance.now();
  const progress = setInterval(() => {
    const s = (performance.now() - started) / 1000;
    process.stderr.write(
      `  [${kind} c=${concurrency}] ${done}/${total} actions, ${Math.round(done / s)}/s, errors ${errors}\n`,
    );
  }, 1000);
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async (_, i) => {
        let id: string;
        try {
          id = await driver.create(i);
        } catch {
          errors += actions;
          return;
        }
        for (let k = 0; k < actions; k++) {
          const t = performance.now();
          let ok = false;
          try {
            ok = await driver.execute(id, `s${i}-a${k}`);
          } catch {
            ok = false;
          }
          latencies.push(performance.now() - t);
          if (!ok) errors++;
          done++;
        }
        await driver.cancel(id).catch(() => errors++);
      }),
    );
  } finally {
    clearInterval(progress);
  }
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = ownCpuSeconds() + (await otherCpuSeconds()) - cpu0;
  latencies.sort((a, b) => a - b);
  return report(kind, quiet, {
    cpu_us_per_action: Math.round((cpuSeconds * 1e6) / total),
    concurrency,
    actions: total,
    errors,
    seconds: round(seconds, 3),
    actions_per_second: Math.round(total / seconds),
    latency_ms: {
      p50: round(percentile(latencies, 50)),
      p90: round(percentile(latencies, 90)),
      p99: round(percentile(latencies, 99)),
      max: round(latencies.at(-1) ?? 0),
    },
  });
}

function report(kind: string, quiet: boolean, result: LevelResult): LevelResult {
  if (quiet) return result;
  totalErrors += result.errors;
  process.stderr.write(
    `${kind.padEnd(7)} c=${String(result.concurrency).padStart(4)}: ${result.actions_per_second} actions/s, p50 ${result.latency_ms.p50} ms, p99 ${result.latency_ms.p99} ms, ${result.cpu_us_per_action} µs CPU/action, errors ${result.errors}\n`,
  );
  return result;
}

/**
 * The HTTP side of one level, driven by autocannon (its HTTP client costs far less CPU than
 * node:http's, which matters when client and daemon share the cores): one connection per
 * session stream, each running POST /v1/sessions, `actions` × POST /v1/sessions/:id/actions,
 * DELETE /v1/sessions/:id. Latency percentiles are autocannon's, over every request.
 *
 * The level ends at its last response, as the library side ends when its last stream does:
 * autocannon itself notices that `amount` is reached only on its next sampling tick (once a
 * second by default), so its own duration rounds every run up to a whole second.
 */
async function runHttpLevel(
  base: URL,
  daemonPid: number,
  concurrency: number,
  actions: number,
  quiet = false,
): Promise<LevelResult> {
  let failedActions = 0;
  let lastResponseAt = 0;
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  const requests: autocannon.Request[] = [
    {
      method: 'POST',
      path: '/v1/sessions',
      headers,
      setupRequest: (req, context) => ({ ...req, body: JSON.stringify(sessionBody(Number(context.n ?? 0))) }),
      onResponse: (status, body, context) => {
        lastResponseAt = performance.now();
        if (status === 201) context.sid = (JSON.parse(body) as { session_id: string }).session_id;
      },
    },
    ...Array.from(
      { length: actions },
      (_, k): autocannon.Request => ({
        method: 'POST',
        headers,
        // No session (its create failed): skip the rest of this stream's requests.
        setupRequest: (req, context) =>
          context.sid
            ? {
                ...req,
                path: `/v1/sessions/${context.sid}/actions`,
                body: JSON.stringify([{ name: 'echo', params: { message: `a${k}` } }]),
              }
            : (undefined as unknown as autocannon.Request),
        onResponse: (status, body) => {
          lastResponseAt = performance.now();
          if (status !== 200 || !body.includes('"success":true')) failedActions++;
        },
      }),
    ),
    {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}` },
      setupRequest: (req, context) =>
        context.sid
          ? { ...req, path: `/v1/sessions/${context.sid}` }
          : (undefined as unknown as autocannon.Request),
      onResponse: () => {
        lastResponseAt = performance.now();
      },
    },
  ];
  const started = performance.now();
  const cpu0 = ownCpuSeconds() + (await processCpuSeconds(daemonPid));
  const instance = autocannon({
    url: base.origin,
    connections: concurrency,
    pipelining: 1,
    amount: concurrency * requests.length,
    timeout: 120,
    // Sample often so the instance resolves soon after the last response (see above).
    sampleInt: 20,
    requests,
  });
  if (!quiet)
    autocannon.track(instance, {
      outputStream: process.stderr,
      renderResultsTable: false,
      renderLatencyTable: false,
    });
  const result = await instance;
  const seconds = ((lastResponseAt || performance.now()) - started) / 1000;
  const cpuSeconds = ownCpuSeconds() + (await processCpuSeconds(daemonPid)) - cpu0;
  const done = result.requests.total;
  const streams = concurrency * requests.length;
  // Every request that did not happen, failed, or answered an error counts.
  const errors =
    failedActions + result.errors + result.timeouts + result.non2xx + Math.max(0, streams - done);
  return report('http', quiet, {
    cpu_us_per_action: Math.round((cpuSeconds * 1e6) / (concurrency * actions)),
    concurrency,
    actions: concurrency * actions,
    errors,
    seconds: round(seconds, 3),
    actions_per_second: Math.round((concurrency * actions) / seconds),
    latency_ms: {
      p50: round(result.latency.p50),
      p90: round(result.latency.p90),
      p99: round(result.latency.p99),
      max: round(result.latency.max),
    },
  });
}

// Each action request is one iteration of its session: lift max_iterations (default 10) above the chain.
const sessionBody = (i: number) => ({
  org_id: ORG,
  user_id: `user-${i}`,
  agent_id: 'load-agent',
  tools: ['echo'],
  policy: { max_iterations: ACTIONS + 10 },
});

/**
 * The HTTP side as a Driver: each stream gets its own keep-alive connection (as a client per
 * session would), opened by create and closed by cancel.
 */
function httpDriver(base: URL): Driver {
  const connections = new Map<string, HttpConnection>();
  const headers = { Authorization: `Bearer ${TOKEN}` };
  return {
    async create(i) {
      const conn = await HttpConnection.open(base, headers);
      try {
        const res = await conn.request('POST', '/v1/sessions', JSON.stringify(sessionBody(i)));
        if (res.status !== 201) throw new Error(`POST /v1/sessions answered ${res.status}: ${res.body}`);
        const id = (JSON.parse(res.body) as { session_id: string }).session_id;
        connections.set(id, conn);
        return id;
      } catch (err) {
        conn.close();
        throw err;
      }
    },
    async execute(id, message) {
      const res = await connections
        .get(id)!
        .request(
          'POST',
          `/v1/sessions/${id}/actions`,
          JSON.stringify([{ name: 'echo', params: { message } }]),
        );
      return res.status === 200 && res.body.includes('"success":true');
    },
    async cancel(id) {
      const conn = connections.get(id)!;
      connections.delete(id);
      try {
        const res = await conn.request('DELETE', `/v1/sessions/${id}`);
        if (res.status !== 200) throw new Error(`DELETE answered ${res.status}: ${res.body}`);
      } finally {
        conn.close();
      }
    },
  };
}

function libraryDriver(runtime: ReturnType<typeof createRuntime>): Driver {
  const sessions = new Map<string, Awaited<ReturnType<typeof runtime.createSession>>>();
  return {
    async create(i) {
      const s = await runtime.createSession(sessionBody(i));
      sessions.set(s.id, s);
      return s.id;
    },
    async execute(id, message) {
      const r = await sessions.get(id)!.execute({ name: 'echo', params: { message } });
      return r.success;
    },
    async cancel(id) {
      await sessions.get(id)!.cancel();
      sessions.delete(id);
    },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function startDaemon(env: Record<string, string>): Promise<{ proc: ChildProcess; api: URL }> {
  const [httpPort, adminPort] = [await freePort(), await freePort()];
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env, HTTP_PORT: String(httpPort), ADMIN_PORT: String(adminPort) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`the daemon exited with ${proc.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${adminPort}/health`)).ok)
        return { proc, api: new URL(`http://127.0.0.1:${httpPort}`) };
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  throw new Error('the daemon did not start within 30 s');
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'semibot-load-'));
  // One configuration for both sides: file audit store, 100 ms flushes, no rate limit in the way.
  const env = (name: string): Record<string, string> => ({
    ENVIRONMENT: 'test',
    LOG_LEVEL: 'warn',
    AUDIT_STORAGE_TYPE: 'file',
    AUDIT_LOG_DIR: path.join(tmp, name, 'audit'),
    AUDIT_FLUSH_INTERVAL: '0.1',
    SANDBOX_DIR: path.join(tmp, name, 'sandbox'),
    RUNTIME_MAX_SESSIONS: String(Math.max(20_000, SESSIONS * 4)),
    RATE_LIMIT_MAX: '1000000000',
    API_TOKENS: `${TOKEN}=${ORG}`,
  });
  process.stderr.write(
    `load: levels ${LEVELS.join(', ')} sessions × ${ACTIONS} echo actions; ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'})\n`,
  );
  const library: LevelResult[] = [];
  const httpResults: LevelResult[] = [];
  // Both sides are up together and each level runs library, then HTTP, ROUNDS times over; the
  // best round of each counts. Interleaving keeps a noisy neighbour on a shared machine from
  // landing on one side only.
  const runtime = createRuntime({}, { env: env('library') });
  let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
  try {
    await runtime.start();
    daemon = await startDaemon(env('http'));
    const lib = libraryDriver(runtime);
    const { api, proc } = daemon;
    const http = httpDriver(api);
    const daemonCpu = () => processCpuSeconds(proc.pid!);
    const runHttp = (level: number, quiet = false) =>
      values.client === 'autocannon'
        ? runHttpLevel(api, proc.pid!, level, ACTIONS, quiet)
        : runLevel('http', http, level, ACTIONS, quiet, daemonCpu);
    // Warm-up (not recorded): JIT, tsx's first compiles, fastify's route caches. A cold daemon
    // measured here ran at a third of its warm speed.
    for (let i = 0; i < 2; i++) {
      await runLevel('library', lib, 100, ACTIONS, true);
      await runHttp(100, true);
    }
    const best = (a: LevelResult | undefined, b: LevelResult) =>
      a && a.actions_per_second >= b.actions_per_second ? a : b;
    for (const level of LEVELS) {
      let l: LevelResult | undefined;
      let h: LevelResult | undefined;
      for (let round = 0; round < ROUNDS; round++) {
        l = best(l, await runLevel('library', lib, level, ACTIONS));
        h = best(h, await runHttp(level));
      }
      library.push(l!);
      httpResults.push(h!);
    }
  } finally {
    await runtime.stop();
    if (daemon) {
      daemon.proc.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => daemon!.proc.once('exit', resolve));
      if (code !== 0) process.stderr.write(`load: the daemon exited with ${code} after SIGTERM\n`);
    }
    await rm(tmp, { recursive: true, force: true });
  }

  const top = (list: LevelResult[]) => list.find((r) => r.concurrency === SESSIONS) ?? list.at(-1)!;
  const ratio = top(httpResults).actions_per_second / top(library).actions_per_second;
  const errors = totalErrors;
  const summary = {
    name: 'http-load',
    date: new Date().toISOString(),
    node: process.version,
    cores: availableParallelism(),
    sessions: SESSIONS,
    actions_per_session: ACTIONS,
    levels: LEVELS,
    rounds_per_level: ROUNDS,
    http_client: values.client,
    total_errors: errors,
    library,
    http: httpResults,
    http_vs_library_throughput_ratio: round(ratio, 3),
    /** CPU per action of the library run over the HTTP run (client + daemon): efficiency, less sensitive to a busy machine */
    library_vs_http_cpu_per_action_ratio: round(
      top(library).cpu_us_per_action / top(httpResults).cpu_us_per_action,
      3,
    ),
    load_average_at_end: loadavg().map((v) => round(v, 2)),
    bar: {
      zero_errors: errors === 0,
      http_at_least_half_of_library: ratio >= 0.5,
      passed: errors === 0 && ratio >= 0.5,
    },
    reproduce: `npm run load -- --sessions ${SESSIONS} --actions ${ACTIONS} --levels ${LEVELS.join(',')} --rounds ${ROUNDS}${values.client === 'autocannon' ? '' : ` --client ${values.client}`}`,
  };
  await mkdir(values.out!, { recursive: true });
  await writeFile(path.join(values.out!, 'http-load.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const pts = (list: LevelResult[], f: (r: LevelResult) => number) =>
    list.map((r) => [r.concurrency, f(r)] as [number, number]);
  const svg = renderChart(
    [
      {
        title: 'Action throughput',
        yLabel: 'actions per second',
        series: [
          { label: 'library API', color: '#1f77b4', points: pts(library, (r) => r.actions_per_second) },
          { label: 'HTTP API', color: '#d62728', points: pts(httpResults, (r) => r.actions_per_second) },
        ],
      },
      {
        title: 'Action latency',
        yLabel: 'milliseconds',
        series: [
          { label: 'HTTP p50', color: '#d62728', points: pts(httpResults, (r) => r.latency_ms.p50) },
          {
            label: 'HTTP p99',
            color: '#d62728',
            dashed: true,
            points: pts(httpResults, (r) => r.latency_ms.p99),
          },
          { label: 'library p50', color: '#1f77b4', points: pts(library, (r) => r.latency_ms.p50) },
          {
            label: 'library p99',
            color: '#1f77b4',
            dashed: true,
            points: pts(library, (r) => r.latency_ms.p99),
          },
        ],
      },
    ],
    LEVELS,
    `${ACTIONS} echo actions per session, ${availableParallelism()} cores, ${process.version}; HTTP/library throughput at ${top(httpResults).concurrency} sessions: ${round(ratio * 100, 1)}%`,
  );
  await writeFile(path.join(values.out!, 'http-load.svg'), svg);
  process.stderr.write(
    `load: HTTP/library throughput at ${top(httpResults).concurrency} sessions = ${round(ratio * 100, 1)}%, errors ${errors}; ` +
      `wrote ${path.relative(ROOT, path.join(values.out!, 'http-load.json'))} and http-load.svg\n`,
  );
  process.exitCode = summary.bar.passed ? 0 : 1;
}

await main();
