/** The pino root logger and its children (one per actor, with session ids where known). */
import { pino, type Logger, type DestinationStream } from 'pino';
import type { Config } from '../config/schema.ts';

export type { Logger };

export function createLogger(config: Pick<Config, 'log_level'>, destination?: DestinationStream): Logger {
  // stderr by default: stdout belongs to command output (`run --json` prints events there).
  return pino({ level: config.log_level, base: { service: 'semibot-runtime' } }, destination ?? pino.destination(2));
}

export interface DaemonLogger {
  logger: Logger;
  /** reopens the log files (logrotate renamed them and sent SIGHUP) */
  reopen(): void;
  /** writes out anything buffered (before exit) */
  flush(): void;
}

/**
 * The daemon's logger: the application log file (every line at log_level and above) and the
 * error log file (error and fatal only) when configured, else stderr. Files are appended to
 * synchronously (the daemon logs lifecycle and failures, not every request), and reopen()
 * opens them again by name, so logrotate's rename-then-SIGHUP starts fresh files.
 */
export function createDaemonLogger(config: Pick<Config, 'log_level' | 'server'>): DaemonLogger {
  const files = [config.server.log_file, config.server.error_log_file].filter((f): f is string => Boolean(f));
  if (files.length === 0) {
    return { logger: createLogger(config), reopen() {}, flush() {} };
  }
  const open = (dest: string) => pino.destination({ dest, sync: true, mkdir: true, append: true });
  const app = config.server.log_file ? open(config.server.log_file) : pino.destination(2);
  const streams: Array<{ level: string; stream: DestinationStream }> = [{ level: 'trace', stream: app }];
  const errors = config.server.error_log_file ? open(config.server.error_log_file) : undefined;
  if (errors) streams.push({ level: 'error', stream: errors });
  const logger = pino(
    { level: config.log_level, base: { service: 'semibot-runtime' } },
    pino.multistream(streams),
  );
  const reopenable = [config.server.log_file ? app : undefined, errors].filter((s) => s !== undefined);
  return {
    logger,
    reopen: () => {
      for (const s of reopenable) s.reopen();
    },
    flush: () => {
      for (const s of reopenable) s.flushSync();
    },
  };
}
