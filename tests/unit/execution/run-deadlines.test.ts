/**
 * One timer for a session's action deadlines: each run fails with action_timeout once its own
 * time is up (never before), in the order the runs started; a run that ended is never failed;
 * stop() ends it all. The checks are on order and lower bounds, not on how late a timer fires.
 */
import { describe, expect, it } from 'vitest';
import { ActionRun } from '../../../src/execution/action-run.ts';
import { RunDeadlines } from '../../../src/execution/run-deadlines.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Failure {
  name: string;
  message: string;
  /** ms between the run's start and its failure */
  after: number;
}

/** A session's running actions, with their one deadline timer. */
function session(timeoutMs: number): { runs: Set<ActionRun>; deadlines: RunDeadlines } {
  const runs = new Set<ActionRun>();
  return { runs, deadlines: new RunDeadlines(timeoutMs, runs) };
}

function watched(s: ReturnType<typeof session>, name: string, failures: Failure[]): ActionRun {
  const run = new ActionRun(name);
  run.onCancel((reason) =>
    failures.push({ name, message: (reason as Error).message, after: performance.now() - run.startedAt }),
  );
  s.runs.add(run);
  s.deadlines.watch();
  return run;
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await sleep(10);
}

describe('RunDeadlines', () => {
  it('fails each run once its own time is up, oldest first, and spares runs that ended', async () => {
    const s = session(60);
    const failures: Failure[] = [];
    const first = watched(s, 'first', failures);
    await sleep(30);
    const ended = watched(s, 'ended', failures);
    const second = watched(s, 'second', failures);
    s.runs.delete(ended);
    await until(() => failures.length >= 2);
    await sleep(100);
    expect(failures.map((f) => [f.name, f.message])).toEqual([
      ['first', 'first exceeded 0.06 s'],
      ['second', 'second exceeded 0.06 s'],
    ]);
    // The timer set for `first` did not take `second`, which started 30 ms later.
    for (const f of failures) expect(f.after).toBeGreaterThanOrEqual(60);
    await expect(first.race(new Promise(() => {}))).rejects.toMatchObject({ code: 'action_timeout' });
    await expect(second.race(Promise.resolve('late'))).rejects.toMatchObject({ code: 'action_timeout' });
  });

  it('sets its timer again for a run that started after the one it was set for ended', async () => {
    const s = session(50);
    const failures: Failure[] = [];
    const early = watched(s, 'early', failures);
    await sleep(25);
    watched(s, 'late', failures);
    s.runs.delete(early);
    await until(() => failures.length >= 1);
    expect(failures.map((f) => f.name)).toEqual(['late']);
    expect(failures[0]!.after).toBeGreaterThanOrEqual(50);
  });

  it('fails nothing once stopped', async () => {
    const s = session(10);
    const failures: Failure[] = [];
    watched(s, 'a', failures);
    s.deadlines.stop();
    await sleep(50);
    expect(failures).toEqual([]);
  });
});
