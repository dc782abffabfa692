import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sleepTool } from '../../../../src/capabilities/tools/sleep.ts';
import { makeSandbox, type TempSandbox } from './tool-context.ts';

describe('sleep', () => {
  let sandbox: TempSandbox;
  beforeEach(async () => {
    sandbox = await makeSandbox();
    vi.useFakeTimers();
  });
  afterEach(async () => {
    vi.useRealTimers();
    await sandbox.cleanup();
  });

  it('resolves with slept_ms once the time has passed', async () => {
    const done = sleepTool.run({ ms: 5_000 }, sandbox.ctx());
    await vi.advanceTimersByTimeAsync(5_000);
    await expect(done).resolves.toEqual({ slept_ms: 5_000 });
  });

  it('rejects with action_cancelled as soon as the signal aborts, and clears its timer', async () => {
    const controller = new AbortController();
    // 1. start an hour-long sleep
    const done = sleepTool.run({ ms: 3_600_000 }, sandbox.ctx({ signal: controller.signal }));
    expect(vi.getTimerCount()).toBe(1);
    // 2. abort long before it would end
    await vi.advanceTimersByTimeAsync(10);
    controller.abort(new Error('session cancelled'));
    // 3. it rejects at once and leaves no timer behind
    await expect(done).rejects.toMatchObject({ code: 'action_cancelled' });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      sleepTool.run({ ms: 1_000 }, sandbox.ctx({ signal: controller.signal })),
    ).rejects.toMatchObject({
      code: 'action_cancelled',
    });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses ms outside 0..3_600_000 or not an integer', async () => {
    for (const ms of [-1, 3_600_001, 1.5, '10', undefined]) {
      await expect(sleepTool.run({ ms }, sandbox.ctx())).rejects.toMatchObject({ code: 'invalid_params' });
    }
  });
});
