/** The daemon's signal handling: first SIGTERM stops gracefully (exit 0), a second forces exit 1, SIGHUP reopens logs. */
import { afterEach, describe, expect, it } from 'vitest';
import type { Daemon } from '../../../src/daemon/daemon.ts';
import { installSignalHandlers } from '../../../src/daemon/signals.ts';
import { createLogger } from '../../../src/log.ts';

let uninstall: (() => void) | undefined;
afterEach(() => uninstall?.());

function fakeDaemon() {
  let finish: () => void = () => {};
  const calls = { stop: 0, reopen: 0, reloadPolicies: 0 };
  const daemon = {
    log: createLogger({ log_level: 'silent' }),
    config: { server: { drain_timeout_seconds: 30 } },
    stop: () => {
      calls.stop++;
      return new Promise<void>((resolve) => {
        finish = resolve;
      });
    },
    reopenLogs: () => {
      calls.reopen++;
    },
    reloadPolicies: async () => {
      calls.reloadPolicies++;
    },
  };
  return { daemon: daemon as unknown as Daemon, calls, finish: () => finish() };
}

describe('signals', () => {
  it('SIGTERM stops once and exits 0 when the stop completes', async () => {
    const { daemon, calls, finish } = fakeDaemon();
    const exits: number[] = [];
    uninstall = installSignalHandlers(daemon, (code) => exits.push(code));
    process.emit('SIGTERM');
    expect(calls.stop).toBe(1);
    expect(exits).toEqual([]);
    finish();
    await new Promise((r) => setImmediate(r));
    expect(exits).toEqual([0]);
  });

  it('a second SIGTERM (or SIGINT) during the stop exits 1 at once', () => {
    const { daemon, calls } = fakeDaemon();
    const exits: number[] = [];
    uninstall = installSignalHandlers(daemon, (code) => exits.push(code));
    process.emit('SIGTERM');
    process.emit('SIGINT');
    expect(calls.stop).toBe(1);
    expect(exits).toEqual([1]);
  });

  it('SIGHUP reopens the log files, reads the policies again, and does not stop anything', () => {
    const { daemon, calls } = fakeDaemon();
    const exits: number[] = [];
    uninstall = installSignalHandlers(daemon, (code) => exits.push(code));
    process.emit('SIGHUP');
    process.emit('SIGHUP');
    expect(calls).toEqual({ stop: 0, reopen: 2, reloadPolicies: 2 });
    expect(exits).toEqual([]);
  });
});
