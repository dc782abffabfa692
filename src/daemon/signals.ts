/**
 * Process signals of `semibot-runtime serve`:
 *   SIGTERM / SIGINT  first: graceful stop (Daemon.stop), exit 0 when it completes;
 *                     second: exit at once (code 1), whatever is still running;
 *   SIGHUP            reopen the log files (logrotate's rename-and-signal), and read POLICY_DIR
 *                     again when it is set (a bad policy set is refused, the old one kept).
 * And a backstop for the trust boundary (issue 15): an exception or rejection nobody handled is
 * logged with its stack and the daemon keeps serving. Request data is bounded where it enters
 * (src/json-limits.ts) and an unencodable message fails only its own ask, so this is only for
 * what those miss: one request must never end every other org's sessions.
 * A backstop timer exits with code 1 if a graceful stop takes longer than the drain timeout
 * plus FORCE_EXIT_GRACE_MS (for the audit flush and closing the listeners).
 */
import type { Daemon } from './daemon.ts';

export const FORCE_EXIT_GRACE_MS = 30_000;

export function installSignalHandlers(
  daemon: Daemon,
  exit: (code: number) => void = (code) => process.exit(code),
): () => void {
  let stopping = false;
  const onStop = (signal: NodeJS.Signals) => {
    if (stopping) {
      daemon.log.warn({ signal }, 'second stop signal: exiting now');
      exit(1);
      return;
    }
    stopping = true;
    daemon.log.info({ signal }, 'stop signal: shutting down gracefully');
    const backstopMs = daemon.config.server.drain_timeout_seconds * 1000 + FORCE_EXIT_GRACE_MS;
    const backstop = setTimeout(() => {
      daemon.log.fatal({ backstop_ms: backstopMs }, 'graceful stop took too long: exiting');
      exit(1);
    }, backstopMs);
    backstop.unref();
    daemon.stop().then(
      () => {
        clearTimeout(backstop);
        exit(0);
      },
      (err: unknown) => {
        daemon.log.fatal({ err }, 'graceful stop failed');
        exit(1);
      },
    );
  };
  const onHup = () => {
    daemon.reopenLogs();
    void daemon.reloadPolicies();
  };
  const onUncaught = (err: unknown, origin: string) =>
    daemon.log.error({ err, origin }, 'an exception nobody handled reached the process; still serving');
  const onUnhandled = (err: unknown) => onUncaught(err, 'unhandledRejection');
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUnhandled);
  return () => {
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onHup);
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUnhandled);
  };
}
