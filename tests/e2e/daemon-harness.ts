/**
 * Runs `semibot-runtime serve` as a child process, as systemd would: configuration through
 * environment variables, ports chosen free beforehand (the contract has no "port 0").
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from '../helpers/net.ts';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');


export interface DaemonProcess {
  proc: ChildProcess;
  api: string;
  admin: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** kills it if still running (test cleanup) */
  kill(): void;
}

/** How often a start is tried again when a port picked free was taken meanwhile (tests run in parallel). */
const PORT_RACE_ATTEMPTS = 3;

export async function startDaemon(env: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<DaemonProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDaemonOnce(env, options);
    } catch (err) {
      if (attempt >= PORT_RACE_ATTEMPTS || !/EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
}

async function startDaemonOnce(
  env: Record<string, string>,
  { timeoutMs = 60_000 } = {},
): Promise<DaemonProcess> {
  const [httpPort, adminPort] = [await freePort(), await freePort()];
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      ENVIRONMENT: 'test',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      ADMIN_PORT: String(adminPort),
      RUNTIME_WORKERS: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => {
    out += d;
  });
  proc.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const admin = `http://127.0.0.1:${adminPort}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null)
      throw new Error(`the daemon exited (${proc.exitCode}) while starting:\n${out}`);
    try {
      if ((await fetch(`${admin}/health`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`the daemon did not become healthy within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc,
    api: `http://127.0.0.1:${httpPort}`,
    admin,
    output: () => out,
    exited,
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

/** fetch + JSON, with the bearer token. */
export async function call<T = Record<string, unknown>>(
  base: string,
  token: string,
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T };
}

export async function waitFor<T>(
  probe: () => Promise<T>,
  done: (v: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}
