/**
 * The PostgreSQL pool. DATABASE_POOL_SIZE connections are kept; up to DATABASE_MAX_OVERFLOW
 * more are opened under load and closed again after OVERFLOW_IDLE_MS idle (the pool_size /
 * max_overflow meaning of the deployment guide, mapped onto pg-pool's min / max).
 *
 * Every pool and every client gets an `error` listener: an unhandled `error` event on either
 * (a backend killed, the server restarted) would crash the whole process.
 */
import pg from 'pg';
import type { Config } from '../../config/schema.ts';
import { RuntimeError } from '../errors.ts';

const OVERFLOW_IDLE_MS = 10_000;

export interface PoolOptions {
  connectionTimeoutMs?: number;
  /** told about errors of idle clients (they are already removed from the pool) */
  onError?: (err: Error) => void;
  applicationName?: string;
}

export function createPool(database: Config['database'], options: PoolOptions = {}): pg.Pool {
  if (!database.url) {
    throw new RuntimeError(
      'audit_unavailable',
      'DATABASE_URL is not set (the database audit store needs it)',
    );
  }
  const pool = new pg.Pool({
    connectionString: database.url,
    min: database.pool_size,
    max: database.pool_size + database.max_overflow,
    idleTimeoutMillis: OVERFLOW_IDLE_MS,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    application_name: options.applicationName ?? 'semibot-runtime',
    // Keep-alive so a peer that vanished without a FIN is noticed by the OS, not only by us.
    keepAlive: true,
  });
  const onError = options.onError ?? (() => {});
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', onError));
  return pool;
}

/** Connection parameters for a maintenance connection to another database of the same server. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}
