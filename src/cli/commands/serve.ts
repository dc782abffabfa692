/**
 * semibot-runtime serve: the daemon (HTTP API, admin listener) until SIGTERM.
 */
import { Daemon } from '../../daemon/daemon.ts';
import { installSignalHandlers } from '../../daemon/signals.ts';
import { type Command, UsageError } from '../command.ts';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the daemon: HTTP API (HTTP_PORT) and admin listener (ADMIN_PORT)',
  help: `Usage: semibot-runtime serve

Starts the runtime, the HTTP API on HOST:HTTP_PORT (default 127.0.0.1:8000) and the admin
listener on HOST:ADMIN_PORT (default 8901: /health, /version, /metrics), and runs until stopped.

Configuration: environment variables (and ENV_FILE) over config/<ENVIRONMENT>.yaml, e.g.
  API_TOKENS=tok1=org_a,tok2=org_b   or API_TOKENS_FILE=/etc/semibot-runtime/tokens
  LOG_LEVEL, LOG_FILE, ERROR_LOG_FILE, AUDIT_STORAGE_TYPE, DATABASE_URL,
  DRAIN_TIMEOUT_SECONDS (30), RATE_LIMIT_MAX (6000) per RATE_LIMIT_WINDOW_SECONDS (60),
  BODY_LIMIT (1MB), TRUST_PROXY (loopback behind a local nginx).

Signals:
  SIGTERM, SIGINT  stop gracefully: /health turns 503, no new sessions, running actions may
                   finish for DRAIN_TIMEOUT_SECONDS, the audit trail is flushed, exit 0.
                   A second SIGTERM exits at once (code 1).
  SIGHUP           reopen LOG_FILE and ERROR_LOG_FILE (for logrotate).`,

  async run(argv) {
    if (argv.length > 0) throw new UsageError(`serve takes no arguments (got ${argv.join(' ')})`);
    const daemon = new Daemon();
    await daemon.start();
    // The process exits from the signal handler once the graceful stop completes.
    await new Promise<never>(() => {
      installSignalHandlers(daemon, (code) => process.exit(code));
    });
    return 0;
  },
};
