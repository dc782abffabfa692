/**
 * Stops and starts the local PostgreSQL server for the fault suite (pg_ctlcluster, the
 * version found under /etc/postgresql). Only for servers on this machine: with DATABASE_URL
 * pointing elsewhere, the tests that need this are skipped.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { BASE_URL } from '../integration/postgres/pg-test-db.ts';

const run = promisify(execFile);

function version(): string | undefined {
  if (!existsSync('/etc/postgresql')) return undefined;
  return readdirSync('/etc/postgresql').sort().at(-1);
}

/** True when the server is on loopback and pg_ctlcluster can stop and start it. */
export function canControlServer(): boolean {
  const host = new URL(BASE_URL).hostname;
  return (host === '127.0.0.1' || host === 'localhost') && version() !== undefined;
}

async function ctl(action: 'stop' | 'start'): Promise<void> {
  const args = ['--skip-systemctl-redirect', version()!, 'main', action];
  if (action === 'stop') args.push('--', '-m', 'fast');
  await run('pg_ctlcluster', args).catch((err: { stderr?: string }) => {
    // "already running" / "not running" are what we want anyway.
    const text = `${err.stderr ?? ''} ${(err as { stdout?: string }).stdout ?? ''}`;
    if (!/already running|not running/i.test(text)) throw err;
  });
}

export async function isReady(): Promise<boolean> {
  const u = new URL(BASE_URL);
  return run('pg_isready', ['-h', u.hostname, '-p', u.port || '5432', '-q']).then(
    () => true,
    () => false,
  );
}

export async function stopServer(): Promise<void> {
  await ctl('stop');
}

/** Starts the server and waits until it accepts connections. */
export async function startServer(): Promise<void> {
  await ctl('start');
  for (let i = 0; i < 60; i++) {
    if (await isReady()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('PostgreSQL did not come back within 30 s');
}
